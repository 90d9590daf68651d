"""Connections and transactions, with the backend-specific settings each one needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.db.checkpoint import SAFETY_NET_PAGES, Checkpointer

DEFAULT_SQLITE_BUSY_MS = 30_000
JOBS_CREATED = "flowdesk.jobs_created"
AFTER_COMMIT = "flowdesk.after_commit"


def mark_jobs_created(session: Session) -> None:
    """Wake job listeners (workers, long-polling requests) once this transaction commits."""
    session.info[JOBS_CREATED] = True


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Call ``callback`` once this transaction has ended with its work in the database: after a
    write transaction commits (never if it rolls back), after a read transaction ends."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class Database:
    """One database: an SQLAlchemy engine plus a session factory.

    ``write()`` opens a transaction that will change data. On SQLite it starts with
    ``BEGIN IMMEDIATE`` so that two writers queue on the database lock instead of failing late
    with "database is locked" when a read transaction tries to upgrade.
    """

    def __init__(self, url: str, *, echo: bool = False, background_checkpoints: bool = True) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # A file database checkpoints its write-ahead log in a thread of its own, not inside the
        # commit that happens to fill it (see engine.db.checkpoint).
        self.checkpointer: Checkpointer | None = None
        if self.is_sqlite and background_checkpoints and parsed.database not in (None, "", ":memory:"):
            self.checkpointer = Checkpointer(str(parsed.database))
        self.engine: Engine = self._create_engine(url, echo)
        if self.checkpointer is not None:
            self.checkpointer.start()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Called after a write transaction that created jobs commits (see ``mark_jobs_created``).
        self.job_listeners: list[Callable[[], None]] = []

    def _create_engine(self, url: str, echo: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
        parsed = make_url(url)
        memory = parsed.database in (None, "", ":memory:")
        if not memory and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, echo=echo, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not memory:
                # WAL lets readers run beside the writer; NORMAL sync is durable against
                # application crashes and costs one fsync per checkpoint, not per commit.
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                if self.checkpointer is not None:
                    cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={DEFAULT_SQLITE_BUSY_MS}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            if connection.get_execution_options().get("flowdesk_write"):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end."""
        with self._sessions() as session:
            try:
                yield session
                # Before the rollback, which expires what was read: a read changed nothing, so
                # what it read is still what is stored.
                for callback in session.info.pop(AFTER_COMMIT, ()):
                    callback()
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on any exception."""
        with self._sessions() as session:
            if self.is_sqlite:
                session.connection(execution_options={"flowdesk_write": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            for callback in session.info.pop(AFTER_COMMIT, ()):
                callback()
            if session.info.pop(JOBS_CREATED, False):
                for listener in list(self.job_listeners):
                    listener()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
