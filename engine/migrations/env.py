"""Alembic environment: runs on the connection Flowdesk hands over (see engine.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from engine.db import models  # noqa: F401  (registers the tables on Base.metadata)
from engine.db.base import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Only used by `alembic revision --autogenerate` during development.
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.connect() as connection:
            _run(connection)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table.
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
