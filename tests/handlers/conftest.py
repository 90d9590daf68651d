"""Fixtures for the built-in handlers: an engine with every CRM/ERP handler and a stocked catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine import Engine
from engine.handlers import HandlerRegistry
from handlers.effects import HandlerEffect
from handlers.registry import builtin_registry
from tests.handlers.factories import stock_catalogue
from tests.helpers import bpmn


@pytest.fixture
def handlers() -> HandlerRegistry:
    """The shared ``engine`` fixture with the built-in handlers registered (and nothing else)."""
    return builtin_registry()


@pytest.fixture
def l2c(engine: Engine) -> Engine:
    """An engine with lead_to_cash deployed and the test catalogue in stock."""
    engine.deployments.deploy([bpmn("lead_to_cash.bpmn")])
    with engine.database.write() as session:
        stock_catalogue(session)
    return engine


class InjectedCrash(RuntimeError):
    """The process died after a handler's effect, before the engine's commit."""


@contextmanager
def crash_before_commit(handler: str) -> Iterator[list[str]]:
    """Fail the first commit of a transaction in which ``handler`` stored its effect.

    The exception comes from the commit itself, after every handler of the step ran and the
    engine flushed its state: exactly the moment a crash must not leave half an effect.
    """
    fired: list[str] = []

    def before_commit(session: Session) -> None:
        if fired:
            return
        # The transaction's own, uncommitted rows: the handler stored its effect in this transaction.
        keys = session.scalars(
            select(HandlerEffect.idempotency_key).where(HandlerEffect.handler == handler)
        ).all()
        if keys:
            fired.append(keys[0])
            raise InjectedCrash(f"injected crash after {handler} ({keys[0]})")

    event.listen(Session, "before_commit", before_commit)
    try:
        yield fired
    finally:
        event.remove(Session, "before_commit", before_commit)
