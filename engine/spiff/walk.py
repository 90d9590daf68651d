"""Cheaper walks of a task tree, giving exactly the tasks, in exactly the order, the library's give.

Profiling a 1,000-item parallel multi-instance (bench/multi_instance.py) put nearly all of its time
in SpiffWorkflow's ``TaskIterator``: ``Workflow.update_waiting_tasks`` walks the whole tree after
every completed task, and each walk pays ~1.5 µs a task for the iterator's generic bookkeeping
(``list.pop(0)``, its depth tracking, the filter object), so the run grew with the square of the
items. Two things here, both exact:

* ``iter_tasks``: the same depth-first walk as ``BpmnWorkflow.get_tasks(state=...)`` (the same
  order, into subprocesses as the library's ``BpmnTaskIterator`` goes, the same rule of not
  descending below predicted tasks for a definite filter, children read when their parent is
  visited), at a fraction of the cost per task. The depth limit counts the depth of each task,
  where the library keeps one running counter; the two agree on a tree that pruning keeps far
  below the limit (engine.spiff.pruning).
* ``update_waiting_tasks``: when the workflow has no WAITING task, which is the common case (a
  task running alone, or many instances all READY or STARTED), the library's walk would update
  nothing, and it is skipped; otherwise the library's own walk runs, unchanged. Whether a WAITING
  task exists is known without looking at every task on every completion: a task can only become
  WAITING by being created so or through ``Task._set_state``, and both mark their workflow; a
  marked workflow is checked with one flat pass over its task dictionary, and unmarked when that
  finds none.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

MAX_DEPTH = 1000  # TaskIterator's default: the library stops descending there


def _min_state(mask: int) -> int:
    # TaskIterator's rule: predicted tasks only follow definite ones, definite only finished ones.
    if mask & TaskState.PREDICTED_MASK:
        return int(TaskState.MAYBE)
    if mask & TaskState.DEFINITE_MASK:
        return int(TaskState.FUTURE)
    return int(TaskState.COMPLETED)


def iter_tasks(root: Any, state: int = TaskState.ANY_MASK) -> Iterator[Any]:
    """The tasks under ``root`` (itself included), and in its subprocesses, whose state is in
    ``state``, depth first: ``workflow.get_tasks(root, state=state)`` without its overhead."""
    min_state = _min_state(state)
    subprocesses = root.workflow.top_workflow.subprocesses
    stack: list[tuple[Any, int]] = [(root, 0)]
    pop, push, append = stack.pop, stack.extend, stack.append
    while stack:
        task, depth = pop()
        current = task._state
        sub = subprocesses.get(task.id) if subprocesses else None
        if depth < MAX_DEPTH and (sub is not None or (task._children and current >= min_state)):
            below = depth + 1
            tasks = task.workflow.tasks
            push([(tasks.get(child), below) for child in reversed(task._children)])
            if sub is not None:  # the library visits a subprocess before the task's own children
                append((sub.task_tree, below))
        if current & state:
            yield task


_STATE = attrgetter("_state")


def any_in_state(workflow: Any, state: int) -> bool:
    """Whether any task of ``workflow``'s own tree is in ``state`` (one state, not a mask): one
    pass over the task dictionary at C speed, no tree walk."""
    return state in map(_STATE, workflow.tasks.values())


# Set on a workflow when one of its tasks may have become WAITING since it was last seen to have none.
_MAYBE_WAITING = "_flowdesk_maybe_waiting"
# Likewise for READY tasks the engine runs itself (not user tasks, which wait for a person).
_MAYBE_READY = "_flowdesk_maybe_ready"
_LOG = "_flowdesk_change_log"
# Set on a top workflow by engine.spiff.state_text: the ids of the tasks whose stored form may have
# changed since the state was last written (created, state changed, children added or removed).
DIRTY = "_flowdesk_dirty"
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_library_init = Task.__init__
_library_set_state = Task._set_state
_library_remove_task = BpmnBaseWorkflow._remove_task
_library_update = TaskSpec._update


class ChangeLog:
    """What happened to the tasks of a top workflow (and its subprocesses) since the log began:
    the tasks whose state changed, how many tasks were created, whether one was created open.
    engine.spiff.snapshot reads it to update its view of the open tasks without a walk."""

    LIMIT = 5000  # past this many changes a walk is as cheap as reading them

    __slots__ = ("changed", "created", "opened")

    def __init__(self) -> None:
        self.changed: list[Any] = []
        self.created = 0
        self.opened = False

    def usable(self, workflow: Any) -> bool:
        return getattr(workflow, _LOG, None) is self and not self.opened and len(self.changed) <= self.LIMIT


def start_log(workflow: Any) -> ChangeLog:
    """A new change log for ``workflow`` (a top workflow), replacing any earlier one."""
    log = ChangeLog()
    setattr(workflow, _LOG, log)
    return log


def task_count(workflow: Any) -> int:
    """The tasks of a top workflow and of all its subprocesses."""
    return len(workflow.tasks) + sum(len(sub.tasks) for sub in workflow.subprocesses.values())


def _log_of(task: Any) -> ChangeLog | None:
    top = getattr(task.workflow, "top_workflow", None)
    log: ChangeLog | None = getattr(top, _LOG, None) if top is not None else None
    return log


def touched(task: Any) -> None:
    """Note that ``task``'s stored form may have changed (see engine.spiff.state_text)."""
    top = getattr(task.workflow, "top_workflow", None)
    dirty: set[Any] | None = getattr(top, DIRTY, None) if top is not None else None
    if dirty is not None:
        dirty.add(task.id)
        if task._parent is not None:
            # A parent lists its children, and merges what they bring (multi-instance activities).
            dirty.add(task._parent)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    _library_init(self, *args, **kwargs)
    touched(self)
    if self._state == TaskState.WAITING:
        setattr(self.workflow, _MAYBE_WAITING, True)
    elif self._state == TaskState.READY and not self.task_spec.manual:
        setattr(self.workflow, _MAYBE_READY, True)
    log = _log_of(self)
    if log is not None:
        log.created += 1
        if self._state & _OPEN:
            log.opened = True


