"""Exactly-once effects: each handler execution's result is stored under its idempotency key.

The row is written through ``ctx.session``, in the same transaction as the effect and the engine's
step: both commit, or neither does. A second call with the same key (a retry that reaches the
handler again in a transaction that can see the first one's commit) replays the stored result
instead of doing the work twice. Natural keys (one reservation per order line, one invoice per
order, one customer per e-mail) guard what the key cannot, e.g. a new execution of the task.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.handlers import HandlerContext
from engine.varcodec import dumps, loads
from handlers.base import Base

Result = dict[str, Any]


class HandlerEffect(Base):
    __tablename__ = "handler_effects"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    handler: Mapped[str] = mapped_column(String(100))
    # The returned variables in the engine's stored form: a replay gives back Decimals and dates.
    result: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


def stored_result(session: Session, key: str) -> Result | None:
    effect = session.get(HandlerEffect, key)
    if effect is None:
        return None
    decoded: Result = loads(effect.result)
    return decoded


def once(ctx: HandlerContext, name: str, work: Callable[[], Result]) -> Result:
    """Run ``work`` unless this execution already did; store and return its result."""
    replay = stored_result(ctx.session, ctx.idempotency_key)
    if replay is not None:
        ctx.log.info("replaying the stored result of %s for %s", name, ctx.idempotency_key)
        return replay
    result = work()
    ctx.session.add(
        HandlerEffect(
            idempotency_key=ctx.idempotency_key,
            handler=name,
            result=dumps(result, name=name),
            created_at=datetime.now(UTC),
        )
    )
    ctx.session.flush()
    return result


def effects_of(session: Session, name: str) -> list[str]:
    """The idempotency keys stored for handler ``name`` (for tests and diagnosis)."""
    return list(session.scalars(select(HandlerEffect.idempotency_key).where(HandlerEffect.handler == name)))
