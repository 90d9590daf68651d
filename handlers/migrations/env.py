"""Alembic environment of the handlers' tables: their own metadata and their own version table."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import handlers.crm.models
import handlers.effects
import handlers.erp.models  # noqa: F401  (registers the tables on Base.metadata)
from handlers.base import Base
from handlers.migrations import VERSION_TABLE

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table.
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Only used by `alembic revision --autogenerate` during development.
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.connect() as connection:
            _run(connection)
        return
    _run(connection)


run_migrations()
