"""Shared fixtures: a real engine on a fresh SQLite file, and on PostgreSQL when it is configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Database, Engine, FakeClock
from engine.handlers import HandlerRegistry
from engine.spiff.runner import Runner

PG_URL = os.environ.get("FLOWDESK_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL is None and os.environ.get("CI") == "true":
        raise pytest.UsageError(
            "CI=true but FLOWDESK_TEST_POSTGRES_URL is not set: PostgreSQL tests would be skipped"
        )


@pytest.fixture(scope="session", autouse=True)
def verified_stored_state() -> Iterator[None]:
    """Every test checks every state the engine stores from kept task texts against a full dump,
    and every workflow kept in memory against the stored state it is reused for."""
    Runner.verify_state = True
    yield
    Runner.verify_state = False


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A database of our own on the configured server, dropped at the end."""
    if PG_URL is None:
        pytest.skip("FLOWDESK_TEST_POSTGRES_URL is not set")
    name = f"flowdesk_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgres(url: str) -> Database:
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    return database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'flowdesk.sqlite'}"
    return str(request.getfixturevalue("postgres_server_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def handlers() -> HandlerRegistry:
    """The test's own handler registry: register into it before deploying."""
    return HandlerRegistry()


@pytest.fixture
def engine(db_url: str, clock: FakeClock, handlers: HandlerRegistry) -> Iterator[Engine]:
    database = _fresh_postgres(db_url) if db_url.startswith("postgresql") else Database(db_url)
    eng = Engine(database, clock=clock, handlers=handlers)
    yield eng
    eng.close()
