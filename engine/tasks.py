"""Open user tasks: the inbox queries people run, claiming, and completion with form validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import CursorResult, and_, false, func, or_, select, union, update
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.concurrency import with_retries
from engine.db import Database
from engine.db.models import HistoryTask, HumanTask, ProcessInstance, TaskCandidate
from engine.exceptions import FlowdeskError, Forbidden, TaskNotFound
from engine.forms import validate_submission
from engine.identity import Actor, IdentityService
from engine.instances import InstanceLoader, clean_variables
from engine.steps import StepWriter
from engine.task_types import (
    HUMAN_TASKS,
    TASK_BY_ID,
    TASK_BY_ID_LOCKED,
    SortBy,
    TaskInfo,
    TaskQuery,
    infos,
    may_see,
    may_work_on,
)

# The default query: every open task the caller may see (a frozen value, safe as a default).
ALL_TASKS = TaskQuery()

__all__ = ["SortBy", "TaskAlreadyClaimed", "TaskInfo", "TaskQuery", "TaskService", "may_see", "may_work_on"]


class TaskAlreadyClaimed(FlowdeskError):
    """The task is claimed by someone else; ask them to unclaim it, or pick another task."""


_SORT_COLUMNS = {
    SortBy.CREATED: HumanTask.created_at,
    SortBy.DUE_DATE: HumanTask.due_at,
    SortBy.PRIORITY: HumanTask.priority,
    SortBy.NAME: HumanTask.name,
}


class TaskService:
    def __init__(
        self, database: Database, loader: InstanceLoader, identity: IdentityService, clock: Clock
    ) -> None:
        self.database = database
        self.loader = loader
        self.identity = identity
        self.clock = clock

    # -- queries -----------------------------------------------------------------------------------

    def _candidate_ids(self, users: Sequence[str], groups: Sequence[str], include_assigned: bool) -> Any:
        clauses = []
        if users:
            clauses.append(and_(TaskCandidate.kind == "user", TaskCandidate.identity.in_(users)))
        if groups:
            clauses.append(and_(TaskCandidate.kind == "group", TaskCandidate.identity.in_(groups)))
        query = select(TaskCandidate.task_id).where(or_(*clauses) if clauses else false())
        if not include_assigned:
            query = query.where(TaskCandidate.assigned.is_(False))
        return query

    def _filtered(self, query: Any, q: TaskQuery, actor: Actor | None) -> Any:
        if actor is not None and not actor.is_admin:
            query = query.where(
                or_(
                    HumanTask.assignee == actor.name,
                    HumanTask.id.in_(
                        self._candidate_ids([actor.name], sorted(actor.groups), include_assigned=True)
                    ),
                )
            )
        if q.instance_id is not None:
            query = query.where(HumanTask.instance_id == q.instance_id)
        if q.assignee is not None:
            query = query.where(HumanTask.assignee == q.assignee)
        if q.unassigned:
            query = query.where(HumanTask.assignee.is_(None))
        if q.activity_id is not None:
            query = query.where(HumanTask.activity_id == q.activity_id)
        if q.process_key is not None:
            query = query.where(HumanTask.process_key == q.process_key)
        if q.name_like is not None:
            query = query.where(HumanTask.name.ilike(q.name_like))
        if q.candidate_group is not None:
            # Joining (not IN) lets the database walk the candidate index in creation order.
            query = query.join(
                TaskCandidate,
                and_(
                    TaskCandidate.task_id == HumanTask.id,
                    TaskCandidate.kind == "group",
                    TaskCandidate.identity == q.candidate_group,
                ),
            )
            if not q.include_assigned:
                query = query.where(TaskCandidate.assigned.is_(False))
        if q.candidate_user is not None:
            try:
                groups = sorted(self.identity.actor(q.candidate_user).groups)
            except FlowdeskError:
                groups = []
            query = query.where(
                HumanTask.id.in_(
                    self._candidate_ids([q.candidate_user], groups, include_assigned=q.include_assigned)
                )
            )
        return query

    # -- a person's group inbox ------------------------------------------------------------------

    def _inbox_identities(self, q: TaskQuery, actor: Actor | None) -> list[tuple[str, str]] | None:
        """(kind, identity) pairs when ``q`` is a candidate-user inbox the index can serve, else None.

        That is: unassigned tasks of ``candidate_user`` and their groups, asked for by themselves
        (or an admin, or the engine), newest or oldest first.
        """
        if q.candidate_user is None or q.include_assigned or q.sort_by is not SortBy.CREATED:
            return None
        if actor is not None and not actor.is_admin and actor.name != q.candidate_user:
            return None
        try:
            groups = sorted(self.identity.actor(q.candidate_user).groups)
        except FlowdeskError:
            groups = []
        return [("user", q.candidate_user)] + [("group", g) for g in groups]

    def _inbox_ids(self, q: TaskQuery, identities: Sequence[tuple[str, str]], limit: int) -> Any:
        """The first ``limit`` matching (task_id, created_at) candidate rows, without duplicates.

        Each identity's rows are walked in ``ix_task_candidates_lookup`` order and cut at ``limit``
        before they are merged, so the work follows the page asked for, not the number of open
        tasks (an ``IN (all my candidate rows)`` filter reads every one of them first).
        """
        parts = []
        for kind, identity in identities:
            part = select(TaskCandidate.task_id, TaskCandidate.created_at).where(
                TaskCandidate.kind == kind,
                TaskCandidate.identity == identity,
                TaskCandidate.assigned.is_(False),
            )
            narrowed = TaskQuery(
                instance_id=q.instance_id,
                assignee=q.assignee,
                unassigned=q.unassigned,
                activity_id=q.activity_id,
                process_key=q.process_key,
                name_like=q.name_like,
            )
            if narrowed != TaskQuery():
                part = self._filtered(
                    part.join(HumanTask, HumanTask.id == TaskCandidate.task_id), narrowed, None
                )
            part = part.order_by(*self._inbox_order(q, TaskCandidate.created_at, TaskCandidate.task_id))
            parts.append(part.limit(limit).subquery())
        merged = union(*(select(p.c.task_id, p.c.created_at) for p in parts)).subquery()
        return (
            select(merged.c.task_id, merged.c.created_at)
            .order_by(*self._inbox_order(q, merged.c.created_at, merged.c.task_id))
            .limit(limit)
        )

    @staticmethod
    def _inbox_order(q: TaskQuery, created: Any, task_id: Any) -> list[Any]:
        return [created.desc(), task_id.desc()] if q.descending else [created.asc(), task_id.asc()]

    def _inbox(self, session: Session, q: TaskQuery, identities: Sequence[tuple[str, str]]) -> list[TaskInfo]:
        assert q.max_results is not None
        page = session.execute(self._inbox_ids(q, identities, q.first + q.max_results)).all()[q.first :]
        ids = [task_id for task_id, _ in page]
        if not ids:
            return []
        rows = session.execute(select(HUMAN_TASKS).where(HUMAN_TASKS.c.id.in_(ids))).mappings().all()
        by_id = {row["id"]: row for row in rows}
        return infos(session, [by_id[task_id] for task_id in ids if task_id in by_id])

    def list(self, q: TaskQuery = ALL_TASKS, *, actor: Actor | None = None) -> list[TaskInfo]:
        identities = self._inbox_identities(q, actor) if q.max_results is not None else None
        with self.database.read() as session:
            if identities is not None:
                return self._inbox(session, q, identities)
            query = self._filtered(select(HUMAN_TASKS), q, actor)
            if q.candidate_group is not None and q.sort_by is SortBy.CREATED:
                column: Any = TaskCandidate.created_at
            else:
                column = _SORT_COLUMNS[q.sort_by]
            order = column.desc() if q.descending else column.asc()
            tie = HumanTask.id.desc() if q.descending else HumanTask.id.asc()
            query = query.order_by(order, tie).offset(q.first)
            if q.max_results is not None:
                query = query.limit(q.max_results)
            return infos(session, session.execute(query).mappings().all())

    def count(self, q: TaskQuery = ALL_TASKS, *, actor: Actor | None = None, limit: int | None = None) -> int:
        """How many tasks match; with ``limit``, counting stops there (``limit`` means "that many or more").

        A capped count of an inbox reads at most ``limit`` index entries per identity, so a page
        can show "999+" in the same time with a thousand open tasks as with a million.
        """
        with self.database.read() as session:
            if limit is None:
                query = self._filtered(select(func.count()).select_from(HumanTask), q, actor)
                return int(session.scalar(query) or 0)
            identities = self._inbox_identities(replace(q, sort_by=SortBy.CREATED), actor)
            if identities is not None:
                ids = self._inbox_ids(replace(q, sort_by=SortBy.CREATED), identities, limit).subquery()
            else:
                ids = self._filtered(select(HumanTask.id), q, actor).limit(limit).subquery()
            return int(session.scalar(select(func.count()).select_from(ids)) or 0)

    def get(self, task_id: str, *, actor: Actor | None = None) -> TaskInfo:
        with self.database.read() as session:
            task = self._info(session, task_id)
        if not may_see(actor, task):
            self._authorize(actor, task)
        return task

    def variables(self, task_id: str, *, actor: Actor | None = None) -> dict[str, Any]:
        """What the task sees: the process variables and its own, such as a multi-instance item's
        element variable and ``loopCounter`` (which the instance's variables do not show)."""
        return self._seen(task_id, actor)[1]

    def form_values(self, task_id: str, *, actor: Actor | None = None) -> dict[str, Any]:
        """Current values of the task's form fields (the instance's variable, else the field default)."""
        task, data = self._seen(task_id, actor)
        values: dict[str, Any] = {}
        for form_field in task.form_fields:
            values[form_field.id] = (
                data[form_field.id] if form_field.id in data else form_field.typed_default()
            )
        return values

    def _seen(self, task_id: str, actor: Actor | None) -> tuple[TaskInfo, dict[str, Any]]:
        with self.database.read() as session:
            task = self._info(session, task_id)
            if not may_see(actor, task):
                self._authorize(actor, task)
            instance = session.get(ProcessInstance, task.instance_id)
            assert instance is not None
            _, runner = self.loader.load(session, instance)
            data = next((t.data for t in runner.ready_user_tasks() if t.task_id == task_id), {})
        return task, dict(data)

    # -- changes -----------------------------------------------------------------------------------

    def claim(self, task_id: str, user: str, *, actor: Actor | None = None) -> None:
        if actor is not None and not actor.is_admin and actor.name != user:
            raise Forbidden(f"user {actor.name!r} may only claim tasks for themselves")
        claimer = self.identity.actor(user)
        with self.database.write() as session:
            task = self._info(session, task_id, lock=True)
            if not may_work_on(claimer, task) and task.assignee is None:
                raise Forbidden(f"user {user!r} is not a candidate for task {task_id}", task_id=task_id)
            self._authorize(actor, task)
            if task.assignee == user:
                return
            result: CursorResult[Any] = session.execute(
                update(HumanTask)
                .where(HumanTask.id == task_id, HumanTask.assignee.is_(None))
                .values(assignee=user)
            )  # type: ignore[assignment]
            changed = result.rowcount
            if changed != 1:
                raise TaskAlreadyClaimed(
                    f"Task '{task_id}' is already claimed by someone else.", task_id=task_id
                )
            self._set_assigned(session, task_id, True)
            now = self.clock()
            session.execute(
                update(HistoryTask).where(HistoryTask.id == task_id).values(assignee=user, claimed_at=now)
            )
            StepWriter(session, now).operation(task.instance_id, task_id, "Claim", actor, {"assignee": user})

    def unclaim(self, task_id: str, *, actor: Actor | None = None) -> None:
        with self.database.write() as session:
            task = self._info(session, task_id, lock=True)
            if actor is not None and not actor.is_admin and task.assignee not in (None, actor.name):
                raise Forbidden(
                    f"task {task_id} is claimed by {task.assignee!r}; only they or an admin can unclaim it"
                )
            if task.assignee is None:
                self._authorize(actor, task)
            session.execute(update(HumanTask).where(HumanTask.id == task_id).values(assignee=None))
            self._set_assigned(session, task_id, False)
            now = self.clock()
            session.execute(update(HistoryTask).where(HistoryTask.id == task_id).values(assignee=None))
            StepWriter(session, now).operation(task.instance_id, task_id, "Unclaim", actor)

    def complete(
        self,
        task_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        actor: Actor | None = None,
        absent_booleans_false: bool = False,
    ) -> None:
        """Validate the values against the task's form and continue the instance to its next wait state."""
        submitted = clean_variables(variables)

        def attempt() -> None:
            with self.database.write() as session:
                task = self._info(session, task_id, lock=True)
                self._authorize(actor, task)
                instance = session.get(ProcessInstance, task.instance_id)
                if instance is None:
                    raise TaskNotFound(f"Task {task_id} belongs to no instance", task_id=task_id)
                loaded, runner = self.loader.load(session, instance)
                before = runner.variables()
                current = next((t.data for t in runner.ready_user_tasks() if t.task_id == task_id), {})
                values = validate_submission(
                    task.form_fields, submitted, current, absent_booleans_false=absent_booleans_false
                )
                result = runner.complete_user_task(task_id, values)
                now = self.clock()
                jobs = self.loader.advance(session, instance, loaded, runner, result, now, is_new=False)
                writer = StepWriter(session, now)
                writer.save(
                    instance,
                    loaded,
                    runner,
                    result,
                    actor=actor,
                    before=before,
                    is_new=False,
                    completed_task_id=task_id,
                    jobs=jobs,
                )
                writer.operation(instance.id, task_id, "Complete", actor)

        with_retries(attempt, task_id=task_id)

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _set_assigned(session: Session, task_id: str, assigned: bool) -> None:
        session.execute(
            update(TaskCandidate).where(TaskCandidate.task_id == task_id).values(assigned=assigned)
        )

    def _info(self, session: Session, task_id: str, *, lock: bool = False) -> TaskInfo:
        """The open task; with ``lock``, its row stays locked until the transaction ends.

        Changes (claim, complete) lock the row first: a second completion of the same task then
        waits for the first and finds the task gone, instead of reading it half-deleted.
        """
        query = TASK_BY_ID_LOCKED if lock and not self.database.is_sqlite else TASK_BY_ID
        rows = session.execute(query, {"task_id": task_id}).mappings()
        found = infos(session, rows.all())
        if not found:
            raise TaskNotFound(
                f"No open task has id {task_id!r}; it may have been completed already", task_id=task_id
            )
        return found[0]

    @staticmethod
    def _authorize(actor: Actor | None, task: TaskInfo) -> None:
        if not may_work_on(actor, task):
            assert actor is not None
            raise Forbidden(
                f"user {actor.name!r} may not work on task {task.id}: it is for "
                + (
                    f"{task.assignee!r}"
                    if task.assignee
                    else f"groups {list(task.candidate_groups)} / users {list(task.candidate_users)}"
                ),
                task_id=task.id,
            )
