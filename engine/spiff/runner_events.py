"""The Runner's event steps: firing timers, catching messages and signals, starting by event.

A mixin of ``engine.spiff.runner.Runner``, kept apart so the runner stays about user and service
tasks; it uses the runner's engine loop (``_run_engine``) and history events (``_event``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from engine.exceptions import TaskNotFound
from engine.spiff.event_scopes import refresh_due_starts
from engine.spiff.messages import deliver, trigger, trigger_within
from engine.spiff.waits import locate, trigger_target

if TYPE_CHECKING:
    from engine.spiff.runner import ActivityEvent, StepResult

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def _interrupted(task: Any) -> bool:
    """Cancelled, or still open but taken out of the tree: cancelling a task drops its open
    children (the instances of a multi-instance activity) without changing their state."""
    if task.has_state(TaskState.CANCELLED):
        return True
    return bool(task.has_state(_OPEN)) and task.id not in task.workflow.tasks


def _result() -> StepResult:
    from engine.spiff.runner import StepResult  # runner.py imports this module

    return StepResult()


class EventSteps:
    workflow: Any
    _snapshot: Any

    if TYPE_CHECKING:

        def _run_engine(self, result: StepResult) -> StepResult: ...

        def _event(self, task: Any, *, ended: bool) -> ActivityEvent: ...

    def fire_timers(self) -> StepResult:
        """Fire the timers that are due by the clock and run on to the next wait state."""
        self._snapshot = None
        result = _result()
        open_before = self._open_activities()
        # SpiffWorkflow marks a due timer READY at the end of do_engine_steps and runs it on the
        # next call; a timer reached on the way may be due at once (PT0S), hence the loop.
        for _ in range(100):
            self.workflow.refresh_timers()
            refresh_due_starts(self.workflow)
            self._run_engine(result)
            if result.error is not None or not self.workflow.get_tasks(state=TaskState.READY, manual=False):
                break
        return self._cancellations(open_before, result)

    def catch_event(self, key: str, variables: Mapping[str, Any]) -> StepResult:
        """Deliver a message or signal to the wait ``key`` (a subscription row) and run on."""
        found = locate(self.workflow, key)
        if found is None:
            raise TaskNotFound(f"No task waits under {key!r} any more (it may have caught its event)")
        task, definition = found
        self._snapshot = None
        open_before = self._open_activities()
        target = trigger_target(self.workflow, key) if task is None else None
        if target is not None and target[0] is not self.workflow:
            trigger_within(self.workflow, target[0], target[1], definition, variables)
        elif task is None:
            trigger(self.workflow, definition, variables)
        else:
            deliver(task, definition, variables)
        return self._cancellations(open_before, self._run_engine(_result()))

    def start_by_event(self, activity_id: str, variables: Mapping[str, Any]) -> StepResult:
        """Start a new workflow at its message or signal start event ``activity_id``."""
        self._snapshot = None
        self.workflow.task_tree.data.update(variables)
        # Running the Start task makes the start events wait; then the chosen one catches.
        self.workflow.do_engine_steps()
        starts = [
            t
            for t in self.workflow.get_tasks(state=TaskState.WAITING)
            if t.task_spec.bpmn_id == activity_id and t.workflow is self.workflow
        ]
        if not starts:
            raise TaskNotFound(f"The process has no waiting start event {activity_id!r}")
        deliver(starts[0], starts[0].task_spec.event_definition, variables)
        return self._run_engine(_result())

    def _open_activities(self) -> list[Any]:
        return [
            t
            for t in self.workflow.get_tasks(state=_OPEN)
            if t.task_spec.bpmn_id is not None and not isinstance(t.task_spec, BoundaryEvent)
        ]

    def _cancellations(self, open_before: list[Any], result: StepResult) -> StepResult:
        """End in history, as cancelled, the activities an event interrupted during this step."""
        reported = {event.task_id for event in result.events if event.canceled}
        for task in open_before:
            if (
                _interrupted(task)
                and not isinstance(task.task_spec, BoundaryEvent)
                and str(task.id) not in reported
            ):
                result.events.append(replace(self._event(task, ended=True), canceled=True))
        return result
