"""The job executor: threads that acquire due handler jobs and run them, in one process or many.

    worker = Worker(engine, concurrency=4)
    stop = threading.Event()
    worker.run_forever(stop)        # until stop.set(); or worker.run_once() for one round

A worker has ``concurrency`` slots, each a thread that acquires one job at a time
(``JobService.acquire``) and runs it (``JobService.run``), so N slots run N jobs side by side. An
idle slot waits on a condition, never in a busy loop: jobs made in this process wake it at once
(``Database.job_listeners``); jobs made by other processes, and retries whose backoff ends, are
found at the next poll, every ``poll_interval`` seconds.

A handler's failure is state, not a crash: the engine records it on the job (retries, backoff,
incident). Anything else that goes wrong while running a job is logged and reported on the job as
a failure, so a broken job uses up its retries and becomes an incident instead of stopping the
worker or coming back forever.

Locks: ``acquire`` locks a job for ``lock_seconds``. On PostgreSQL the worker renews the locks of
the jobs it runs, so a handler may take longer than ``lock_seconds``; a worker that dies stops
renewing, and once the lock has expired another worker takes the job over. The dead worker's
transaction never committed, so whatever its handler wrote through ``ctx.session`` is gone with it.
On SQLite a running job holds the database's write lock until it commits, so there is nothing to
renew: there, ``lock_seconds`` must exceed the longest handler.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from engine.jobs import DEFAULT_LOCK_SECONDS, JobInfo, JobService

if TYPE_CHECKING:
    from engine.engine import Engine

log = logging.getLogger("flowdesk.worker")

DEFAULT_CONCURRENCY = 1
DEFAULT_POLL_INTERVAL = 1.0
# When running a job raised (the database went away, a bug in the engine), the job comes back
# after this delay, one retry fewer.
CRASH_RETRY_SECONDS = 10
# The timer loop never waits less than this: a due timer another worker holds is not a busy loop.
MIN_TIMER_WAIT = 0.05
COMPLETED, FAILED, SKIPPED, CRASHED = "completed", "failed", "skipped", "crashed"


def default_worker_id() -> str:
    """``host:pid:random``: unique per worker, and says where to look when a job is stuck."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs the handler jobs of one engine's database; safe to run beside other workers anywhere."""

    def __init__(
        self,
        engine: Engine,
        worker_id: str | None = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        lock_seconds: float = DEFAULT_LOCK_SECONDS,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if lock_seconds <= 0:
            raise ValueError(f"lock_seconds must be positive, not {lock_seconds}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval}")
        self.engine = engine
        self.jobs: JobService = engine.jobs
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.lock_seconds = lock_seconds
        self.poll_interval = poll_interval
        self._condition = threading.Condition()
        self._generation = 0  # moves on at every wake-up; see _wait
        self._stopped = True
        self._running: dict[str, float] = {}  # job id -> time.monotonic() of its last lock renewal
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()  # guards _running and _counts

    # -- running ---------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Fire due timers, then acquire up to ``concurrency`` due jobs and run them side by side;
        how many timers and jobs there were.

        Whatever their outcome (completed, failed, skipped) they count: a loop ``while
        worker.run_once(): ...`` ends once no job is due.
        """
        fired = self.engine.timers.fire_due(self.worker_id)
        jobs = self.jobs.acquire(self.worker_id, limit=self.concurrency, lock_seconds=self.lock_seconds)
        others = [threading.Thread(target=self._run, args=(job,), daemon=True) for job in jobs[1:]]
        for thread in others:
            thread.start()
        if jobs:
            self._run(jobs[0])
        for thread in others:
            thread.join()
        return len(jobs) + fired

    def run_forever(self, stop: threading.Event) -> None:
        """Run jobs until ``stop`` is set; then let the running jobs finish and return."""
        with self._condition:
            if not self._stopped:
                raise RuntimeError(f"worker {self.worker_id} is running already")
            self._stopped = False
        database = self.engine.database
        database.job_listeners.append(self.wake)
        threads = [
            threading.Thread(target=self._slot, name=f"flowdesk-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        threads.append(threading.Thread(target=self._timers, name="flowdesk-worker-timers", daemon=True))
        if not database.is_sqlite:
            threads.append(
                threading.Thread(target=self._renew_locks, name="flowdesk-worker-locks", daemon=True)
            )
        log.info(
            "worker %s: %d slot(s), locks of %g s, polling every %g s; handlers: %s",
            self.worker_id,
            self.concurrency,
            self.lock_seconds,
            self.poll_interval,
            ", ".join(self.engine.handlers.names()) or "none",
        )
        for thread in threads:
            thread.start()
        try:
            stop.wait()
        finally:
            with self._condition:
                self._stopped = True
                self._condition.notify_all()
            if self._running:
                log.info(
                    "worker %s stopping: waiting for %d running job(s)", self.worker_id, len(self._running)
                )
            for thread in threads:
                thread.join()
            if self.wake in database.job_listeners:
                database.job_listeners.remove(self.wake)
            log.info("worker %s stopped; jobs: %s", self.worker_id, dict(self.counts()) or "none")

    def wake(self) -> None:
        """Jobs may be available: let idle slots look (the ``Database.job_listeners`` callback)."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def counts(self) -> Counter[str]:
        """How many jobs this worker ran, by outcome: completed, failed, skipped, crashed."""
        with self._lock:
            return Counter(self._counts)

    # -- a slot ----------------------------------------------------------------------------------

    def _slot(self) -> None:
        while True:
            with self._condition:
                if self._stopped:
                    return
                since = self._generation
            try:
                jobs = self.jobs.acquire(self.worker_id, limit=1, lock_seconds=self.lock_seconds)
            except Exception:
                log.exception(
                    "worker %s could not acquire jobs; trying again in %g s",
                    self.worker_id,
                    self.poll_interval,
                )
                self._wait(None)
                continue
            if not jobs:
                self._wait(since)
                continue
            if self.concurrency > 1:
                self.wake()  # there may be more: let an idle sibling look too
            for job in jobs:
                self._run(job)

    def _wait(self, since: int | None) -> None:
        """Until woken (generation no longer ``since``; None: only by stopping), stopped, or the poll."""
        with self._condition:
            self._condition.wait_for(
                lambda: self._stopped or (since is not None and self._generation != since),
                timeout=self.poll_interval,
            )

    def _run(self, job: JobInfo) -> str:
        with self._lock:
            self._running[job.id] = time.monotonic()
        try:
            outcome = self.jobs.run(job.id, self.worker_id)
        except Exception as err:
            log.exception(
                "worker %s: running job %s (%s at %s of instance %s) raised",
                self.worker_id,
                job.id,
                job.topic,
                job.activity_id,
                job.instance_id,
            )
            self._report_crash(job, err)
            outcome = CRASHED
        finally:
            with self._lock:
                self._running.pop(job.id, None)
        with self._lock:
            self._counts[outcome] += 1
        if outcome == FAILED:
            self._log_failure(job)
        else:
            log.debug("worker %s: job %s %s", self.worker_id, job.id, outcome)
        return outcome

    def _report_crash(self, job: JobInfo, err: Exception) -> None:
        try:
            self.jobs.fail(
                job.id,
                self.worker_id,
                f"the worker could not run the job: {type(err).__name__}: {err}",
                "".join(traceback.format_exception(err)),
                retry_timeout_ms=CRASH_RETRY_SECONDS * 1000,
            )
        except Exception:  # the database may be gone; the lock expires and another attempt comes
            log.warning(
                "worker %s could not record the failure of job %s; it runs again after its lock expires",
                self.worker_id,
                job.id,
                exc_info=True,
            )

    def _log_failure(self, job: JobInfo) -> None:
        try:
            info = self.jobs.get(job.id)
        except Exception:
            return
        what = f"job {job.id} ({job.topic} at {job.activity_id} of instance {job.instance_id})"
        if info.is_incident:
            log.error("%s failed and is now an incident: %s", what, info.error_message)
        else:
            log.warning(
                "%s failed, %s retries left, next at %s: %s",
                what,
                info.retries,
                info.due_at.isoformat(),
                info.error_message,
            )

    # -- timers ----------------------------------------------------------------------------------

    def _timers(self) -> None:
        """Fire due timers; sleep until the next due time, a wake-up, or the poll, whichever is first.

        Timers written by this process wake the loop at once (``Database.job_listeners``); those
        written by other processes are seen at the next poll, so with the default poll of one
        second a timer fires within a second of its due time.
        """
        timers = self.engine.timers
        while True:
            with self._condition:
                if self._stopped:
                    return
                since = self._generation
            timeout = self.poll_interval
            try:
                if timers.fire_due(self.worker_id):
                    continue
                timeout = timer_wait(timers.next_due(), self.engine.clock(), self.poll_interval)
            except Exception:
                log.exception("worker %s could not fire timers; again in %g s", self.worker_id, timeout)
            with self._condition:
                self._condition.wait_for(
                    lambda: self._stopped or self._generation != since,  # noqa: B023
                    timeout=timeout,
                )

    # -- lock renewal ------------------------------------------------------------------------------

    def _renew_locks(self) -> None:
        """Keep the locks of running jobs (PostgreSQL); renew each a third of the way through."""
        period = self.lock_seconds / 3
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._stopped, timeout=period)
                if self._stopped:
                    return
            now = time.monotonic()
            with self._lock:
                due = [job_id for job_id, renewed in self._running.items() if now - renewed >= period]
            for job_id in due:
                try:
                    self.jobs.extend_lock(job_id, self.worker_id, int(self.lock_seconds * 1000))
                except Exception as err:  # the job finished meanwhile, or the database is away
                    log.debug("worker %s: lock of job %s not renewed: %s", self.worker_id, job_id, err)
                    continue
                with self._lock:
                    if job_id in self._running:
                        self._running[job_id] = now


def timer_wait(upcoming: datetime | None, now: datetime, poll_interval: float) -> float:
    """Seconds the timer loop sleeps: until the next due time, at most the poll interval."""
    if upcoming is None:
        return poll_interval
    return min(poll_interval, max((upcoming - now).total_seconds(), MIN_TIMER_WAIT))


def stop_on_signals(
    stop: threading.Event, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> Callable[[], None]:
    """Set ``stop`` at the first of ``signals``; a second one acts as if unhandled (forces the exit).

    Call from the main thread. Returns a function that puts the previous handlers back.
    """
    wanted = list(signals)
    previous = {signum: signal.getsignal(signum) for signum in wanted}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping after the running jobs (again to force)", signal.Signals(signum).name)
        restore()
        # Not stop.set() here: the interrupted main thread may hold the event's lock.
        threading.Thread(target=stop.set, name="flowdesk-stop").start()

    for signum in wanted:
        signal.signal(signum, on_signal)
    return restore