def _set_state(self: Any, value: int) -> None:
    if value == TaskState.WAITING:
        setattr(self.workflow, _MAYBE_WAITING, True)
    elif value == TaskState.READY and not self.task_spec.manual:
        setattr(self.workflow, _MAYBE_READY, True)
    if value != self._state:
        log = _log_of(self)
        if log is not None:
            log.changed.append(self)
    touched(self)
    _library_set_state(self, value)


def _remove_task(self: Any, task_id: Any) -> None:
    parent = self.tasks[task_id]._parent
    _library_remove_task(self, task_id)
    dirty: set[Any] | None = getattr(self.top_workflow, DIRTY, None)
    if dirty is not None and parent is not None:
        dirty.add(parent)  # its list of children lost one


def _spec_update(self: Any, my_task: Any) -> Any:
    touched(my_task)  # the hooks it runs may change the task's data without changing its state
    return _library_update(self, my_task)


def _update_waiting_tasks(self: Any) -> None:
    if not getattr(self, _MAYBE_WAITING, True):
        return  # no task became WAITING since none was: the walk below would update nothing
    if not any_in_state(self, TaskState.WAITING):
        setattr(self, _MAYBE_WAITING, False)
        return  # none: the walk below would update nothing
    for task in TaskIterator(self.task_tree, state=TaskState.WAITING):
        task.task_spec._update(task)


def has_ready_engine_task(workflow: Any) -> bool:
    """Whether ``workflow``'s own tree has a READY task that is not a user task: known from its
    mark when no such task can have appeared since none was seen, else from one flat pass."""
    if not getattr(workflow, _MAYBE_READY, True):
        return False
    if any(t._state == TaskState.READY and not t.task_spec.manual for t in workflow.tasks.values()):
        return True
    setattr(workflow, _MAYBE_READY, False)
    return False


def install() -> None:
    """Give every BPMN workflow (top level and subprocesses) the cheaper ``update_waiting_tasks``."""
    if BpmnBaseWorkflow.update_waiting_tasks is _update_waiting_tasks:
        return
    Task.__init__ = _init
    Task._set_state = _set_state
    BpmnBaseWorkflow._remove_task = _remove_task
    TaskSpec._update = _spec_update
    BpmnBaseWorkflow.update_waiting_tasks = _update_waiting_tasks
