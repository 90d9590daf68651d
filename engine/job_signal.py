"""Waking whoever waits for jobs (long-polling fetches, workers) without polling the database.

Inside one process, ``Database.job_listeners`` fire after every commit that made jobs available;
``JobSignal`` turns that into a ``threading.Condition`` wake-up. A waiter reads ``generation``
before it looks for jobs and then waits for the generation to move on, so a job that arrives
between the look and the wait is never missed.

Across processes (several web servers, a CLI starting instances) PostgreSQL carries the news: the
same listener sends ``NOTIFY flowdesk_jobs``, and one thread per process and database ``LISTEN``s
and wakes the local waiters. The payload names the sending signal, so a process does not wake
itself twice. The thread starts with the first wait, so a process that only creates jobs holds no
extra connection. SQLite has no such channel: callers bound each wait (see ``recheck_seconds``)
and look again, which also covers jobs that become due by time (a retry timeout ending).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import Database

log = logging.getLogger("flowdesk.job_signal")

CHANNEL = "flowdesk_jobs"
# How long a waiter sleeps at most before it looks for jobs again: covers jobs that become due by
# time and, on SQLite, jobs created by another process.
DEFAULT_RECHECK_SECONDS = 5.0
_LISTEN_POLL_SECONDS = 0.5  # how quickly the listener thread notices close()
_MAX_RECONNECT_SECONDS = 30.0


class JobSignal:
    """A wake-up for threads that wait for jobs of one database; get it with ``signal_for``."""

    def __init__(
        self,
        database: Database,
        *,
        channel: str = CHANNEL,
        recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
    ) -> None:
        self.channel = channel
        self.recheck_seconds = recheck_seconds
        self.token = uuid.uuid4().hex  # the NOTIFY payload that marks our own notifications
        # Only a weak reference: the registry maps databases to signals weakly, and a strong one
        # here would keep every database alive.
        self._database = weakref.ref(database)
        self._postgres = not database.is_sqlite
        self._conninfo = _conninfo(database.url) if self._postgres else ""
        self._condition = threading.Condition()
        self._generation = 0
        self._closed = False
        self._listener: _Listener | None = None
        database.job_listeners.append(self.jobs_available)

    @property
    def generation(self) -> int:
        """Read it before looking for jobs; pass it to ``wait`` afterwards."""
        with self._condition:
            return self._generation

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def listening(self) -> bool:
        """True once this process receives other processes' notifications (always False on SQLite)."""
        return self._listener is not None and self._listener.ready.is_set()

    def jobs_available(self) -> None:
        """The job listener: wake local waiters and, on PostgreSQL, the other processes."""
        self.wake()
        if self._postgres:
            self._notify_others()

    def wake(self) -> None:
        """Wake the waiters of this process only."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, since: int, timeout: float) -> bool:
        """Block until the generation differs from ``since`` or ``timeout`` seconds pass.

        True when woken (jobs may be available: look again), False at the timeout or when closed.
        """
        self.listen()
        with self._condition:
            woken = self._condition.wait_for(
                lambda: self._generation != since or self._closed, timeout=max(timeout, 0.0)
            )
            return woken and not self._closed

    def listen(self, timeout: float | None = None) -> bool:
        """Start receiving other processes' notifications (PostgreSQL only); True when listening.

        With a ``timeout``, wait that long for the ``LISTEN`` to be in place (tests need this).
        """
        if not self._postgres or self._closed:
            return False
        with self._condition:
            listener = self._listener
            if listener is None:
                listener = self._listener = _Listener(
                    self._conninfo, self.channel, self.token, weakref.WeakMethod(self.wake)
                )
                weakref.finalize(self, listener.stop.set)
                listener.start()
        if timeout is not None:
            return listener.ready.wait(timeout)
        return listener.ready.is_set()

    def close(self) -> None:
        """Stop listening, release every waiter, and stop reacting to new jobs."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            listener, self._listener = self._listener, None
        database = self._database()
        if database is not None and self.jobs_available in database.job_listeners:
            database.job_listeners.remove(self.jobs_available)
        if listener is not None:
            listener.stop.set()
            listener.thread.join(timeout=_LISTEN_POLL_SECONDS * 4)
        with _registry_lock:
            if database is not None and _registry.get(database) is self:
                del _registry[database]

    def _notify_others(self) -> None:
        database = self._database()
        if database is None:
            return
        try:
            with database.engine.connect() as conn:
                conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": self.channel, "payload": self.token},
                )
                conn.commit()
        except Exception:  # the jobs are committed; a lost notification only delays other processes
            log.warning(
                "could not send NOTIFY %s; other processes see the jobs at their next look",
                self.channel,
                exc_info=True,
            )


class _Listener:
    """The thread that LISTENs on PostgreSQL; it ends when stopped or when its signal is gone."""

    def __init__(
        self, conninfo: str, channel: str, token: str, wake: Callable[[], Callable[[], None] | None]
    ) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.token = token
        self.wake = wake
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"flowdesk-listen-{channel}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _poke(self) -> bool:
        wake = self.wake()
        if wake is None:
            self.stop.set()
            return False
        wake()
        return True

    def _run(self) -> None:
        delay = _LISTEN_POLL_SECONDS
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    delay = _LISTEN_POLL_SECONDS
                    # Notifications sent while we were not listening are lost: let waiters look again
                    # (before ``ready``, so whoever waited for ``listen`` sees no late spurious wake).
                    self._poke()
                    self.ready.set()
                    self._receive(conn)
            except psycopg.Error:
                self.ready.clear()
                log.warning("LISTEN %s failed; retrying in %.1f s", self.channel, delay, exc_info=True)
                self.stop.wait(delay)
                delay = min(delay * 2, _MAX_RECONNECT_SECONDS)
        self.ready.clear()

    def _receive(self, conn: psycopg.Connection[Any]) -> None:
        while not self.stop.is_set():
            # Blocks in select() until a notification or the poll timeout; not a busy loop.
            for note in conn.notifies(timeout=_LISTEN_POLL_SECONDS):
                if note.payload != self.token and not self._poke():
                    return
            if self.wake() is None:
                return


def _conninfo(url: str) -> str:
    """A libpq connection string from an SQLAlchemy URL (``postgresql+psycopg://…``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


_registry: weakref.WeakKeyDictionary[Database, JobSignal] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def signal_for(database: Database) -> JobSignal:
    """The one signal of ``database``, registered as its job listener on first use."""
    with _registry_lock:
        signal = _registry.get(database)
        if signal is None:
            signal = _registry[database] = JobSignal(database)
        return signal
