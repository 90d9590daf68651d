"""A running BPMN workflow as the engine sees it: start, user tasks, completion, observations.

This is the only place that drives SpiffWorkflow's ``BpmnWorkflow``; the services above it speak
in activity ids, task ids and plain variables.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.exceptions import FlowdeskError, TaskNotFound
from engine.spiff import code_events, walk
from engine.spiff.engine_steps import run_engine_steps
from engine.spiff.event_scopes import finish_interrupted_scopes, settle
from engine.spiff.families import Family
from engine.spiff.multi_instance import take_cancelled
from engine.spiff.pruning import Pruner
from engine.spiff.runner_calls import CallSteps
from engine.spiff.runner_compensation import CompensationSteps
from engine.spiff.runner_events import EventSteps
from engine.spiff.runner_state import StoredState
from engine.spiff.serialization import workflow_from_envelope, workflow_from_json
from engine.spiff.snapshot import (
    RECORDED,
    OpenTasks,
    ReadyUserTask,
    Snapshot,
    WaitingServiceTask,
    verify,
)
from engine.spiff.state_text import StateText, StoredAs
from engine.spiff.step_types import (
    ActivityEvent,
    HostFailure,
    ServiceCall,
    StepError,
    StepResult,
    activity_type_of,
)
from engine.spiff.waits import WaitingEvent

__all__ = [
    "ActivityEvent",
    "ReadyUserTask",
    "Runner",
    "Snapshot",
    "StepError",
    "StepResult",
    "StoredAs",
    "WaitingServiceTask",
]

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_RECORDED = RECORDED
# Every completed task makes the library look for WAITING tasks; engine.spiff.walk makes that cheap.
walk.install()


class Runner(StoredState, EventSteps, CallSteps, CompensationSteps):
    """Owns one ``BpmnWorkflow`` for the length of one engine operation."""

    # Tests switch this on to compare every updated view of the open tasks with a fresh walk.
    verify_views = False

    def __init__(self, fam: Family, workflow: BpmnWorkflow, clock: Callable[[], datetime]) -> None:
        self.family = fam
        self.workflow = workflow
        self.clock = clock
        self._snapshot: Snapshot | None = None
        self._view: OpenTasks | None = None
        # The user tasks open when the workflow was loaded: the rows the task table holds for it.
        self.initial_ready_ids: frozenset[str] = frozenset()
        # Likewise the timers and subscriptions the event tables hold for it.
        self.initial_events: tuple[WaitingEvent, ...] = ()
        # Set by the engine for steps that may run handlers; without it every service task waits.
        self.service_call: ServiceCall | None = None
        self._state_text = StateText(fam)
        self.stored_text = None

    @classmethod
    def new(
        cls,
        fam: Family,
        spec: Any,
        subprocess_specs: dict[str, Any],
        script_engine: Any,
        clock: Callable[[], datetime],
    ) -> Runner:
        return cls(fam, BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine), clock)

    @classmethod
    def load(
        cls,
        fam: Family,
        state: str | dict[str, Any],
        spec: Any,
        subprocess_specs: dict[str, Any],
        script_engine: Any,
        clock: Callable[[], datetime],
        *,
        stored: StoredAs | None = None,
    ) -> Runner:
        """Rebuild a workflow from a whole-state text or envelope.

        ``stored``: the head text and task rows the envelope was put together from
        (engine.state_store), so the next save writes only what changes.
        """
        if isinstance(state, str):
            workflow = workflow_from_json(fam, state, spec, subprocess_specs, script_engine)
        else:
            workflow = workflow_from_envelope(fam, state, spec, subprocess_specs, script_engine)
        runner = cls(fam, workflow, clock)
        runner._state_text.watch(workflow)
        if stored is not None:
            runner.stored_text = stored.head
            runner._state_text.seed(workflow, stored.rows)
        runner.resume()
        return runner

    def resume(self) -> None:
        """Begin an operation on this workflow: what the task and event tables hold for it now.

        Called on load, and on a workflow kept in memory since the operation that stored it
        (engine.live_instances), which is then exactly what a load would give.
        """
        self.service_call = None
        snapshot = self.snapshot()
        self.initial_ready_ids = frozenset(t.task_id for t in snapshot.ready_user_tasks)
        self.initial_events = tuple(snapshot.waiting_events)

    # -- running --------------------------------------------------------------------------------

    def start(self, variables: Mapping[str, Any]) -> StepResult:
        self._snapshot = None
        self.workflow.task_tree.data.update(variables)
        return self._run_engine(StepResult())

    def complete_user_task(self, task_id: str, values: Mapping[str, Any]) -> StepResult:
        task = self._ready_user_task(task_id)
        self._snapshot = None
        result = StepResult()
        task.set_data(**values)
        try:
            task.run()
        except (SpiffWorkflowException, FlowdeskError, Exception) as err:
            result.error = self._error(err, task)
            return result
        result.events.append(self._event(task, ended=True))
        return self._run_engine(result)

    def complete_service_task(self, task_id: str, outputs: Mapping[str, Any]) -> StepResult:
        """Finish a service task whose handler (or external worker) succeeded, and run on."""
        return self._complete_started(self._started_service_task(task_id), outputs)

    def _complete_started(self, task: Any, outputs: Mapping[str, Any]) -> StepResult:
        """Complete a STARTED task (service task, call activity) with ``outputs``, and run on."""
        self._snapshot = None
        result = StepResult()
        task.data.update(outputs)
        walk.touched(task)
        try:
            task.complete()
        except Exception as err:
            result.error = self._error(err, task)
            return result
        result.events.append(self._event(task, ended=True))
        return self._run_engine(result)

    def throw_error(self, task_id: str, code: str, variables: Mapping[str, Any]) -> StepResult | None:
        """Let the innermost catcher of BPMN error ``code`` thrown by the service task catch it: an
        error boundary event on it, an error event subprocess of its scope, and so on outward
        (engine.spiff.code_events); None when none does.

        A catcher with the same error code wins over one without a code (a catch-all).
        """
        return self._catch_error(self._started_service_task(task_id), code, variables)

    def _catch_error(self, task: Any, code: str, variables: Mapping[str, Any]) -> StepResult | None:
        """``task`` (a started service task or call activity) throws BPMN error ``code``; see throw_error."""
        open_before = self._open_activities()
        # Only the kind and the code of the thrown error are read.
        thrown = ErrorEventDefinition(code, code=code)
        if code_events.throw(self.workflow, task, thrown, code, dict(variables)) is None:
            return None
        self._snapshot = None
        # What the caught error interrupted (the thrower, its scope) ends in history as cancelled.
        return self._cancellations(open_before, self._run_engine(StepResult()))

    def _started_service_task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException):
            task = None
        if (
            task is None
            or not isinstance(task.task_spec, ServiceTaskMixin)
            or not task.has_state(TaskState.STARTED)
        ):
            raise TaskNotFound(f"Service task {task_id} is not waiting for its result", task_id=task_id)
        return task

    def _run_engine(self, result: StepResult) -> StepResult:
        self._snapshot = None
        seen: set[UUID] = set()
        pruner = Pruner()

        def will(task: Any) -> None:
            if task.task_spec.bpmn_id is not None:
                self._enclosing_first(task, result)
                seen.add(task.id)
                result.events.append(self._event(task, ended=False))

        def did(task: Any) -> None:
            if task.task_spec.bpmn_id is not None:
                if (
                    self.service_call is not None
                    and task.state == TaskState.STARTED
                    and isinstance(task.task_spec, ServiceTaskMixin)
                ):
                    self._call_service(self.service_call, task)
                result.events.append(self._event(task, ended=task.has_state(TaskState.FINISHED_MASK)))
            pruner.after(task)

        current: Any = None
        try:
            run_engine_steps(self.workflow, will, did)
            for task in take_cancelled(self.workflow):
                result.events.append(replace(self._event(task, ended=True), canceled=True))
            self._cancellations(code_events.take_open_before_interrupts(self.workflow), result)
        except HostFailure as failure:
            raise failure.original from None
        except (SpiffWorkflowException, FlowdeskError, Exception) as err:
            current = getattr(err, "task", None)
            result.error = self._error(err, current)
        pruner.finish()
        # A boundary event waits as long as its activity runs; it enters history only if it fires.
        # An open task reported by an earlier step has nothing new to say (history inserts an
        # activity when first reported and updates it only when it ends).
        for task in self._open_view().unreported:
            if not task.internal_data.get(_RECORDED):
                result.events.append(self._event(task, ended=False))
        if result.error is None and self.workflow.subprocesses:
            cancelled = settle(self.workflow)
            if cancelled:
                self._cancellations(cancelled, result)
                return self._run_engine(result)
            if finish_interrupted_scopes(self.workflow):
                return self._run_engine(result)
        return result

    def _enclosing_first(self, task: Any, result: StepResult) -> None:
        """Report the subprocess a task runs in before the task, if it was not reported yet.

        SpiffWorkflow starts subprocess tasks without the engine-step callbacks, so history would
        otherwise list a subprocess after the activities inside it.
        """
        parent_id = getattr(task.workflow, "parent_task_id", None)
        if parent_id is None:
            return
        parent = self.workflow.get_task_from_id(parent_id)
        if parent is None or parent.internal_data.get(_RECORDED) or parent.task_spec.bpmn_id is None:
            return
        self._enclosing_first(parent, result)
        result.events.append(self._event(parent, ended=False))

    @staticmethod
    def _call_service(call: ServiceCall, task: Any) -> None:
        """Run a service task's handler within this engine pass, as SpiffWorkflow runs a script task.

        Completing it here, instead of stopping and running the engine again for each service task,
        saves a pass over the task tree per task. A failure leaves the task waiting (STARTED).
        """
        try:
            outputs = call(WaitingServiceTask(str(task.id), task.task_spec.bpmn_id, task.data))
        except BaseException as err:
            raise HostFailure(err) from err
        if outputs is not None:
            task.data.update(outputs)
            walk.touched(task)
            task.complete()

    def _event(self, task: Any, *, ended: bool) -> ActivityEvent:
        spec = task.task_spec
        first = not task.internal_data.get(_RECORDED)
        if first:
            task.internal_data[_RECORDED] = True
            walk.touched(task)
        return ActivityEvent(
            task_id=str(task.id),
            activity_id=spec.bpmn_id,
            activity_name=spec.bpmn_name,
            activity_type=activity_type_of(task),
            at=self.clock(),
            ended=ended,
            state=TaskState.get_name(task.state),
            first=first,
        )

    def _error(self, err: BaseException, task: Any) -> StepError:
        # SpiffWorkflow wraps expression errors raised while it handles the original one (__context__).
        context = err.__context__ if isinstance(err, WorkflowException) else None
        cause: BaseException = getattr(err, "exception", None) or err.__cause__ or context or err
        line = getattr(err, "line_number", None)
        if isinstance(cause, FlowdeskError):
            message = cause.message
            line = cause.context.get("line", line)
        elif isinstance(err, WorkflowException):
            message = str(err.args[0]) if err.args else str(err)
        else:
            message = f"{type(err).__name__}: {err}"
        activity = task.task_spec.bpmn_id if task is not None else None
        return StepError(
            activity,
            message,
            line if isinstance(line, int) else None,
            "".join(traceback.format_exception(err)),
        )

    # -- reading ---------------------------------------------------------------------------------

    def _ready_user_task(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None or not task.task_spec.manual or not task.has_state(TaskState.READY):
            raise TaskNotFound(
                f"Task {task_id} is not open (it may have been completed already)", task_id=task_id
            )
        return task

    def snapshot(self) -> Snapshot:
        """Ready user tasks, waiting service tasks, open activities and variables (engine.spiff.snapshot)."""
        if self._snapshot is None:
            self._open_view()
        assert self._snapshot is not None
        return self._snapshot

    def _open_view(self) -> OpenTasks:
        """The open tasks now: walked once, then updated from what each change did."""
        self._view = OpenTasks.walked(self.workflow) if self._view is None else self._view.refreshed()
        self._snapshot = self._view.snapshot()
        if self.verify_views:
            verify(self._view)
        return self._view

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        return self.snapshot().ready_user_tasks

    def waiting_service_tasks(self) -> list[WaitingServiceTask]:
        return self.snapshot().waiting_service_tasks

    def open_activity_ids(self) -> list[str]:
        return self.snapshot().open_activity_ids

    @property
    def completed(self) -> bool:
        self.snapshot()
        if self._view is not None and self._view.has_own_open_task():
            # An open task of the process's own is known without asking the library, whose
            # check walks into that task's children (all 1,000 of a multi-instance).
            return False
        return bool(self.workflow.is_completed())

    def variables(self) -> dict[str, Any]:
        """The instance's variables: the data the open tasks see, or the final data when done."""
        return dict(self.snapshot().variables)
