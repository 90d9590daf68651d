"""The engine's own jobs for call activities: "look at your call activity again".

A child instance never changes its parent in its own transaction: parent and child are different
rows, each under optimistic locking, and a child that reached into its parent would race with
whatever else changes the parent (a boundary timer on the call activity, a parallel branch). When a
child ends, throws an uncaught BPMN error or is deleted, its transaction only adds a job for the
parent. A worker runs it like any job: it locks the parent, reads the child, and moves the call
activity on (``engine.calls``). Jobs of one instance never run side by side, the job commits
together with the parent's step, and a job that finds nothing to do (the call activity was
interrupted meanwhile) just goes.

A call activity whose child cannot be started (no such definition deployed, a failing input
mapping) gets a job too, as an incident (no retries) naming the problem; setting its retries
(``PUT /engine-rest/job/{id}/retries``) tries to start the child again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from engine.bindings import DEFAULT_RETRIES, DEFAULT_RETRY_INTERVAL_SECONDS
from engine.db.models import JobKind, ProcessInstance

CALL_TOPIC = "flowdesk:call-activity"  # handler names starting with "flowdesk:" are reserved


def job_row(
    parent: ProcessInstance,
    task_id: str,
    activity_id: str,
    now: datetime,
    *,
    payload: dict[str, Any] | None = None,
    failure: str | None = None,
) -> dict[str, Any]:
    """A job of ``parent``'s call activity; with ``failure``, an incident at once."""
    return {
        "id": str(uuid.uuid4()),
        "instance_id": parent.id,
        "definition_id": parent.definition_id,
        "process_key": parent.process_key,
        "business_key": parent.business_key,
        "task_id": task_id,
        "activity_id": activity_id,
        "kind": JobKind.HANDLER,
        "topic": CALL_TOPIC,
        "priority": 0,
        "retries": 0 if failure else DEFAULT_RETRIES,
        "max_retries": DEFAULT_RETRIES,
        "retry_interval_seconds": DEFAULT_RETRY_INTERVAL_SECONDS,
        "exponential_backoff": True,
        "due_at": now,
        "created_at": now,
        "locked_by": None,
        "locked_until": None,
        "attempts": 1 if failure else 0,
        "error_message": failure,
        "error_details": None,
        "failed_at": now if failure else None,
        "payload": payload,
    }


def child_ended_row(
    parent: ProcessInstance,
    child: ProcessInstance,
    activity_id: str,
    now: datetime,
    *,
    failure: str | None = None,
    **facts: Any,
) -> dict[str, Any]:
    """The child ended, threw an error, or was deleted: its parent's call activity looks again.

    Each such job has a task id of its own (several may wait for one call activity); the call
    activity's task is the child's ``super_task_id``.
    """
    assert child.super_task_id is not None
    return job_row(
        parent,
        str(uuid.uuid4()),
        activity_id,
        now,
        payload={"child": child.id, "task": child.super_task_id, **facts},
        failure=failure,
    )
