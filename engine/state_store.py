"""An instance's stored workflow: a head in ``process_instances.workflow`` and a row per task.

A step writes the head and only the task rows it changed (engine.spiff.state_text); loading puts
the rows back into the head, in the order the tasks were created, and gives the whole-state
envelope ``workflow_from_envelope`` reads. Instances stored before the rows existed (format 1)
hold their tasks in the head, are read as they are, and move to rows at their next save.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from engine.db.models import InstanceTaskState, ProcessInstance, table
from engine.exceptions import ProcessError
from engine.spiff.serialization import FORMAT_VERSION
from engine.spiff.state_text import HEAD_FORMAT, StateChanges, TaskRow

TASK_STATES = table(InstanceTaskState)
_INSERT = insert(TASK_STATES)
_SELECT = select(TASK_STATES.c.task_id, TASK_STATES.c.scope, TASK_STATES.c.seq, TASK_STATES.c.body).where(
    TASK_STATES.c.instance_id == bindparam("instance_id")
)
_CHUNK = 500  # ids per DELETE ... IN: SQLite caps the parameters of one statement


def write(session: Session, instance_id: str, changes: StateChanges, *, is_new: bool) -> None:
    """Store the task rows of ``changes`` (the head is the instance row's own column)."""
    if changes.whole:
        if not is_new:
            session.execute(delete(TASK_STATES).where(TASK_STATES.c.instance_id == instance_id))
    else:
        ids = changes.removed + [row.task_id for row in changes.written]
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                delete(TASK_STATES).where(
                    TASK_STATES.c.instance_id == instance_id,
                    TASK_STATES.c.task_id.in_(ids[start : start + _CHUNK]),
                )
            )
    if changes.written:
        session.execute(
            _INSERT,
            [
                {
                    "instance_id": instance_id,
                    "task_id": row.task_id,
                    "seq": row.seq,
                    "scope": row.scope,
                    "body": row.body,
                }
                for row in changes.written
            ],
        )


def read(session: Session, instance: ProcessInstance) -> tuple[dict[str, Any], list[TaskRow]]:
    """The instance's whole-state envelope, and the task rows it was put together from."""
    envelope: dict[str, Any] = _parsed(instance.workflow, instance.id, "its head")
    if envelope.get("format") != HEAD_FORMAT:
        return envelope, []  # the whole state in one text (format 1, or a later migration's)
    rows = [
        TaskRow(r.task_id, r.scope, r.seq, r.body)
        for r in session.execute(_SELECT, {"instance_id": instance.id})
    ]
    rows.sort(key=lambda row: row.seq)
    state = envelope["state"]
    state["tasks"] = {}
    for sub in state["subprocesses"].values():
        sub["tasks"] = {}
    for row in rows:
        if row.scope is None:
            target = state["tasks"]
        elif row.scope in state["subprocesses"]:
            target = state["subprocesses"][row.scope]["tasks"]
        else:
            raise ProcessError(
                f"The stored state is inconsistent: task {row.task_id} belongs to subprocess "
                f"{row.scope}, which the instance does not have. Restore the database from a backup.",
                instance_id=instance.id,
            )
        target[row.task_id] = _parsed(row.body, instance.id, f"task row {row.task_id}")
    envelope["format"] = FORMAT_VERSION
    return envelope, rows


def _parsed(text: str, instance_id: str, part: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:
        raise ProcessError(
            f"The stored state of the instance is damaged ({part} is not JSON: {err}); nothing was "
            "changed. Restore the database from a backup.",
            instance_id=instance_id,
        ) from err
