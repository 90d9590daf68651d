"""What a workflow waits for from outside: timers, messages and signals, as table rows to keep.

Each wait has a key of its own (the table's ``task_id``): the waiting task's id; for an
event-based gateway, which waits for several events in one task, ``<task id>#<n>``; for a message
or signal start of an event subprocess, which SpiffWorkflow only creates when its event arrives,
``<root task id>~<n>``. ``locate`` turns a key back into the task (or workflow) and definition.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from engine.spiff.event_scopes import interrupted
from engine.spiff.timers import due_at, is_timer

_GATEWAY = "#"
_TRIGGER = "~"


class EventKind(enum.StrEnum):
    TIMER = "timer"
    MESSAGE = "message"
    SIGNAL = "signal"


@dataclass(frozen=True)
class WaitingEvent:
    """One waiting catch: a row of the timer table (TIMER) or of the subscription table."""

    task_id: str
    activity_id: str
    kind: EventKind
    name: str | None = None  # the message or signal name
    due_at: datetime | None = None  # timers: when next due


def _kind(definition: Any) -> EventKind | None:
    if isinstance(definition, MessageEventDefinition):
        return EventKind.MESSAGE
    if isinstance(definition, SignalEventDefinition):
        return EventKind.SIGNAL
    return None


def waiting_events(task: Any) -> list[WaitingEvent]:
    """The events an open ``task`` waits for (none when it waits for nothing from outside)."""
    spec = task.task_spec
    definition = spec.event_definition
    if spec.bpmn_id is None:
        return []
    if is_timer(definition):
        # READY: due, not run yet (SpiffWorkflow marks timers at the end of a step): due at once.
        if not task.has_state(TaskState.WAITING | TaskState.READY):
            return []
        due = due_at(task)
        return [WaitingEvent(str(task.id), spec.bpmn_id, EventKind.TIMER, due_at=due)] if due else []
    if not task.has_state(TaskState.WAITING):
        return []
    if isinstance(spec, StartEvent) and task.workflow.parent_task_id is None:
        return []  # a process's own start events are subscriptions of its definition, not of instances
    if isinstance(definition, MultipleEventDefinition):
        events = []
        for n, inner in enumerate(definition.event_definitions):
            key = f"{task.id}{_GATEWAY}{n}"
            if is_timer(inner):
                due = due_at(task)
                if due is not None:
                    events.append(WaitingEvent(key, spec.bpmn_id, EventKind.TIMER, due_at=due))
            elif (kind := _kind(inner)) is not None:
                events.append(WaitingEvent(key, spec.bpmn_id, kind, name=inner.name))
        return events
    kind = _kind(definition)
    return [WaitingEvent(str(task.id), spec.bpmn_id, kind, name=definition.name)] if kind else []


def event_only_starts(spec: Any) -> list[str]:
    """Names of the message/signal start events when ``spec`` can start by nothing else; else []."""
    names = []
    for task_spec in spec.task_specs.values():
        if not isinstance(task_spec, StartEvent):
            continue
        kind = _kind(task_spec.event_definition)
        if kind is None:
            return []  # a none or timer start event: it can be started directly
        names.append(f"{kind.value} {task_spec.event_definition.name!r}")
    return names


def _triggers(scope: Any) -> list[tuple[str, Any, Any]]:
    """(event subprocess spec name, start event spec, definition) of the message/signal event
    subprocesses of ``scope``: the process, or an embedded subprocess of it."""
    found = []
    specs = scope.top_workflow.subprocess_specs
    for name in scope.spec.start.trigger_specs:
        spec = specs.get(name)
        for start in spec.bpmn_start_events if spec is not None else []:
            if _kind(start.event_definition) is not None:
                found.append((name, start, start.event_definition))
    return found


def trigger_scopes(workflow: Any) -> list[Any]:
    """Where message and signal starts of event subprocesses are open now: the process while it
    runs, and each embedded subprocess while it runs (its event subprocesses belong to it), unless
    an interrupting event subprocess of that scope has fired."""
    scopes: list[Any] = []
    if workflow.spec.start.trigger_specs and not workflow.is_completed() and not interrupted(workflow):
        scopes.append(workflow)
    for task_id, sub in workflow.subprocesses.items():
        if sub.completed or not sub.spec.start.trigger_specs:
            continue
        owner = workflow.get_task_from_id(task_id)
        if owner is None or not owner.has_state(TaskState.STARTED) or interrupted(workflow, sub):
            continue
        scopes.append(sub)
    return scopes


def trigger_events(workflow: Any) -> list[WaitingEvent]:
    """Message and signal starts of event subprocesses: open as long as their scope runs."""
    events = []
    for scope in trigger_scopes(workflow):
        root = scope.task_tree.id
        events += [
            WaitingEvent(f"{root}{_TRIGGER}{n}", start.bpmn_id, kind, name=definition.name)
            for n, (_, start, definition) in enumerate(_triggers(scope))
            if (kind := _kind(definition)) is not None
        ]
    return events


def trigger_target(workflow: Any, key: str) -> tuple[Any, str, Any] | None:
    """(scope, event subprocess spec name, definition) of an event subprocess start's wait ``key``."""
    try:
        root, n = key.split(_TRIGGER)
        root_id = UUID(root)
    except ValueError:
        return None
    for scope in trigger_scopes(workflow):
        if scope.task_tree.id == root_id:
            triggers = _triggers(scope)
            if int(n) >= len(triggers):
                return None
            name, _, definition = triggers[int(n)]
            return scope, name, definition
    return None


def locate(workflow: Any, key: str) -> tuple[Any | None, Any] | None:
    """(waiting task, definition) for a wait key; task None for an event subprocess start."""
    try:
        if _TRIGGER in key:
            target = trigger_target(workflow, key)
            if target is None:
                return None
            return None, target[2]
        task_id, _, n = key.partition(_GATEWAY)
        task = workflow.get_task_from_id(UUID(task_id))
    except Exception:  # a malformed key, or a task this workflow does not have
        return None
    if task is None or not task.has_state(TaskState.WAITING):
        return None
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        if not n:
            return None
        return task, definition.event_definitions[int(n)]
    return task, definition
