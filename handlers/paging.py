"""For the CRM/ERP list pages: one page of a query's rows with the count of all, and status filters."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from handlers.exceptions import HandlerInputError

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


@dataclass(frozen=True)
class Slice(Generic[T]):
    """The rows from ``first`` on (at most ``max_results``) and how many rows match in all."""

    rows: list[T]
    total: int


def page_of(session: Session, query: Select[T], first: int, max_results: int) -> Slice[T]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.offset(first).limit(max_results)))
    return Slice(rows, int(total))


def status_filter(statuses: type[E], raw: str | None, what: str) -> E | None:
    """A status filter as a page sends it: empty means all; an unknown one says which exist."""
    if not raw:
        return None
    try:
        return statuses(raw)
    except ValueError as err:
        known = ", ".join(s.value for s in statuses)
        raise HandlerInputError(f"{what} {raw!r} is unknown; use one of {known}") from err
