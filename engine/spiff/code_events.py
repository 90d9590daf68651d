"""Errors and escalations thrown inside an instance, caught by BPMN's scopes as Camunda 7 does.

SpiffWorkflow 3.2 throws an error or escalation to every waiting task of the thrower's workflow
(a boundary event on an unrelated activity there catches it too), then of each enclosing one; an
event subprocess started by an error or escalation is never found (the library creates event
subprocesses only for broadcast events, and only for the process itself), and a spiffworkflow
error is broadcast to the whole instance. Flowdesk looks for the catcher itself, innermost first:

1. a boundary event on the throwing activity (a service task, a call activity);
2. an event subprocess of the scope the activity is in (the process, an embedded subprocess, an
   event subprocess), unless an interrupting event subprocess of that scope has already fired;
3. then the same one level out: the boundary events of the embedded subprocess that is the scope,
   the event subprocesses of the scope around it, and so on up to the process.

At each place a catcher with the thrown code wins over one without a code (which catches every
code). An error end event nobody catches is kept in the workflow's events, as the library keeps it (a called
instance's parent reads it: ``CallSteps.pop_uncaught_errors``); an escalation nobody catches is
ignored, as in Camunda.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    CodeEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from engine.spiff.event_scopes import interrupted, is_interrupting, scope_data
from engine.spiff.messages import deliver

_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
# The open activities when an interrupting catch happened, on the top workflow object (never stored).
_BEFORE = "_flowdesk_open_before_interrupt"


@dataclass(frozen=True)
class Caught:
    """Where a thrown error or escalation was caught, and whether that interrupts the thrower."""

    activity_id: str
    interrupting: bool


def kind_of(definition: Any) -> type[Any]:
    """The library class a catcher's definition must be an instance of to catch ``definition``."""
    # Each family subclasses the library's classes, so these catch within every family.
    kind: type[Any] = ErrorEventDefinition
    if not isinstance(definition, ErrorEventDefinition):
        kind = EscalationEventDefinition
    return kind


def _matching(candidates: list[tuple[Any, Any]], code: str | None) -> Any | None:
    exact = [item for item, definition in candidates if definition.code and definition.code == code]
    catch_all = [item for item, definition in candidates if not definition.code]
    chosen = exact or catch_all
    return chosen[0] if chosen else None


def _boundaries(task: Any, kind: type[Any]) -> list[tuple[Any, Any]]:
    # A run of a multi-instance activity: the boundary events are those of the multi-instance task.
    while task.parent is not None and isinstance(task.parent.task_spec, MultiInstanceTask):
        task = task.parent
    siblings = task.parent.children if task.parent is not None else []
    return [
        (sibling, sibling.task_spec.event_definition)
        for sibling in siblings
        if sibling is not task
        and isinstance(sibling.task_spec, BoundaryEvent)
        and sibling.has_state(TaskState.WAITING)
        and isinstance(sibling.task_spec.event_definition, kind)
    ]


def _event_subprocess_starts(scope: Any, kind: type[Any]) -> list[tuple[Any, Any]]:
    """((event subprocess spec name, start spec), definition) of ``scope``'s event subprocesses."""
    specs = scope.top_workflow.subprocess_specs
    found = []
    for name in scope.spec.start.trigger_specs:
        spec = specs.get(name)
        for start in spec.bpmn_start_events if spec is not None else []:
            if isinstance(start.event_definition, kind):
                found.append(((name, start), start.event_definition))
    return found


def _places(workflow: Any, task: Any) -> Iterator[tuple[Any, Any]]:
    """(activity whose boundary events may catch, scope whose event subprocesses may), innermost first."""
    activity = task
    while activity is not None:
        scope = activity.workflow
        yield activity, scope
        activity = None if scope is workflow else workflow.get_task_from_id(scope.parent_task_id)


