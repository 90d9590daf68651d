"""Fixtures of the worker tests: an engine on a fresh PostgreSQL schema, with the effects table."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from engine import Database, Engine
from tests.workers import effect_handlers


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "worker_processes: starts real `flowdesk worker` processes (select with -m worker_processes)",
    )


@pytest.fixture
def pg_engine(postgres_server_url: str) -> Iterator[Engine]:
    """An engine on an empty schema of the session's PostgreSQL database, able to deploy ``effects.*``."""
    database = Database(postgres_server_url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine = Engine(database, handlers=effect_handlers.registry())
    with database.engine.begin() as conn:
        effect_handlers.create_effects_table(conn)
    yield engine
    engine.close()
