"""The Runner's call activity steps: which call activities wait, completing them, child errors.

A mixin of ``engine.spiff.runner.Runner`` (like ``runner_events``); ``engine.calls`` decides what
to do, this module only moves the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.exceptions import TaskNotFound
from engine.spiff.call_specs import is_call_activity

if TYPE_CHECKING:
    from engine.spiff.runner import ActivityEvent, StepError, StepResult


@dataclass(frozen=True)
class WaitingCall:
    """A call activity waiting for its child instance."""

    task_id: str
    activity_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class UncaughtError:
    """A BPMN error thrown in a child instance that nothing in the child caught."""

    code: str | None
    name: str | None


class CallSteps:
    workflow: Any
    _snapshot: Any

    if TYPE_CHECKING:

        def _run_engine(self, result: StepResult) -> StepResult: ...

        def _event(self, task: Any, *, ended: bool) -> ActivityEvent: ...

        def _error(self, err: BaseException, task: Any) -> StepError: ...

        def _catch_error(self, task: Any, code: str, variables: Mapping[str, Any]) -> StepResult | None: ...

        def _complete_started(self, task: Any, outputs: Mapping[str, Any]) -> StepResult: ...

        def _open_activities(self) -> list[Any]: ...

        def _cancellations(self, open_before: list[Any], result: StepResult) -> StepResult: ...

    def waiting_call_activities(self) -> list[WaitingCall]:
        return [
            WaitingCall(str(task.id), task.task_spec.bpmn_id, task.data)
            for task in self.workflow.get_tasks(state=TaskState.STARTED)
            if is_call_activity(task.task_spec)
        ]

    def complete_call_activity(self, task_id: str, outputs: Mapping[str, Any]) -> StepResult:
        """The child ended: the call activity takes ``outputs`` and the workflow runs on."""
        return self._complete_started(self._waiting_call(task_id), outputs)

    def throw_call_error(self, task_id: str, code: str, variables: Mapping[str, Any]) -> StepResult | None:
        """Let the child's error be caught as if the call activity threw it; None when nothing catches.

        Its own boundary events first, then the event subprocesses of its scope, then those of each
        embedded subprocess around it, innermost first: BPMN's scopes (engine.spiff.code_events).
        Whatever the caught error interrupts ends in history as cancelled.
        """
        return self._catch_error(self._waiting_call(task_id), code, variables)

    def pop_uncaught_errors(self) -> list[UncaughtError]:
        """The BPMN errors thrown and not caught since the last call; they are taken out of the workflow."""
        events = self.workflow.bpmn_events
        errors = [e for e in events if isinstance(e.event_definition, ErrorEventDefinition)]
        if errors:
            self.workflow.bpmn_events = [e for e in events if e not in errors]
        return [UncaughtError(e.event_definition.code, e.event_definition.name) for e in errors]

    def _waiting_call(self, task_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None or not is_call_activity(task.task_spec) or not task.has_state(TaskState.STARTED):
            raise TaskNotFound(
                f"Call activity {task_id} is not waiting for its called instance", task_id=task_id
            )
        return task
