"""Persist what one engine operation did: instance state, open user tasks and history, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified

from engine import state_store
from engine.assignment import resolve
from engine.db.models import (
    HistoryActivity,
    HistoryOperation,
    HistoryTask,
    HistoryVariable,
    HumanTask,
    InstanceState,
    ProcessInstance,
    TaskCandidate,
    table,
)
from engine.definitions import LoadedDefinition
from engine.event_sync import sync_events
from engine.executor import insert_jobs
from engine.identity import Actor
from engine.spiff.runner import Runner, StepResult
from engine.variables import dumps

_MISSING = object()
# Core tables: the writes below skip the ORM unit of work, which costs more than the SQL itself.
HUMAN_TASKS = table(HumanTask)
HISTORY_TASKS = table(HistoryTask)
HISTORY_ACTIVITIES = table(HistoryActivity)
PROCESS_INSTANCES = table(ProcessInstance)
# Statements every step runs, built once: building and keying a statement per call costs more
# than SQLite takes to run it.
INSERT_INSTANCE = PROCESS_INSTANCES.insert()
INSERT_OPERATION = table(HistoryOperation).insert()
INSERT_HUMAN_TASKS = HUMAN_TASKS.insert()
INSERT_CANDIDATES = table(TaskCandidate).insert()
INSERT_HISTORY_TASKS = HISTORY_TASKS.insert()
INSERT_ACTIVITIES = HISTORY_ACTIVITIES.insert()
INSERT_VARIABLES = table(HistoryVariable).insert()
DELETE_HUMAN_TASKS = delete(HUMAN_TASKS).where(HUMAN_TASKS.c.id.in_(bindparam("ids", expanding=True)))
END_HISTORY_TASK = update(HISTORY_TASKS).where(HISTORY_TASKS.c.id == bindparam("task_id"))
END_ACTIVITY = update(HISTORY_ACTIVITIES).where(HISTORY_ACTIVITIES.c.id == bindparam("task_id"))


def changed_variables(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for name, value in after.items():
        old = before.get(name, _MISSING)
        if old is _MISSING or type(old) is not type(value) or old != value:
            changed[name] = value
    return changed


class StepWriter:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now

    def save(
        self,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        result: StepResult,
        *,
        actor: Actor | None,
        before: Mapping[str, Any],
        is_new: bool,
        completed_task_id: str | None = None,
        jobs: list[dict[str, Any]] | None = None,
    ) -> None:
        # Serialize first: if the data cannot be stored, nothing below is written.
        changes = runner.dump(instance.id)
        instance.workflow = changes.head
        if runner.completed and instance.state is InstanceState.ACTIVE:
            instance.state = InstanceState.COMPLETED
            instance.ended_at = self.now
        if result.error is not None:
            instance.error_message = result.error.message
            instance.error_activity_id = result.error.activity_id
            instance.error_details = result.error.details
            instance.error_at = self.now
        inserted = is_new and instance not in self.session
        if inserted:
            self._insert(instance)
        else:
            # Written even when the head reads the same: the task rows may have changed, and the
            # revision must move with every save (the optimistic lock; engine.live_instances).
            flag_modified(instance, "workflow")
            self.session.flush()  # the revision check happens here for existing instances
        state_store.write(self.session, instance.id, changes, is_new=inserted)
        if Runner.verify_state:
            runner.verify_stored(state_store.read(self.session, instance)[0])
        insert_jobs(self.session, jobs or [])
        sync_events(self.session, instance, runner, result, self.now, is_new)
        self._sync_tasks(instance, loaded, runner, actor, is_new, completed_task_id)
        self._activities(instance, result, is_new)
        self._variables(instance, before, runner.variables(), actor)
        if result.error is not None:
            self.operation(
                instance.id,
                None,
                "Incident",
                None,
                {"activityId": result.error.activity_id, "message": result.error.message},
            )

    def _insert(self, instance: ProcessInstance) -> None:
        """Insert a new instance with one Core statement, then attach it to the session unchanged.

        The ORM's unit of work costs several times the INSERT itself; attached afterwards, the object
        is persistent and clean, so any later change in this transaction is a versioned UPDATE.
        """
        instance.revision = 1
        values = {column.key: getattr(instance, column.key) for column in PROCESS_INSTANCES.columns}
        self.session.execute(INSERT_INSTANCE, [values])
        for key, value in values.items():
            # Columns never assigned would be expired on attaching, and re-read by a SELECT.
            setattr(instance, key, value)
        make_transient_to_detached(instance)
        self.session.add(instance)

    def operation(
        self,
        instance_id: str | None,
        task_id: str | None,
        operation: str,
        actor: Actor | None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.session.execute(
            INSERT_OPERATION,
            [
                {
                    "instance_id": instance_id,
                    "task_id": task_id,
                    "operation": operation,
                    "user_name": actor.name if actor else None,
                    "at": self.now,
                    "detail": detail,
                }
            ],
        )

    def _sync_tasks(
        self,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        actor: Actor | None,
        is_new: bool,
        completed_task_id: str | None,
    ) -> None:
        ready = {t.task_id: t for t in runner.ready_user_tasks()}
        # The task table mirrors the ready user tasks of the stored workflow, so what the runner saw
        # at load time is what the table holds: no query needed.
        existing: set[str] = set() if is_new else set(runner.initial_ready_ids)
        gone = sorted(existing - ready.keys())
        if gone:
            # Candidates go with their task (ON DELETE CASCADE).
            self.session.execute(DELETE_HUMAN_TASKS, {"ids": gone})
            self.session.execute(
                END_HISTORY_TASK,
                [
                    {
                        "task_id": task_id,
                        "ended_at": self.now,
                        "completed_by": actor.name if task_id == completed_task_id and actor else None,
                        "delete_reason": "completed" if task_id == completed_task_id else "deleted",
                    }
                    for task_id in gone
                ],
            )
        new_tasks = [t for tid, t in ready.items() if tid not in existing]
        if not new_tasks:
            return
        task_rows: list[dict[str, Any]] = []
        candidate_rows: list[dict[str, Any]] = []
        history_rows: list[dict[str, Any]] = []
        for task in new_tasks:
            model = loaded.model.user_tasks.get(task.activity_id)
            who = resolve(model, task.data)
            forms = model.form_fields if model else []
            task_rows.append(
                {
                    "id": task.task_id,
                    "instance_id": instance.id,
                    "definition_id": instance.definition_id,
                    "process_key": instance.process_key,
                    "activity_id": task.activity_id,
                    "name": task.name or task.activity_id,
                    "description": model.documentation if model else None,
                    "assignee": who.assignee,
                    "created_at": self.now,
                    "due_at": who.due_at,
                    "priority": who.priority,
                    "form_fields": forms,
                }
            )
            for kind, names in (("user", who.candidate_users), ("group", who.candidate_groups)):
                candidate_rows += [
                    {
                        "task_id": task.task_id,
                        "kind": kind,
                        "identity": name,
                        "created_at": self.now,
                        "assigned": who.assignee is not None,
                    }
                    for name in names
                ]
            history_rows.append(
                {
                    "id": task.task_id,
                    "instance_id": instance.id,
                    "definition_id": instance.definition_id,
                    "process_key": instance.process_key,
                    "activity_id": task.activity_id,
                    "name": task.name or task.activity_id,
                    "assignee": who.assignee,
                    "created_at": self.now,
                    "due_at": who.due_at,
                    "priority": who.priority,
                }
            )
        self.session.execute(INSERT_HUMAN_TASKS, task_rows)
        if candidate_rows:
            self.session.execute(INSERT_CANDIDATES, candidate_rows)
        self.session.execute(INSERT_HISTORY_TASKS, history_rows)

    def _activities(self, instance: ProcessInstance, result: StepResult, is_new: bool) -> None:
        if not result.events:
            return
        starts: dict[str, dict[str, Any]] = {}
        ends: dict[str, datetime] = {}
        canceled: set[str] = set()
        for event in result.events:
            if event.first and event.task_id not in starts:
                starts[event.task_id] = {
                    "id": event.task_id,
                    "instance_id": instance.id,
                    "definition_id": instance.definition_id,
                    "activity_id": event.activity_id,
                    "activity_name": event.activity_name,
                    "activity_type": event.activity_type,
                    "started_at": event.at,
                    "ended_at": None,
                    "canceled": False,
                    "assignee": None,
                }
            if event.ended:
                ends[event.task_id] = event.at
            if event.canceled:
                canceled.add(event.task_id)
        # Activities first reported in this step are inserted whole; the others were inserted by an
        # earlier step (the runner marks reported tasks in the stored workflow) and only end now.
        for task_id, row in starts.items():
            row["ended_at"] = ends.get(task_id)
            row["canceled"] = task_id in canceled
        if starts:
            self.session.execute(INSERT_ACTIVITIES, list(starts.values()))
        later = [
            {"task_id": t, "ended_at": at, "canceled": t in canceled}
            for t, at in ends.items()
            if t not in starts
        ]
        if later:
            self.session.execute(END_ACTIVITY, later)

    def _variables(
        self,
        instance: ProcessInstance,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        actor: Actor | None,
    ) -> None:
        changed = changed_variables(before, after)
        if changed:
            self.session.execute(
                INSERT_VARIABLES,
                [
                    {
                        "instance_id": instance.id,
                        "name": name,
                        "value": dumps(value),
                        "changed_at": self.now,
                        "activity_id": None,
                        "user_name": actor.name if actor else None,
                    }
                    for name, value in changed.items()
                ],
            )
