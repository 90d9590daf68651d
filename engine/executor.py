"""Running service tasks: inline in the step that reaches them, or later as jobs.

A service task reached by a step becomes a job row. An in-process handler without
``camunda:asyncBefore`` runs at once, inside the step's transaction but in a savepoint: when it
fails, its own writes are rolled back, the step keeps everything before the service task, and the
job waits for a worker to retry it. External tasks always wait for a remote worker.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy.orm import Session

from engine.bindings import EXPRESSION, EXTERNAL, ServiceTaskModel
from engine.compensating import Waiting, compensate
from engine.compensation import COMPENSATE
from engine.db.database import mark_jobs_created
from engine.db.models import Job, JobKind, ProcessInstance, table
from engine.definitions import LoadedDefinition
from engine.exceptions import FlowdeskError, ScriptError
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from engine.references import resolve_value
from engine.sandbox import Sandbox
from engine.spiff.runner import ActivityEvent, Runner, StepResult, WaitingServiceTask
from engine.varcodec import check_storable

log = logging.getLogger("flowdesk.executor")


@dataclass(frozen=True)
class Outcome:
    """What one handler call came to: outputs, a BPMN error, or a technical failure."""

    outputs: dict[str, Any] | None = None
    bpmn_error: BpmnError | None = None
    failure: str | None = None
    details: str | None = None
    # A compensation throw event waits for a handler task: no job, no failure (engine.compensating);
    # ``started`` is the step that started that task, when this call did.
    pending: bool = False
    started: StepResult | None = None


def backoff_seconds(model_interval: int, attempt: int, fixed: bool) -> int:
    """Seconds before the next attempt: fixed for an explicit retry cycle, else doubling."""
    return model_interval if fixed else model_interval * 2 ** max(attempt - 1, 0)


class Executor:
    def __init__(self, registry: HandlerRegistry, sandbox: Sandbox) -> None:
        self.registry = registry
        self.sandbox = sandbox

    # -- one handler call --------------------------------------------------------------------------

    def inputs(self, model: ServiceTaskModel, data: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in model.inputs:
            values[name] = _resolve(spec, data, self.sandbox, model.language)
        for name, expression in model.spiff_params.items():
            values[name] = self.sandbox.evaluate(expression, {**data, **values})
        return values

    def call(
        self,
        session: Session,
        instance: ProcessInstance,
        model: ServiceTaskModel,
        waiting: WaitingServiceTask,
        *,
        loaded: LoadedDefinition | None = None,
        recent: Sequence[ActivityEvent] = (),
        now: datetime | None = None,
        runner: Runner | None = None,
    ) -> Outcome:
        """Run the handler; its writes (in a savepoint opened when it first uses ctx.session) survive
        only if it succeeds.

        A compensation throw event (``loaded`` needed, ``runner`` for handlers that are tasks) runs
        its handlers (``engine.compensating``); ``recent`` are the activity events of the step
        running now, not in history yet.
        """
        if model.kind == EXPRESSION:
            return self._expression(model, waiting)
        if model.kind == COMPENSATE:
            if loaded is None:
                return Outcome(failure="compensation needs the process definition; this is a bug")
            try:
                when = now or datetime.now(UTC)
                done = compensate(self, session, instance, loaded, waiting, recent, when, runner)
                if isinstance(done, Waiting):
                    return Outcome(pending=True, started=done.started)
                return Outcome(outputs=done)
            except (FlowdeskError, TypeError, ValueError) as err:
                message = err.message if isinstance(err, FlowdeskError) else str(err)
                return Outcome(failure=message, details=traceback.format_exc())
        fn = self.registry.get(model.name)
        if fn is None:
            return Outcome(
                failure=f"no handler is registered as {model.name!r}; registered: "
                f"{', '.join(self.registry.names()) or 'none'}"
            )
        try:
            inputs = self.inputs(model, waiting.data)
        except (ScriptError, FlowdeskError) as err:
            return Outcome(failure=f"input mapping failed: {err.message}")
        savepoints: list[Any] = []

        def open_session() -> Session:
            # First use of ctx.session: the instance row must exist for rows that refer to it, and
            # the handler's writes go into a savepoint so that a failure undoes only them.
            if instance not in session:
                session.add(instance)
                session.flush()
            savepoints.append(session.begin_nested())
            return session

        ctx = HandlerContext(
            variables=MappingProxyType({**waiting.data, **inputs}),
            business_key=instance.business_key,
            process_instance_id=instance.id,
            activity_id=waiting.activity_id,
            idempotency_key=f"{instance.id}:{waiting.task_id}",
            open_session=open_session,
            log=logging.getLogger(f"flowdesk.handler.{model.name}"),
            inputs=MappingProxyType(inputs),
        )
        try:
            returned = fn(ctx)
            if savepoints:
                session.flush()
        except BpmnError as err:
            for savepoint in savepoints:
                savepoint.rollback()
            return Outcome(bpmn_error=err)
        except Exception as err:
            for savepoint in savepoints:
                savepoint.rollback()
            log.info("handler %s failed for %s/%s: %s", model.name, instance.id, waiting.activity_id, err)
            return Outcome(failure=f"{type(err).__name__}: {err}", details=traceback.format_exc())
        for savepoint in savepoints:
            savepoint.commit()
        try:
            return Outcome(outputs=self._outputs(model, waiting.data, inputs, returned))
        except (FlowdeskError, TypeError, ValueError) as err:
            message = err.message if isinstance(err, FlowdeskError) else str(err)
            return Outcome(failure=f"handler {model.name!r} returned values that cannot be stored: {message}")

    def _outputs(
        self,
        model: ServiceTaskModel,
        data: Mapping[str, Any],
        inputs: Mapping[str, Any],
        returned: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if returned is not None and not isinstance(returned, Mapping):
            raise TypeError(
                f"a handler returns a mapping of variables or None, not {type(returned).__name__}"
            )
        result = dict(returned or {})
        if model.outputs:
            scope = {**data, **inputs, **result}
            result = {
                name: _resolve(spec, scope, self.sandbox, model.language) for name, spec in model.outputs
            }
        return {name: check_storable(name, value) for name, value in result.items()}

    def external_outputs(
        self,
        model: ServiceTaskModel | None,
        data: Mapping[str, Any],
        variables: Mapping[str, Any],
        local_variables: Mapping[str, Any],
    ) -> dict[str, Any]:
        """What an external task's completion writes to the process, as Camunda 7 scopes it.

        With ``camunda:inputOutput`` the task has a local scope holding its input parameters and
        the worker's ``localVariables``; ``variables`` reach the process scope except those named
        like a local variable (an input parameter), which update it. Output parameters are then
        evaluated in that local scope and set on the process. Without mappings, both sets reach
        the process (there is no local scope to keep them in).
        """
        if model is None or (not model.inputs and not model.outputs):
            return {**local_variables, **variables}
        inputs = self.inputs(model, data)
        result = {name: value for name, value in variables.items() if name not in inputs}
        scope = {**data, **inputs, **variables, **local_variables}
        for name, spec in model.outputs:
            result[name] = _resolve(spec, scope, self.sandbox, model.language)
        return {name: check_storable(name, value) for name, value in result.items()}

    def _expression(self, model: ServiceTaskModel, waiting: WaitingServiceTask) -> Outcome:
        """camunda:expression: evaluate the EL (in the sandbox), store it in camunda:resultVariable."""
        try:
            inputs = self.inputs(model, waiting.data)
            value = resolve_value(model.expression, {**waiting.data, **inputs}, self.sandbox)
            returned = {model.result_variable: value} if model.result_variable else None
            return Outcome(outputs=self._outputs(model, waiting.data, inputs, returned))
        except (FlowdeskError, TypeError, ValueError) as err:
            message = err.message if isinstance(err, FlowdeskError) else str(err)
            return Outcome(failure=f"camunda:expression failed: {message}")

    def inline_calls(
        self, session: Session, instance: ProcessInstance, loaded: LoadedDefinition
    ) -> InlineCalls:
        return InlineCalls(self, session, instance, loaded)

    # -- a step's service tasks --------------------------------------------------------------------

    def advance(
        self,
        session: Session,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        result: StepResult,
        now: datetime,
        known_task_ids: set[str],
    ) -> list[dict[str, Any]]:
        """Run what can run now; return the job rows to insert for service tasks left waiting."""
        jobs: list[dict[str, Any]] = []
        queued: set[str] = set(known_task_ids)
        # Compensation throw events waiting for a handler task: looked at again once anything moved.
        on_hold: set[str] = set()
        calls = runner.service_call if isinstance(runner.service_call, InlineCalls) else None
        while result.error is None:
            waiting = [w for w in runner.waiting_service_tasks() if w.task_id not in queued | on_hold]
            if not waiting:
                break
            progressed = False
            for item in waiting:
                model = loaded.model.service_tasks.get(item.activity_id)
                if model is None:  # deployed before bindings existed: make it visible, never silent
                    model = ServiceTaskModel(item.activity_id, "handler", f"<unbound {item.activity_id}>")
                if model.kind == EXTERNAL or model.async_before:
                    jobs.append(self.job_row(instance, loaded, model, item, now))
                    queued.add(item.task_id)
                    continue
                # A handler that already ran while the engine reached the task left its outcome.
                recorded = calls.outcomes.pop(item.task_id, None) if calls is not None else None
                outcome = recorded or self.call(
                    session,
                    instance,
                    model,
                    item,
                    loaded=loaded,
                    recent=result.events,
                    now=now,
                    runner=runner,
                )
                if outcome.pending and outcome.started is None:
                    # A compensation handler task runs; the throw event waits for it, not for a job.
                    on_hold.add(item.task_id)
                    continue
                step = self.apply(runner, item, outcome)
                if step is None:
                    jobs.append(self.job_row(instance, loaded, model, item, now, outcome=outcome))
                    queued.add(item.task_id)
                    continue
                result.events.extend(step.events)
                result.error = step.error
                progressed = True
                on_hold.clear()  # a handler task may have finished on the way
                break
            if not progressed:
                break
        return jobs

    @staticmethod
    def apply(runner: Runner, item: WaitingServiceTask, outcome: Outcome) -> StepResult | None:
        """Move the workflow on after a handler outcome; None when the job must wait (failure, no catcher)."""
        if outcome.pending:
            return outcome.started or StepResult()
        if outcome.outputs is not None:
            return runner.complete_service_task(item.task_id, outcome.outputs)
        if outcome.bpmn_error is not None:
            err = outcome.bpmn_error
            return runner.throw_error(item.task_id, err.code, err.variables)
        return None

    @staticmethod
    def failure_of(outcome: Outcome) -> tuple[str, str | None]:
        if outcome.bpmn_error is not None:
            err = outcome.bpmn_error
            return (
                f"BPMN error {err.code!r} ({err.message}) has no error boundary event or error event "
                "subprocess to catch it; add one with this error code (or without a code to catch every "
                "error)",
                None,
            )
        return outcome.failure or "unknown failure", outcome.details

    def job_row(
        self,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        model: ServiceTaskModel,
        item: WaitingServiceTask,
        now: datetime,
        outcome: Outcome | None = None,
    ) -> dict[str, Any]:
        external = model.kind == EXTERNAL
        row: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "instance_id": instance.id,
            "definition_id": loaded.info.id,
            "process_key": loaded.info.key,
            "business_key": instance.business_key,
            "task_id": item.task_id,
            "activity_id": item.activity_id,
            "kind": JobKind.EXTERNAL if external else JobKind.HANDLER,
            "topic": model.name,
            "priority": model.priority,
            "retries": None if external else model.retries,
            "max_retries": model.retries,
            "retry_interval_seconds": model.retry_interval_seconds,
            "exponential_backoff": not model.explicit_retry_cycle,
            "due_at": now,
            "created_at": now,
            "locked_by": None,
            "locked_until": None,
            "attempts": 0,
            "error_message": None,
            "error_details": None,
            "failed_at": None,
            "payload": None,
        }
        if outcome is not None:
            message, details = self.failure_of(outcome)
            no_catcher = outcome.bpmn_error is not None
            row.update(
                attempts=1,
                error_message=message,
                error_details=details,
                failed_at=now,
                retries=0 if no_catcher else max(model.retries - 1, 0),
                due_at=now + timedelta(seconds=model.retry_interval_seconds),
                # The code, for a called instance's parent, whose call activity may catch it.
                payload={"bpmnError": outcome.bpmn_error.code} if outcome.bpmn_error is not None else None,
            )
        return row


class InlineCalls:
    """The handlers a step runs as the engine reaches their service tasks (``Runner.service_call``).

    Only synchronous in-process handlers run here; asynchronous and external tasks wait for their
    job. A BPMN error or a failure is kept in ``outcomes`` for ``Executor.advance``, which throws
    the error to a boundary event or turns the failure into a job with retries.
    """

    def __init__(
        self, executor: Executor, session: Session, instance: ProcessInstance, loaded: LoadedDefinition
    ) -> None:
        self.executor = executor
        self.session = session
        self.instance = instance
        self.loaded = loaded
        self.outcomes: dict[str, Outcome] = {}

    def __call__(self, item: WaitingServiceTask) -> Mapping[str, Any] | None:
        model = self.loaded.model.service_tasks.get(item.activity_id)
        # Compensation needs the activities of the whole step, known only once the pass is over.
        if model is None or model.kind in (EXTERNAL, COMPENSATE) or model.async_before:
            return None
        outcome = self.executor.call(self.session, self.instance, model, item, loaded=self.loaded)
        if outcome.outputs is not None:
            return outcome.outputs
        self.outcomes[item.task_id] = outcome
        return None


def insert_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(table(Job).insert(), rows)
        mark_jobs_created(session)


def _resolve(spec: Any, scope: Mapping[str, Any], sandbox: Sandbox, language: str) -> Any:
    if isinstance(spec, list):
        return [_resolve(item, scope, sandbox, language) for item in spec]
    if isinstance(spec, dict):
        return {key: _resolve(value, scope, sandbox, language) for key, value in spec.items()}
    return resolve_value(spec, scope, sandbox, language)
