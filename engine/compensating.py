"""Running compensation: the handlers of the completed activities a throw event compensates.

A compensation throw event waits like a service task; the executor runs it here. The completed
activities come from history (earlier steps) and from the step running now, most recent first;
each completed activity instance is compensated once (a ``Compensate`` row in the operation log
says which). In-process handlers run in one savepoint: when one fails, none of their writes stay,
and the throw event is retried as a job, then an incident, like a failing service task. A handler
that is a user task or an external task is a task the throw event waits for (``Waiting``); what ran
before it is kept, and the handlers after it run once it has finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import HistoryActivity, HistoryOperation, ProcessInstance, table
from engine.definitions import LoadedDefinition
from engine.exceptions import FlowdeskError, ProcessError
from engine.spiff.runner import ActivityEvent, Runner, StepResult, WaitingServiceTask
from engine.varcodec import check_storable

if TYPE_CHECKING:
    from engine.executor import Executor  # the executor calls this module

OPERATION = "Compensate"
_MISSING = object()
_HANDLER_RUN = "~compensation"  # the history id of a handler run: the compensated task's id + this


class CompensationFailed(ProcessError):
    """A compensation handler failed; the throw event is retried, then an incident."""


def _completed(session: Session, instance_id: str, recent: Sequence[ActivityEvent]) -> list[tuple[str, str]]:
    """(task id, activity id) of the instance's completed activities, in the order they ended."""
    rows = session.execute(
        select(HistoryActivity.id, HistoryActivity.activity_id)
        .where(
            HistoryActivity.instance_id == instance_id,
            HistoryActivity.ended_at.is_not(None),
            HistoryActivity.canceled.is_(False),
        )
        .order_by(HistoryActivity.ended_at, HistoryActivity.seq)
    ).all()
    found = [(task_id, activity_id) for task_id, activity_id in rows]
    seen = {task_id for task_id, _ in found}
    for event in recent:
        if event.ended and not event.canceled and event.state == "COMPLETED" and event.task_id not in seen:
            seen.add(event.task_id)
            found.append((event.task_id, event.activity_id))
    return found


def _compensated(session: Session, instance_id: str) -> set[str]:
    query = select(HistoryOperation.task_id).where(
        HistoryOperation.instance_id == instance_id, HistoryOperation.operation == OPERATION
    )
    return {task_id for task_id in session.scalars(query) if task_id}


@dataclass(frozen=True)
class Waiting:
    """The throw event waits for a handler task; ``started`` is the step that started it, when this
    call did (None: it was open already)."""

    started: StepResult | None = None


def compensate(
    executor: Executor,
    session: Session,
    instance: ProcessInstance,
    loaded: LoadedDefinition,
    waiting: WaitingServiceTask,
    recent: Sequence[ActivityEvent],
    now: datetime,
    runner: Runner | None = None,
) -> dict[str, Any] | Waiting:
    """Run the handlers; the variables they changed (the throw event completes with them), or
    ``Waiting`` while a handler that is a user or external task is open.

    Each handler run is an activity in history too (the diagram shows it done), besides the
    ``Compensate`` operation that marks the activity instance as compensated. A handler task
    (``runner`` needed) is started when its turn comes, and compensated once it has finished; the
    handlers that ran before it stay compensated while it is open.
    """
    plan = loaded.model.compensation
    targets = plan.compensable(waiting.activity_id)
    done = _compensated(session, instance.id)
    todo = [
        (task_id, activity_id)
        for task_id, activity_id in reversed(_completed(session, instance.id, recent))
        if activity_id in targets and task_id not in done
    ]
    runs = runner.compensation_runs(waiting.task_id) if runner is not None and plan.waiting else {}
    data = dict(waiting.data)
    changed: dict[str, Any] = {}
    start: tuple[str, str] | None = None  # a handler task to start, and the instance it compensates
    savepoint = session.begin_nested()
    try:
        for task_id, activity_id in todo:
            handler = plan.handlers[activity_id]
            if activity_id in plan.waiting:
                run = runs.get(task_id)
                if run is None:
                    start = (handler, task_id)
                    break
                if not run.finished:
                    break  # open: wait for it
                outputs = {k: v for k, v in run.data.items() if data.get(k, _MISSING) != v}
            else:
                outputs = _run_handler(executor, session, instance, loaded, handler, task_id, data)
            data.update(outputs)
            changed.update(outputs)
            _record(session, instance, now, (task_id, activity_id, handler), waiting.activity_id)
            if activity_id not in plan.waiting:  # a handler task is in history already
                _record_run(session, instance, loaded, now, task_id, handler)
        else:
            savepoint.commit()
            return changed
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()  # the handlers before the handler task stay compensated while it runs
    if start is None:
        return Waiting()
    if runner is None:
        raise CompensationFailed(
            f"compensation handler {start[0]!r} is a task and needs the workflow (a bug)"
        )
    return Waiting(runner.start_compensation_handler(waiting.task_id, start[0], start[1], changed))


def _record(
    session: Session,
    instance: ProcessInstance,
    now: datetime,
    what: tuple[str, str, str],
    by: str,
) -> None:
    """The ``Compensate`` operation: (task id, activity id, handler id) ``what`` is compensated."""
    task_id, activity_id, handler = what
    session.execute(
        table(HistoryOperation).insert(),
        [
            {
                "instance_id": instance.id,
                "task_id": task_id,
                "operation": OPERATION,
                "user_name": None,
                "at": now,
                "detail": {"activityId": activity_id, "handler": handler, "by": by},
            }
        ],
    )


def _record_run(
    session: Session,
    instance: ProcessInstance,
    loaded: LoadedDefinition,
    now: datetime,
    task_id: str,
    handler: str,
) -> None:
    session.execute(
        table(HistoryActivity).insert(),
        [
            {
                "id": f"{task_id}{_HANDLER_RUN}",
                "instance_id": instance.id,
                "definition_id": instance.definition_id,
                "activity_id": handler,
                "activity_name": loaded.model.names.get(handler),
                "activity_type": loaded.model.types.get(handler, "serviceTask"),
                "started_at": now,
                "ended_at": now,
                "canceled": False,
                "assignee": None,
            }
        ],
    )


def _run_handler(
    executor: Executor,
    session: Session,
    instance: ProcessInstance,
    loaded: LoadedDefinition,
    handler: str,
    task_id: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    script = loaded.model.compensation.scripts.get(handler)
    if script is not None:
        scope = dict(data)
        try:
            executor.sandbox.execute(script, scope)
        except FlowdeskError as err:
            raise CompensationFailed(f"compensation handler {handler!r} failed: {err.message}") from err
        return {
            name: check_storable(name, value)
            for name, value in scope.items()
            if not name.startswith("_") and data.get(name, _MISSING) != value
        }
    model = loaded.model.service_tasks.get(handler)
    if model is None:
        raise CompensationFailed(f"compensation handler {handler!r} has no binding; redeploy the process")
    # A key of its own per compensated activity instance: stable across retries of the throw event.
    item = WaitingServiceTask(f"{task_id}{_HANDLER_RUN}", handler, data)
    outcome = executor.call(session, instance, model, item)
    if outcome.outputs is None:
        why = outcome.failure or (outcome.bpmn_error.message if outcome.bpmn_error else "it failed")
        raise CompensationFailed(f"compensation handler {handler!r} failed: {why}")
    return outcome.outputs