def throw(workflow: Any, task: Any, definition: Any, code: str | None, payload: Any) -> Caught | None:
    """``task`` throws the error or escalation ``definition`` with ``code``: the catcher catches it.

    ``payload`` goes to the catcher as the library's own throw would send it (a dict of variables,
    or a spiffworkflow payload expression's value). None when nothing catches it.
    """
    kind = kind_of(definition)
    for activity, scope in _places(workflow, task):
        boundary = _matching(_boundaries(activity, kind), code)
        if boundary is not None:
            if isinstance(payload, Mapping):
                boundary.data.update(payload)
            if boundary.task_spec.cancel_activity:
                _remember_open(workflow)
            boundary.task_spec.catch(
                boundary, BpmnEvent(boundary.task_spec.event_definition, payload=payload)
            )
            boundary.task_spec._update(boundary)
            return Caught(boundary.task_spec.bpmn_id, bool(boundary.task_spec.cancel_activity))
        if interrupted(workflow, scope):
            continue
        found = _matching(_event_subprocess_starts(scope, kind), code)
        if found is not None:
            name, start = found
            _start_event_subprocess(workflow, scope, name, start, payload)
            return Caught(start.bpmn_id, is_interrupting(start))
    return None


def _remember_open(workflow: Any) -> None:
    # The library cancels what the boundary event interrupts when it runs, later in the step,
    # without telling anyone: what was open now and is cancelled then ends in history as cancelled.
    if _BEFORE not in workflow.__dict__:
        workflow.__dict__[_BEFORE] = [
            task
            for task in workflow.get_tasks(state=_OPEN)
            if task.task_spec.bpmn_id is not None and not isinstance(task.task_spec, BoundaryEvent)
        ]


def take_open_before_interrupts(workflow: Any) -> list[Any]:
    """The activities open before an interrupting boundary event caught an error or escalation since
    the last call (``workflow``: the top); the cancelled ones among them were interrupted."""
    found: list[Any] = workflow.__dict__.pop(_BEFORE, [])
    for task in found:
        if task.id not in task.workflow.tasks and not task.has_state(TaskState.FINISHED_MASK):
            # Dropped from the tree, never cancelled, when the task above it was (Task.cancel drops
            # unfinished children): the runs of an interrupted multi-instance activity.
            task._set_state(TaskState.CANCELLED)
    return found


def keep_uncaught(workflow: Any, definition: Any, payload: Any) -> None:
    """An error end event nobody caught: kept for a called instance's parent; an escalation goes."""
    if isinstance(definition, ErrorEventDefinition):
        workflow.bpmn_events.append(BpmnEvent(definition, payload=payload))


def _start_event_subprocess(workflow: Any, scope: Any, name: str, start_spec: Any, payload: Any) -> None:
    """Create event subprocess ``name`` of ``scope`` and let its start event catch, as the library
    does for a message start; the start sees the scope's variables as they are now."""
    child_id = scope.spec.start.trigger_wf(scope.task_tree, name)
    owner = workflow.get_task_from_id(child_id)
    subprocess = workflow.subprocesses.get(child_id)
    if owner is None or subprocess is None:
        return
    for start in subprocess.get_tasks(state=TaskState.WAITING, spec_name=start_spec.name):
        start.data.update(scope_data(workflow, owner))
        definition = start.task_spec.event_definition
        if isinstance(payload, Mapping):
            deliver(start, definition, payload)
        else:
            start.task_spec.catch(start, BpmnEvent(definition, payload=payload))
            start.task_spec._update(start)
        return


def payload_of(task: Any, definition: Any) -> Any:
    """What a throw event sends: a spiffworkflow payload expression's value, else its variables."""
    expression = getattr(definition, "expression", None)
    if expression and type(definition).__module__.startswith("SpiffWorkflow.spiff"):
        return task.workflow.script_engine.evaluate(task, expression)
    return copy.deepcopy(dict(task.data))


def is_code_event(definition: Any) -> bool:
    return isinstance(definition, CodeEventDefinition)
