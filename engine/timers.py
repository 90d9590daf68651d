"""Firing timers: the due-time table, acquisition by workers, and timer start events.

Rows come from two places. A step that begins a wait on a timer writes its row in the same
transaction (``engine.event_sync``); a deployment writes one row per timer start event of the
new version and removes those of older versions, as Camunda does.

Firing is two transactions, like jobs: ``acquire`` locks due rows for a worker (``SELECT … FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serializes writers itself) and commits at once; ``fire``
then locks the instance, lets the workflow fire what is due by the clock, runs on to the next wait
state and saves the step, which removes (or, for cycles, moves) the row. A worker that dies loses
its lock when it expires, and the timer fires elsewhere. A firing that raises is recorded on the
row and tried again later; after ``MAX_ATTEMPTS`` the row stays, with its error, until the
instance is deleted. Because the rows stay until fired, a timer that fell due while no worker ran
fires when one starts.
"""

from __future__ import annotations

import builtins
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from engine.bpmn_xml import Element, local_name, q, text_of
from engine.clock import Clock
from engine.concurrency import locked_instance, with_retries
from engine.db import Database
from engine.db.database import mark_jobs_created
from engine.db.models import InstanceState, Timer, TimerScope
from engine.instances import InstanceLoader, RuntimeService
from engine.spiff.schedule import Cycle, TimerError, TimerKind, first_due
from engine.steps import StepWriter

log = logging.getLogger("flowdesk.timers")

MAX_ATTEMPTS = 3
RETRY_SECONDS = 10
DEFAULT_LOCK_SECONDS = 60
FIRED, SKIPPED, FAILED = "fired", "skipped", "failed"


@dataclass(frozen=True)
class TimerInfo:
    id: str
    scope: str
    definition_id: str
    process_key: str
    instance_id: str | None
    activity_id: str
    due_at: datetime
    attempts: int
    error_message: str | None

    @classmethod
    def of(cls, row: Timer) -> TimerInfo:
        return cls(
            row.id,
            row.scope.value,
            row.definition_id,
            row.process_key,
            row.instance_id,
            row.activity_id,
            row.due_at,
            row.attempts,
            row.error_message,
        )


def start_timer_values(process: Element) -> list[tuple[Element, TimerKind, str]]:
    """The timer start events of a process itself (not of its subprocesses), with their value."""
    found: list[tuple[Element, TimerKind, str]] = []
    for start in process.iterfind(q("startEvent")):
        definition = start.find(q("timerEventDefinition"))
        if definition is None:
            continue
        for child in definition:
            if isinstance(child.tag, str) and local_name(child) in {k.value for k in TimerKind}:
                found.append((start, TimerKind(local_name(child)), text_of(child) or ""))
    return found


def _first(kind: TimerKind, text: str, now: datetime) -> tuple[datetime, dict[str, Any]]:
    due = first_due(kind, text, now)
    if isinstance(due, Cycle):
        return due.next_at, {"kind": kind.value, "cycle": due.to_dict()}
    return due, {"kind": kind.value}


def schedule_start_timers(
    session: Session, definition_id: str, key: str, process: Element, now: datetime
) -> None:
    """A new version replaces the timer start events of older versions of ``key``."""
    session.execute(delete(Timer).where(Timer.process_key == key, Timer.scope == TimerScope.START))
    rows = []
    for start, kind, text in start_timer_values(process):
        due, schedule = _first(kind, text, now)  # checked at deploy time (engine.timer_lint)
        rows.append(
            Timer(
                id=str(uuid.uuid4()),
                scope=TimerScope.START,
                definition_id=definition_id,
                process_key=key,
                instance_id=None,
                task_id=None,
                activity_id=start.get("id"),
                due_at=due,
                schedule=schedule,
                created_at=now,
                attempts=0,
            )
        )
    if rows:
        session.add_all(rows)
        mark_jobs_created(session)


def _following(schedule: dict[str, Any], now: datetime) -> tuple[datetime, dict[str, Any]] | None:
    """The next firing of a start timer after one at or before ``now``; None when it is done."""
    if "cycle" not in schedule:
        return None  # timeDate and timeDuration fire once
    cycle: Cycle | None = Cycle.from_dict(schedule["cycle"]).following()
    # After a downtime the missed firings are not made up in a burst: one fired now, the rest skipped.
    while cycle is not None and cycle.next_at <= now:
        cycle = cycle.following()
    if cycle is None:
        return None
    return cycle.next_at, {**schedule, "cycle": cycle.to_dict()}


