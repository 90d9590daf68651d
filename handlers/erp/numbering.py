"""Gapless document numbers: ``INV/2026/00001``, restarting each year, one series per document kind.

The counter row of (series, year) is locked (``SELECT ... FOR UPDATE``, as Frappe does) and
advanced in the transaction that posts the document. Concurrent postings queue on that row, so no
two get one number; a transaction that rolls back rolls its increment back with it, so no number
is burned. On SQLite the write transaction itself is the lock (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from handlers.erp.models import NumberSequence

INVOICE_SERIES = "INV"
CREDIT_NOTE_SERIES = "RINV"
DIGITS = 5


def format_number(series: str, year: int, number: int) -> str:
    return f"{series}/{year}/{number:0{DIGITS}d}"


def take_number(session: Session, series: str, year: int) -> int:
    """The next number of ``series`` in ``year``; held by this transaction until it ends."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # The first posting of a year creates the counter; a concurrent one finds it created.
    session.execute(
        insert(NumberSequence).values(series=series, year=year, next_number=1).on_conflict_do_nothing()
    )
    counter = session.scalars(
        select(NumberSequence)
        .where(NumberSequence.series == series, NumberSequence.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    number = counter.next_number
    counter.next_number = number + 1
    session.flush()
    return number


def next_document_number(session: Session, series: str, year: int) -> str:
    return format_number(series, year, take_number(session, series, year))
