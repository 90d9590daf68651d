"""Background WAL checkpoints for a SQLite file database.

In WAL mode SQLite appends every commit to the write-ahead log and, by default, copies the log back
into the database file (a checkpoint, with its fsync) inside whichever commit pushes the log past
1,000 pages. That commit, an ordinary task completion, then takes several times longer than the
others: on this project's benchmark machine checkpoints were a quarter of the wall time of a
straight-through start. Here a thread of the engine's own process checkpoints instead, every
``interval`` seconds, on a connection of its own, in PASSIVE mode (it never waits for, nor blocks,
readers and writers). The commits' own automatic checkpoint stays as a safety net at a higher
threshold, so the log stays bounded even if this thread falls behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("flowdesk.db.checkpoint")

# Pages (4 KB each): the log may grow to ~40 MB before a commit checkpoints by itself.
SAFETY_NET_PAGES = 10_000
DEFAULT_INTERVAL_SECONDS = 0.5


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on ``path`` every ``interval`` seconds until stopped."""

    def __init__(self, path: str, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"flowdesk-checkpoint:{path}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def checkpoint_once(self, connection: sqlite3.Connection) -> None:
        busy, log_pages, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if log_pages > 0 and not busy:
            self.checkpoints += 1

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if connection is None:
                        # Its own connection, outside the engine's pool: statement listeners and
                        # pool sizes never see it.
                        connection = sqlite3.connect(self.path, timeout=1, check_same_thread=False)
                    self.checkpoint_once(connection)
                except sqlite3.Error as err:
                    # A busy or vanished database: the commits' own checkpoint still bounds the log.
                    log.debug("checkpoint of %s skipped: %s", self.path, err)
        finally:
            if connection is not None:
                connection.close()
