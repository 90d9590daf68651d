"""Event subprocesses as BPMN means them, on top of what SpiffWorkflow 3.2 does.

SpiffWorkflow runs a timer-started event subprocess beside the main flow from the start, never
interrupts anything when one fires, and keeps the scope (and so the instance) open while an
event subprocess still waits for its start event after the main flow has ended. ``settle`` fixes
both after each engine step:

- an *interrupting* event subprocess whose start event fired cancels every other open activity
  of its scope (the main flow, and the other event subprocesses), also when it already ran to its
  end in the step that started it;
- an event subprocess still waiting for its start when nothing else of its scope is open is
  cancelled, so the scope ends (a triggered one keeps running to its end, as BPMN says).

Whether a start event interrupts is written into its description at parse time
(``EventSubprocessStartParsing``), the way SpiffWorkflow marks boundary events ("Interrupting
Timer Boundary Event"), so the stored spec carries it.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from engine.spiff import walk
from engine.spiff.timers import is_timer

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_NON_INTERRUPTING = "Non-Interrupting"
_INTERRUPTING = "Interrupting"
_HANDLED = "flowdesk_interrupted"


def _starts_event_subprocess(node: Any) -> bool:
    parent = node.getparent()
    return parent is not None and str(parent.get("triggeredByEvent", "")).lower() == "true"


class EventSubprocessStartParsing:
    """Mixin for start event parsers: records ``isInterrupting`` of event subprocess starts, and
    reads their error and escalation definitions.

    SpiffWorkflow's start event parser ignores error and escalation definitions, so such an event
    subprocess became one with a plain start, run as soon as its scope started. With the definition
    read, the library keeps it as a trigger of its scope (``BpmnStartTask.trigger_specs``) and
    Flowdesk starts it when an error or escalation reaches it (engine.spiff.code_events).
    """

    def get_event_definition(self, xpaths: list[str]) -> Any:
        if _starts_event_subprocess(self.node):  # type: ignore[attr-defined]
            xpaths = [*xpaths, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH]
        return super().get_event_definition(xpaths)  # type: ignore[misc]

    def create_task(self) -> Any:
        task = super().create_task()  # type: ignore[misc]
        node = self.node  # type: ignore[attr-defined]
        if _starts_event_subprocess(node):
            # An error always interrupts its scope (BPMN; engine.bpmn_lint refuses the attribute).
            interrupting = str(node.get("isInterrupting", "true")).lower() != "false" or isinstance(
                task.event_definition, ErrorEventDefinition
            )
            prefix = _INTERRUPTING if interrupting else _NON_INTERRUPTING
            task.description = f"{prefix} {task.description or 'Start Event'}"
        return task


def is_interrupting(start_spec: Any) -> bool:
    return not str(start_spec.description or "").startswith(_NON_INTERRUPTING)


def _start_events(subprocess: Any) -> list[Any]:
    return [t for t in subprocess.tasks.values() if isinstance(t.task_spec, StartEvent)]


def _is_event_subprocess(subprocess: Any) -> bool:
    # Camunda's parser gives event subprocesses the call activity spec class; their start events
    # carry the marker written at parse time.
    return any(
        str(spec.description or "").startswith((_INTERRUPTING, _NON_INTERRUPTING))
        for spec in subprocess.spec.task_specs.values()
        if isinstance(spec, StartEvent)
    )


def drop_orphans(workflow: Any) -> list[Any]:
    """Cancel and forget the subprocesses whose task the library dropped from the tree; their
    activities that were open (for history).

    Cancelling a task drops its unfinished children without cancelling them: an interrupted
    multi-instance subprocess loses its runs that way, and their subprocesses stay behind, still
    "running", with no task to end them.
    """
    cancelled: list[Any] = []
    while orphans := [
        (task_id, sub)
        for task_id, sub in workflow.subprocesses.items()
        if task_or_none(workflow, task_id) is None
    ]:
        # Forgetting one orphans the subprocesses inside it: the next round takes them.
        for task_id, subprocess in orphans:
            cancelled += [t for t in subprocess.get_tasks(state=_OPEN) if t.task_spec.bpmn_id is not None]
            subprocess.cancel()
            del workflow.subprocesses[task_id]
    return cancelled


def task_or_none(workflow: Any, task_id: Any) -> Any:
    """The task of ``task_id`` in the workflow or its subprocesses; None when the tree lost it."""
    try:
        return workflow.get_task_from_id(task_id)
    except TaskNotFoundException:
        return None


def settle(workflow: Any) -> list[Any]:
    """Apply event subprocess semantics; the activities cancelled (for history). Call until []."""
    cancelled: list[Any] = drop_orphans(workflow)
    for task_id, subprocess in list(workflow.subprocesses.items()):
        task = workflow.get_task_from_id(task_id)
        if task is not None and task.internal_data.get(_HANDLED) == 1 and task.state == TaskState.COMPLETED:
            # The interrupted main flow left no data to end with; the event subprocess's data is
            # what the scope ends with.
            task.internal_data[_HANDLED] = 2
            walk.touched(task)
            task.workflow.data.update(task.data)
            continue
        # COMPLETED too: an event subprocess without a wait state runs to its end within the step
        # that started it, and must still interrupt its scope.
        if (
            task is None
            or task.state not in (TaskState.STARTED, TaskState.COMPLETED)
            or not _is_event_subprocess(subprocess)
        ):
            continue
        starts = _start_events(subprocess)
        fired = [s for s in starts if s.has_state(TaskState.COMPLETED)]
        scope = task.workflow
        others = [
            t
            for t in scope.get_tasks(state=_OPEN, skip_subprocesses=True)
            if t is not task and t.task_spec.bpmn_id is not None
        ]
        if fired:
            if task.internal_data.get(_HANDLED) or not is_interrupting(fired[0].task_spec):
                continue
            task.internal_data[_HANDLED] = 1
            walk.touched(task)
            for other in others:
                if other.has_state(_OPEN):
                    cancelled += _open_within(workflow, other)
                    other.cancel()
        elif task.state == TaskState.STARTED and not [
            t for t in others if not _waiting_event_subprocess(workflow, t)
        ]:
            cancelled += _open_within(workflow, task)
            task.cancel()
        else:
            continue
        # A join (the scope's end) waiting for what was just cancelled looks again.
        for waiting in scope.get_tasks(state=TaskState.WAITING, skip_subprocesses=True):
            if not isinstance(waiting.task_spec, CatchingEvent):
                waiting.task_spec._update(waiting)
    return cancelled


def refresh_due_starts(workflow: Any) -> None:
    """Give each due timer start of an event subprocess the variables of its scope as they are now.

    SpiffWorkflow creates a timer-started event subprocess when its scope begins, so its start
    event holds the variables of that moment; when the timer fires (the start is READY, about to
    run) the event subprocess must see what the scope holds now, as a message-started one does.
    """
    for task_id, sub in list(workflow.subprocesses.items()):
        if not _is_event_subprocess(sub):
            continue
        starts = [
            s
            for s in _start_events(sub)
            if s.has_state(TaskState.READY) and is_timer(s.task_spec.event_definition)
        ]
        owner = workflow.get_task_from_id(task_id) if starts else None
        if owner is None:
            continue
        now = scope_data(workflow, owner)
        for start in starts:
            start.data.update(now)
            walk.touched(start)


def finish_interrupted_scopes(workflow: Any) -> bool:
    """End each embedded subprocess whose interrupting event subprocess has run to its end.

    SpiffWorkflow ends a workflow when its End task runs, which the cancelled main flow of an
    interrupted scope never reaches. The process itself counts as complete once nothing is open
    (``is_completed``), but an embedded subprocess must end explicitly for its parent to go on:
    it ends here with the data of its last task, the event subprocess, as its End would.
    Returns whether any ended (the engine then runs on).
    """
    ended = False
    for sub in list(workflow.subprocesses.values()):
        if sub.completed or sub.last_task is None or not interrupted(workflow, sub):
            continue
        if any(not task.has_state(TaskState.FINISHED_MASK) for task in sub.tasks.values()):
            continue
        sub._mark_complete(sub.last_task)
        sub.completed_event(sub)
        ended = True
    return ended


def interrupted(workflow: Any, scope: Any = None) -> bool:
    """True once an interrupting event subprocess of ``scope`` (the process, or one of its embedded
    subprocesses) has fired: nothing else of that scope can start."""
    scope = workflow if scope is None else scope
    return any(
        task.internal_data.get(_HANDLED)
        for task_id in workflow.subprocesses
        if (task := workflow.get_task_from_id(task_id)) is not None and task.workflow is scope
    )


def _open_within(workflow: Any, task: Any) -> list[Any]:
    """``task`` and, for a subprocess, its open activities: what history shows as cancelled."""
    found = [task]
    subprocess = workflow.subprocesses.get(task.id)
    if subprocess is not None:
        found += [t for t in subprocess.get_tasks(state=_OPEN) if t.task_spec.bpmn_id is not None]
    return found


def scope_data(workflow: Any, subprocess_task: Any) -> dict[str, Any]:
    """The variables of the scope of ``subprocess_task`` now: what its open activities carry.

    SpiffWorkflow gives an event subprocess the data its scope had when the scope began; an event
    subprocess that is triggered later must see the scope's variables at that moment (Camunda's
    ``${invoiceNumber}`` set by the main flow meanwhile).
    """
    merged: dict[str, Any] = {}
    for task in subprocess_task.workflow.get_tasks(state=_OPEN, skip_subprocesses=True):
        if task is subprocess_task or _waiting_event_subprocess(workflow, task):
            continue
        merged.update(task.data)
    return merged


def _waiting_event_subprocess(workflow: Any, task: Any) -> bool:
    subprocess = workflow.subprocesses.get(task.id)
    if subprocess is None or not _is_event_subprocess(subprocess):
        return False
    return not any(s.has_state(TaskState.COMPLETED) for s in _start_events(subprocess))
