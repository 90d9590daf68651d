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
* ``update_waiting_tasks``: the library's method first looks for a WAITING task with one flat pass
  over the workflow's task dictionary; when there is none, which is the common case (a task
  running alone, or many instances all READY or STARTED), the library's walk would update
  nothing, and it is skipped. Otherwise the library's own walk runs, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import attrgetter
from typing import Any

from SpiffWorkflow.bpmn.util.subworkflow import BpmnBaseWorkflow
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


def _update_waiting_tasks(self: Any) -> None:
    if not any_in_state(self, TaskState.WAITING):
        return  # the walk below would find nothing to update
    for task in TaskIterator(self.task_tree, state=TaskState.WAITING):
        task.task_spec._update(task)


def install() -> None:
    """Give every BPMN workflow (top level and subprocesses) the cheaper ``update_waiting_tasks``."""
    BpmnBaseWorkflow.update_waiting_tasks = _update_waiting_tasks
