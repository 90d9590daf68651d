"""Optimistic locking: retry an operation whose instance changed underneath it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.db.models import ProcessInstance
from engine.exceptions import ConcurrentModification

T = TypeVar("T")


def _is_retryable(err: BaseException) -> bool:
    if isinstance(err, StaleDataError):
        return True
    if isinstance(err, OperationalError):
        text = str(err.orig).lower() if err.orig is not None else ""
        # PostgreSQL serialization failures and deadlocks; SQLite busy after its own timeout.
        return any(s in text for s in ("could not serialize", "deadlock detected", "database is locked"))
    return False


def locked_instance(session: Session, is_sqlite: bool, instance_id: str | None) -> ProcessInstance | None:
    """The instance row, locked until the transaction ends (SQLite serializes writers itself)."""
    query = select(ProcessInstance).where(ProcessInstance.id == instance_id)
    if not is_sqlite:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def with_retries(
    operation: Callable[[], T], *, attempts: int = 5, what: str = "the process instance", **context: object
) -> T:
    """Run ``operation`` (a whole transaction) again when it lost an optimistic-locking race.

    The operation re-reads everything it needs, so a retry sees the winner's changes (for a task
    completed twice, the retry finds the task gone and says so).
    """
    for attempt in range(attempts):
        try:
            return operation()
        except (StaleDataError, OperationalError) as err:
            if not _is_retryable(err) or attempt == attempts - 1:
                if _is_retryable(err):
                    raise ConcurrentModification(
                        f"Someone else changed {what} at the same time, {attempts} times in a row; try again",
                        **context,
                    ) from err
                raise
            time.sleep(random.uniform(0.001, 0.01 * (2**attempt)))
    raise AssertionError("unreachable")
