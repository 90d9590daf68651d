"""What a task list shows: queries, task infos and who may see or work on a task.

The read side of ``engine.tasks``, kept apart so pages, REST and the CLI can use the types without
the service that changes tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.db.models import HumanTask, TaskCandidate, table
from engine.forms import FormField
from engine.identity import Actor


class SortBy(StrEnum):
    CREATED = "created"
    DUE_DATE = "dueDate"
    PRIORITY = "priority"
    NAME = "name"


@dataclass(frozen=True)
class TaskQuery:
    """Filters of a task list; names follow Camunda's REST parameters."""

    instance_id: str | None = None
    assignee: str | None = None
    candidate_group: str | None = None
    candidate_user: str | None = None
    include_assigned: bool = False
    unassigned: bool = False
    activity_id: str | None = None
    process_key: str | None = None
    name_like: str | None = None
    sort_by: SortBy = SortBy.CREATED
    descending: bool = False
    first: int = 0
    max_results: int | None = None


@dataclass(frozen=True)
class TaskInfo:
    id: str
    name: str | None
    description: str | None
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    priority: int
    instance_id: str
    definition_id: str
    process_key: str
    activity_id: str
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()
    form_fields: list[FormField] = field(default_factory=list)

    @classmethod
    def of(cls, row: Mapping[Any, Any], candidates: Sequence[tuple[str, str]] = ()) -> TaskInfo:
        """From a ``human_tasks`` row and its (kind, identity) candidate pairs."""
        return cls(
            row["id"],
            row["name"],
            row["description"],
            row["assignee"],
            row["created_at"],
            row["due_at"],
            row["priority"],
            row["instance_id"],
            row["definition_id"],
            row["process_key"],
            row["activity_id"],
            tuple(sorted(identity for kind, identity in candidates if kind == "user")),
            tuple(sorted(identity for kind, identity in candidates if kind == "group")),
            [FormField.from_dict(f) for f in row["form_fields"] or []],
        )


HUMAN_TASKS = table(HumanTask)
CANDIDATES = table(TaskCandidate)
# Built once (every task lookup runs them); a statement built per call costs more than the query.
CANDIDATES_OF = select(CANDIDATES.c.task_id, CANDIDATES.c.kind, CANDIDATES.c.identity).where(
    CANDIDATES.c.task_id.in_(bindparam("ids", expanding=True))
)
TASK_BY_ID = select(HUMAN_TASKS).where(HUMAN_TASKS.c.id == bindparam("task_id"))
TASK_BY_ID_LOCKED = TASK_BY_ID.with_for_update()


def infos(session: Session, rows: Sequence[Mapping[Any, Any]]) -> list[TaskInfo]:
    """Task infos for ``human_tasks`` rows, with their candidates fetched in one query."""
    if not rows:
        return []
    candidates: dict[str, list[tuple[str, str]]] = {}
    for task_id, kind, identity in session.execute(CANDIDATES_OF, {"ids": [row["id"] for row in rows]}):
        candidates.setdefault(task_id, []).append((kind, identity))
    return [TaskInfo.of(row, candidates.get(row["id"], ())) for row in rows]


def _is_candidate(actor: Actor, task: TaskInfo) -> bool:
    return actor.name in task.candidate_users or bool(actor.groups & set(task.candidate_groups))


def may_see(actor: Actor | None, task: TaskInfo) -> bool:
    """Admins, the assignee and the candidates (also while someone else holds the task)."""
    if actor is None or actor.is_admin:
        return True
    return task.assignee == actor.name or _is_candidate(actor, task)


def may_work_on(actor: Actor | None, task: TaskInfo) -> bool:
    """Admins, the assignee, or, while nobody holds it, the candidates."""
    if actor is None or actor.is_admin:
        return True
    if task.assignee is not None:
        return task.assignee == actor.name
    return _is_candidate(actor, task)
