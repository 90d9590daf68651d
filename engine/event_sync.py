"""Keep the timer and subscription tables equal to what a stored instance waits for.

Called by the step writer in the step's own transaction, so a wait and its row appear (and go)
together: a timer is never lost between "the step committed" and "the timer was scheduled". The
runner remembers what the instance waited for when it was loaded, so a step that changes no wait
costs no query.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session

from engine.db.database import mark_jobs_created
from engine.db.models import (
    EventSubscription,
    Job,
    ProcessInstance,
    SubscriptionKind,
    Timer,
    TimerScope,
    table,
)
from engine.spiff.runner import Runner, StepResult
from engine.spiff.waits import EventKind, WaitingEvent

TIMERS = table(Timer)
JOBS = table(Job)
SUBSCRIPTIONS = table(EventSubscription)


def sync_events(
    session: Session,
    instance: ProcessInstance,
    runner: Runner,
    result: StepResult,
    now: datetime,
    is_new: bool,
) -> None:
    cancelled = [e.task_id for e in result.events if e.canceled]
    if cancelled:
        # A service task an event interrupted: its job (an external task, a retry) goes with it.
        session.execute(delete(JOBS).where(JOBS.c.task_id.in_(cancelled)))
    before = {} if is_new else {e.task_id: e for e in runner.initial_events}
    after = {e.task_id: e for e in runner.snapshot().waiting_events} if not runner.completed else {}
    if not before and not after:
        return
    gone = [e for task_id, e in before.items() if task_id not in after]
    new = [e for task_id, e in after.items() if task_id not in before]
    moved = [e for task_id, e in after.items() if task_id in before and before[task_id] != e]
    gone_timers = [e.task_id for e in gone if e.kind is EventKind.TIMER]
    gone_subscriptions = [e.task_id for e in gone if e.kind is not EventKind.TIMER]
    if gone_timers:
        session.execute(delete(TIMERS).where(TIMERS.c.task_id.in_(gone_timers)))
    if gone_subscriptions:
        session.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.task_id.in_(gone_subscriptions)))
    timer_rows = [_timer_row(instance, e, now) for e in new if e.kind is EventKind.TIMER]
    if timer_rows:
        session.execute(TIMERS.insert(), timer_rows)
        mark_jobs_created(session)  # wakes the workers' timer loop, which waits for the next due time
    subscription_rows = [_subscription_row(instance, e, now) for e in new if e.kind is not EventKind.TIMER]
    if subscription_rows:
        session.execute(SUBSCRIPTIONS.insert(), subscription_rows)
    # A cycle that fired moves on to its next due time; the firing worker's lock goes with it.
    rescheduled = [{"tid": e.task_id, "due": e.due_at} for e in moved if e.kind is EventKind.TIMER]
    if rescheduled:
        session.execute(
            update(TIMERS)
            .where(TIMERS.c.task_id == bindparam("tid"))
            .values(due_at=bindparam("due"), locked_by=None, locked_until=None, attempts=0),
            rescheduled,
        )
        mark_jobs_created(session)


def forget_instance(session: Session, instance_id: str) -> None:
    """An instance that was deleted waits for nothing any more."""
    session.execute(delete(TIMERS).where(TIMERS.c.instance_id == instance_id))
    session.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.instance_id == instance_id))


def _timer_row(instance: ProcessInstance, event: WaitingEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "scope": TimerScope.CATCH,
        "definition_id": instance.definition_id,
        "process_key": instance.process_key,
        "instance_id": instance.id,
        "task_id": event.task_id,
        "activity_id": event.activity_id,
        "due_at": event.due_at,
        "schedule": None,
        "created_at": now,
        "locked_by": None,
        "locked_until": None,
        "attempts": 0,
        "error_message": None,
    }


def _subscription_row(instance: ProcessInstance, event: WaitingEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": SubscriptionKind(event.kind.value),
        "name": event.name or "",
        "definition_id": instance.definition_id,
        "process_key": instance.process_key,
        "instance_id": instance.id,
        "business_key": instance.business_key,
        "task_id": event.task_id,
        "activity_id": event.activity_id,
        "created_at": now,
    }
