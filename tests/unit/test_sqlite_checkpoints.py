"""A SQLite file database checkpoints its write-ahead log in the background, not inside commits."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from engine.db import Database
from engine.db.checkpoint import SAFETY_NET_PAGES


def _write_rows(database: Database, rows: int) -> None:
    with database.write() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)"))
    for i in range(rows):
        with database.write() as session:
            session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 500 + str(i)})


def test_the_log_is_checkpointed_by_the_background_thread(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'c.sqlite'}")
    try:
        assert database.checkpointer is not None
        _write_rows(database, 200)
        deadline = time.monotonic() + 10
        while database.checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert database.checkpointer.checkpoints >= 1
        with database.read() as session:
            # The commits' own checkpoint only runs past the safety net, far above what was written.
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == SAFETY_NET_PAGES
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 200
    finally:
        database.dispose()
    assert database.checkpointer is not None and not database.checkpointer._thread.is_alive()


def test_memory_databases_and_opted_out_files_have_no_checkpointer(tmp_path: Path) -> None:
    memory = Database("sqlite://")
    opted_out = Database(f"sqlite:///{tmp_path / 'o.sqlite'}", background_checkpoints=False)
    try:
        assert memory.checkpointer is None and opted_out.checkpointer is None
        _write_rows(opted_out, 3)
        with opted_out.read() as session:
            # SQLite's default threshold: commits checkpoint by themselves.
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        memory.dispose()
        opted_out.dispose()
