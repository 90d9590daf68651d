"""What the engine reads of a workflow after each change, kept up to date without re-walking the tree.

The engine reads the open tasks (ready user tasks, waiting service tasks, open activities, the
events waited for, the variables) after every step. Walking the whole tree for that made a step
cost as much as the number of tasks open beside it: the executor completes the 1,000 service
tasks of a parallel multi-instance one at a time, each followed by a walk of ~1,000 open tasks.

``OpenTasks.refreshed`` updates the previous view from what changed instead, when that is safe: a
change log (engine.spiff.walk records every state change and every new task of a top workflow and
its subprocesses) shows that the only changes were open tasks finishing, tasks created in a
predicted state, and no task removed. Those changes cannot reorder the depth-first order of the
tasks that stay open, so dropping the finished ones gives exactly what a new walk would. Anything
else (a task becoming open, changing between open states, a removal, pruning, a new or deleted
subprocess) makes it walk the tree again. Variables are merged from the open tasks only when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.util.task import TaskState

from engine.spiff import walk
from engine.spiff.multi_instance import merged_process_data
from engine.spiff.waits import WaitingEvent, trigger_events, waiting_events

OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
RECORDED = "flowdesk_recorded"


@dataclass(frozen=True)
class ReadyUserTask:
    task_id: str
    activity_id: str
    name: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class WaitingServiceTask:
    task_id: str
    activity_id: str
    data: Mapping[str, Any]


@dataclass
class Snapshot:
    """What the engine reads after each change."""

    ready_user_tasks: list[ReadyUserTask]
    waiting_service_tasks: list[WaitingServiceTask]
    open_activity_ids: list[str]
    # Timers, message and signal catches the instance waits for: the rows of the timer and
    # subscription tables (engine.event_sync).
    waiting_events: list[WaitingEvent] = field(default_factory=list)
    view: OpenTasks | None = None
    _variables: dict[str, Any] | None = None

    @property
    def variables(self) -> dict[str, Any]:
        if self._variables is None:
            self._variables = self.view.variables() if self.view is not None else {}
        return self._variables


@dataclass
class _Entry:
    """One open task and what the snapshot reads of it."""

    task: Any
    state: int
    activity_id: str | None
    ready: ReadyUserTask | None = None
    waiting: WaitingServiceTask | None = None
    events: list[WaitingEvent] = field(default_factory=list)


def _entry(task: Any) -> _Entry:
    spec = task.task_spec
    entry = _Entry(task, task._state, spec.bpmn_id)
    if spec.bpmn_id is None:
        return entry
    if spec.manual and task._state == TaskState.READY:
        entry.ready = ReadyUserTask(str(task.id), spec.bpmn_id, spec.bpmn_name, task.data)
    elif task._state == TaskState.STARTED and isinstance(spec, ServiceTaskMixin):
        entry.waiting = WaitingServiceTask(str(task.id), spec.bpmn_id, task.data)
    elif getattr(spec, "event_definition", None) is not None:
        entry.events = waiting_events(task)
    return entry


def _unreported(task: Any) -> bool:
    spec = task.task_spec
    return (
        spec.bpmn_id is not None
        and not task.internal_data.get(RECORDED)
        and not isinstance(spec, BoundaryEvent)
    )


class OpenTasks:
    """The open tasks of a workflow in the library's depth-first order, and what is read of them.

    Each part is an insertion-ordered dictionary keyed by the task object's id, so a finished
    task leaves in constant time and the rest keep their order.
    """

    def __init__(self, workflow: Any, entries: list[_Entry], unreported: list[Any]) -> None:
        self.workflow = workflow
        self.entries = {id(e.task): e for e in entries}
        self.ready = {id(e.task): e.ready for e in entries if e.ready is not None}
        self.waiting = {id(e.task): e.waiting for e in entries if e.waiting is not None}
        self.open_ids = {id(e.task): e.activity_id for e in entries if e.activity_id is not None}
        self.events = {id(e.task): e.events for e in entries if e.events}
        # Open tasks history has not seen yet (the runner reports them at the end of a step).
        self.unreported = unreported
        self._restart()
        if not any(e.task.workflow is workflow for e in entries):
            # The library marks a workflow complete when asked and nothing is unfinished; the flag
            # is stored with the state. With a task of its own open it is not complete, and
            # asking would walk into that task's children, all 1,000 of a multi-instance.
            workflow.is_completed()

    def _restart(self) -> None:
        self.total = walk.task_count(self.workflow)
        self.log = walk.start_log(self.workflow)

    @classmethod
    def walked(cls, workflow: Any) -> OpenTasks:
        tasks = list(walk.iter_tasks(workflow.task_tree, OPEN))
        return cls(workflow, [_entry(t) for t in tasks], [t for t in tasks if _unreported(t)])

    def refreshed(self) -> OpenTasks:
        """The view after the changes since it was last refreshed: updated in place when safe,
        else walked anew."""
        log = self.log
        if not log.usable(self.workflow) or walk.task_count(self.workflow) != self.total + log.created:
            return OpenTasks.walked(self.workflow)
        finished: list[int] = []
        for task in log.changed:
            key = id(task)
            entry = self.entries.get(key)
            now = task._state
            if entry is None:
                if now & OPEN:
                    return OpenTasks.walked(self.workflow)  # a task opened: it needs its place
            elif now & TaskState.FINISHED_MASK:
                finished.append(key)
            elif now != entry.state:
                return OpenTasks.walked(self.workflow)
        for key in finished:
            for part in (self.entries, self.ready, self.waiting, self.open_ids, self.events):
                part.pop(key, None)
        gone = set(finished)
        self.unreported = [t for t in self.unreported if id(t) not in gone and _unreported(t)]
        self._restart()
        if not any(e.task.workflow is self.workflow for e in self.entries.values()):
            self.workflow.is_completed()
        return self

    def has_own_open_task(self) -> bool:
        """Whether a task of the workflow's own tree (not a subprocess's) is open."""
        workflow = self.workflow
        return any(e.task.workflow is workflow for e in self.entries.values())

    @property
    def tasks(self) -> list[Any]:
        return [e.task for e in self.entries.values()]

    def snapshot(self) -> Snapshot:
        events = [event for found in self.events.values() for event in found]
        if self.workflow.spec.start.trigger_specs or self.workflow.subprocesses:
            events += trigger_events(self.workflow)
        return Snapshot(
            list(self.ready.values()),
            list(self.waiting.values()),
            list(self.open_ids.values()),
            events,
            view=self,
        )

    def variables(self) -> dict[str, Any]:
        """The data the open tasks see, merged in order; the final data when the workflow is done."""
        workflow = self.workflow
        # An open task of its own means not completed: the library's check would walk into it.
        if not self.has_own_open_task() and workflow.is_completed():
            return dict(workflow.data)
        if not self.entries:
            return dict(workflow.last_task.data) if workflow.last_task is not None else {}
        # An item's own variables are not the process's.
        return merged_process_data(entry.task for entry in self.entries.values())


def verify(view: OpenTasks) -> None:
    """Raise AssertionError unless ``view`` reads exactly what a fresh walk of its workflow reads."""
    workflow = view.workflow
    fresh = OpenTasks.walked(workflow)
    mine, theirs = view.snapshot(), fresh.snapshot()
    assert [id(t) for t in view.tasks] == [id(t) for t in fresh.tasks], "open tasks differ"
    assert [id(t) for t in view.unreported] == [id(t) for t in fresh.unreported], "unreported differ"
    assert mine.ready_user_tasks == theirs.ready_user_tasks, "ready user tasks differ"
    assert mine.waiting_service_tasks == theirs.waiting_service_tasks, "waiting service tasks differ"
    assert mine.open_activity_ids == theirs.open_activity_ids, "open activities differ"
    assert mine.waiting_events == theirs.waiting_events, "waiting events differ"
    assert view.variables() == fresh.variables(), "variables differ"
    assert [id(t) for t in walk.iter_tasks(workflow.task_tree, OPEN)] == [
        id(t) for t in workflow.get_tasks(state=OPEN)
    ], "the walk differs from the library's"
    view._restart()  # the fresh walk started a log of its own