class TimerService:
    def __init__(
        self, database: Database, loader: InstanceLoader, runtime: RuntimeService, clock: Clock
    ) -> None:
        self.database = database
        self.loader = loader
        self.runtime = runtime
        self.clock = clock

    # -- acquiring -------------------------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        return select(Timer.id).where(
            Timer.due_at <= now,
            Timer.attempts < MAX_ATTEMPTS,
            or_(Timer.locked_until.is_(None), Timer.locked_until < now),
        )

    def acquire(
        self, worker_id: str, *, limit: int = 10, lock_seconds: float = DEFAULT_LOCK_SECONDS
    ) -> builtins.list[str]:
        """Lock up to ``limit`` due timers for ``worker_id``, oldest due first; their ids."""
        now = self.clock()
        with self.database.write() as session:
            query = self._due(now).order_by(Timer.due_at, Timer.id).limit(limit)
            if not self.database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if ids:
                session.execute(
                    update(Timer)
                    .where(Timer.id.in_(ids))
                    .values(locked_by=worker_id, locked_until=now + timedelta(seconds=lock_seconds))
                )
            return ids

    def next_due(self) -> datetime | None:
        """The earliest due time a worker could act on (locked rows count from their lock's end)."""
        with self.database.read() as session:
            free = session.scalar(
                select(func.min(Timer.due_at)).where(
                    Timer.attempts < MAX_ATTEMPTS, Timer.locked_until.is_(None)
                )
            )
            held = session.scalar(
                select(func.min(func.coalesce(Timer.locked_until, Timer.due_at))).where(
                    Timer.attempts < MAX_ATTEMPTS, Timer.locked_until.is_not(None)
                )
            )
        times = [t for t in (free, held) if t is not None]
        return min(times) if times else None

    def fire_due(self, worker_id: str, *, limit: int = 100) -> int:
        """Fire due timers until none is due (at most ``limit`` tries); how many fired."""
        tried = fired = 0
        while tried < limit:
            ids = self.acquire(worker_id, limit=min(10, limit - tried))
            if not ids:
                break
            for timer_id in ids:
                fired += self.fire(timer_id, worker_id) == FIRED
                tried += 1
        return fired

    # -- firing ----------------------------------------------------------------------------------

    def fire(self, timer_id: str, worker_id: str) -> str:
        """Fire one acquired timer: "fired", "skipped" (gone, lock lost) or "failed" (recorded)."""
        try:
            return with_retries(lambda: self._fire(timer_id, worker_id), timer_id=timer_id)
        except Exception as err:
            log.exception("timer %s could not fire", timer_id)
            self._record_failure(timer_id, f"{type(err).__name__}: {err}")
            return FAILED

    def _fire(self, timer_id: str, worker_id: str) -> str:
        with self.database.write() as session:
            row = session.get(Timer, timer_id)
            if row is None or row.locked_by != worker_id:
                return SKIPPED
            if row.scope is TimerScope.START:
                self._start(session, row)
                return FIRED
            instance = locked_instance(session, self.database.is_sqlite, row.instance_id)
            if instance is None or instance.state is not InstanceState.ACTIVE:
                session.delete(row)
                return SKIPPED
            loaded, runner = self.loader.load(session, instance)
            before = runner.variables()
            result = runner.fire_timers()
            now = self.clock()
            jobs = self.loader.advance(session, instance, loaded, runner, result, now, is_new=False)
            StepWriter(session, now).save(
                instance, loaded, runner, result, actor=None, before=before, is_new=False, jobs=jobs
            )
            # Fired timers are gone and cycles moved on with the step; anything left is free again.
            session.execute(
                update(Timer).where(Timer.id == timer_id).values(locked_by=None, locked_until=None)
            )
            return FIRED

    def _start(self, session: Session, row: Timer) -> None:
        loaded = self.loader.cache.load(session, row.definition_id)
        self.runtime.start_in(session, loaded, {}, detail={"timerStartEvent": row.activity_id})
        following = _following(row.schedule or {}, self.clock())
        if following is None:
            session.delete(row)
            return
        row.due_at, row.schedule = following
        row.locked_by = None
        row.locked_until = None
        row.attempts = 0

    def _record_failure(self, timer_id: str, message: str) -> None:
        try:
            with self.database.write() as session:
                row = session.get(Timer, timer_id)
                if row is None:
                    return
                row.attempts += 1
                row.error_message = message
                row.due_at = self.clock() + timedelta(seconds=RETRY_SECONDS * 2 ** (row.attempts - 1))
                row.locked_by = None
                row.locked_until = None
        except Exception:  # the database may be away; the lock expires and the timer is tried again
            log.warning("could not record the failure of timer %s", timer_id, exc_info=True)

    # -- queries ---------------------------------------------------------------------------------

    def list(
        self, *, instance_id: str | None = None, process_key: str | None = None
    ) -> builtins.list[TimerInfo]:
        with self.database.read() as session:
            query = select(Timer)
            if instance_id is not None:
                query = query.where(Timer.instance_id == instance_id)
            if process_key is not None:
                query = query.where(Timer.process_key == process_key)
            return [TimerInfo.of(r) for r in session.scalars(query.order_by(Timer.due_at, Timer.id))]


__all__ = ["TimerError", "TimerInfo", "TimerService", "schedule_start_timers", "start_timer_values"]
