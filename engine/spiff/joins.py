"""A parallel join that keeps what every branch wrote.

SpiffWorkflow gives each task its own copy of the data. At a parallel join it merges the branches'
copies one over the other, so the last branch to arrive also writes back its stale copy of every
variable that an earlier branch changed: ``left = left + 1`` in one branch and ``right = right + 1``
in the other end with ``left`` unchanged. Camunda, whose variables belong to the instance, keeps
both, and so do process designers' expectations.

Here each branch contributes only what it changed relative to the data at the fork (the lowest
common ancestor of the arriving branches): changed and new variables are set, removed ones are
removed, in the order the branches arrived, so when two branches set the same variable the later
write wins, as it does in Camunda.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import ParallelGateway
from SpiffWorkflow.util.task import TaskState

_MISSING = object()


def _ancestors(task: Any) -> list[Any]:
    """``task`` and its ancestors, nearest first."""
    chain = [task]
    tasks = task.workflow.tasks
    while chain[-1]._parent is not None and chain[-1]._parent in tasks:
        chain.append(tasks[chain[-1]._parent])
    return chain


def common_ancestor(tasks: list[Any]) -> Any | None:
    """The lowest task that is ``tasks[0]`` or an ancestor of it and of every other task."""
    chain = _ancestors(tasks[0])
    position = {id(t): i for i, t in enumerate(chain)}
    highest = 0
    for task in tasks[1:]:
        for ancestor in _ancestors(task):
            if id(ancestor) in position:
                highest = max(highest, position[id(ancestor)])
                break
        else:
            return None
    return chain[highest]


def merge_branches(baseline: dict[str, Any], branches: list[dict[str, Any]]) -> dict[str, Any]:
    """``baseline`` with each branch's own changes applied, in order."""
    merged = deepcopy(baseline)
    for data in branches:
        for key, value in data.items():
            if baseline.get(key, _MISSING) != value:
                merged[key] = deepcopy(value)
        for key in baseline:
            if key not in data:
                merged.pop(key, None)
    return merged


class MergingParallelGateway(ParallelGateway):  # type: ignore[misc]
    def _arrived(self, my_task: Any) -> list[Any]:
        """The other branches' instances of this join that this firing consumes.

        Inside a loop the tree also holds the instances of earlier firings: one of those has a
        completed instance of this join (that earlier firing) between it and ``my_task``.
        """
        chain = _ancestors(my_task)
        position = {id(t): i for i, t in enumerate(chain)}
        arrived = []
        for task in my_task.workflow.tasks.values():
            if task.task_spec != self or task is my_task or not task.has_state(TaskState.FINISHED_MASK):
                continue
            if id(task) in position:
                continue  # an ancestor of mine: an earlier firing
            meet = next((position[id(a)] for a in _ancestors(task) if id(a) in position), None)
            if meet is None:
                continue
            if any(a.task_spec == self and a.has_state(TaskState.COMPLETED) for a in chain[1:meet]):
                continue
            arrived.append(task)
        return arrived

    def _run_hook(self, my_task: Any) -> bool:
        arrived = self._arrived(my_task)
        arrived.sort(key=lambda t: t.last_state_change)
        parents = [t.parent for t in [*arrived, my_task] if t.parent is not None]
        fork = common_ancestor(parents) if parents else None
        if fork is None:
            return bool(super()._run_hook(my_task))  # no common fork to compare with: the library's way
        my_task.data = merge_branches(fork.data, [parent.data for parent in parents])
        for task in arrived:
            # As the library does: the other branches end here, their join instances have no future.
            if task.has_state(TaskState.COMPLETED):
                task._drop_children(force=True)
        return True
