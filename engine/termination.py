"""Ending an instance from outside: deleted by a person, or cancelled with the call activity that
started it. Its history stays; its open tasks, jobs, timers and subscriptions go, and so do the
instances its call activities started (Camunda cancels the whole call chain below it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.db.models import HistoryActivity, HistoryTask, HumanTask, InstanceState, Job, ProcessInstance
from engine.event_sync import forget_instance
from engine.identity import Actor
from engine.steps import StepWriter


def terminate(
    session: Session,
    row: ProcessInstance,
    now: datetime,
    *,
    actor: Actor | None = None,
    reason: str | None = None,
    operation: str = "Delete",
) -> None:
    """Terminate the active instance ``row`` and every active instance it called.

    Rows are changed parent first, the order in which a parent's step cancels a child, so two such
    transactions wait for each other instead of deadlocking.
    """
    row.state = InstanceState.EXTERNALLY_TERMINATED
    row.ended_at = now
    session.flush()  # the revision check: a concurrent change of the instance makes us retry
    for child in active_children(session, row.id):
        terminate(session, child, now, reason=f"the calling instance {row.id} ended", operation="Cancel")
    instance_id = row.id
    task_ids = list(session.scalars(select(HumanTask.id).where(HumanTask.instance_id == instance_id)))
    session.execute(delete(HumanTask).where(HumanTask.instance_id == instance_id))
    session.execute(delete(Job).where(Job.instance_id == instance_id))
    forget_instance(session, instance_id)
    if task_ids:
        session.execute(
            update(HistoryTask)
            .where(HistoryTask.id.in_(task_ids))
            .values(ended_at=now, delete_reason="deleted")
        )
    session.execute(
        update(HistoryActivity)
        .where(HistoryActivity.instance_id == instance_id, HistoryActivity.ended_at.is_(None))
        .values(ended_at=now, canceled=True)
    )
    StepWriter(session, now).operation(
        instance_id, None, operation, actor, {"reason": reason} if reason else None
    )


def active_children(session: Session, instance_id: str) -> list[ProcessInstance]:
    """The running instances that call activities of ``instance_id`` started."""
    return list(
        session.scalars(
            select(ProcessInstance).where(
                ProcessInstance.super_instance_id == instance_id,
                ProcessInstance.state == InstanceState.ACTIVE,
            )
        )
    )
