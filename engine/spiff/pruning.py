"""Cut the finished past off a workflow's task tree, so long-running loops neither stall nor slow down.

SpiffWorkflow never forgets a task: a gateway loop makes the tree one level deeper each time round,
and every engine step walks the whole tree. Two things follow (measured, see SPIFFWORKFLOW.md):
each step costs more than the last, and at depth 1,000 the library's task iterator stops looking,
so a loop silently stalls after ~333 iterations with no READY task and no error.

What may go: in a BPMN task tree every unfinished task (running, waiting or predicted) descends
from the lowest common ancestor of all of them. Everything outside that ancestor's subtree is
finished: completed, cancelled or failed, already reported to history, and never read again by the
library, whose joins, boundary events and event gateways look only at unfinished tasks and their
own branch. So the tree can be re-rooted a few finished levels above that ancestor and the rest
dropped. ``KEEP_LEVELS`` finished ancestors stay, as a margin for anything that looks a little way
up its own branch (a join finding the split it belongs to).

The new root keeps its data whole: the serializer stores a task's data as a delta against its
parent, and in full for a task without one.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from engine.spiff import walk

# Prune when the open frontier is this deep; keep this many finished levels above it. Small on
# purpose: a parallel join compares itself with every earlier instance of the join still in the
# tree, walking up their branches, so its cost grows with the square of what is kept (measured on
# tests/fixtures/bpmn/forking_loop.bpmn on a busy machine: ~36 ms a round pruning at depth 200,
# ~10 ms at 60, ~7 ms at 30).
PRUNE_DEPTH = 30
KEEP_LEVELS = 5


def depth_of(task: Any) -> int:
    """The task's depth in its own workflow's tree (the library's ``depth`` walks the same way)."""
    depth = 0
    parent_id = task._parent
    tasks = task.workflow.tasks
    while parent_id is not None:
        parent = tasks.get(parent_id)
        if parent is None:
            break
        depth += 1
        parent_id = parent._parent
    return depth


def _path_to_root(task: Any) -> list[Any]:
    path = [task]
    tasks = task.workflow.tasks
    while path[-1]._parent is not None:
        parent = tasks.get(path[-1]._parent)
        if parent is None:
            break
        path.append(parent)
    path.reverse()
    return path


def prune(workflow: Any, keep: int = KEEP_LEVELS) -> int:
    """Drop the finished tasks above the open frontier of ``workflow``'s own tree; returns how many.

    ``workflow`` is a ``BpmnWorkflow`` or one of its subprocesses (each has its own tree).
    """
    if getattr(workflow.spec, "conditional_paths", None):
        return 0  # ad-hoc paths are restarted from the tree's root: keep the root where it is
    unfinished = [t for t in workflow.tasks.values() if not t.has_state(TaskState.FINISHED_MASK)]
    if not unfinished:
        return 0  # a finished workflow: nothing runs again, nothing to gain
    path = _path_to_root(unfinished[0])
    index = {id(task): i for i, task in enumerate(path)}
    lowest = len(path) - 1
    for task in unfinished[1:]:
        node: Any = task
        while node is not None and id(node) not in index:
            node = workflow.tasks.get(node._parent) if node._parent is not None else None
        if node is None:
            return 0  # not one tree: leave it alone rather than guess
        lowest = min(lowest, index[id(node)])
    cut = lowest - keep
    if cut <= 0:
        return 0
    new_root = path[cut]
    if not all(task.has_state(TaskState.FINISHED_MASK) for task in path[cut:lowest]):
        return 0  # cannot happen in a well-formed tree; never cut through an open task
    kept: dict[Any, Any] = {}
    stack = [new_root]
    while stack:
        task = stack.pop()
        kept[task.id] = task
        stack.extend(child for child in (workflow.tasks.get(c) for c in task._children) if child is not None)
    removed = len(workflow.tasks) - len(kept)
    # Keep creation order: parents are restored before their children when the state is loaded.
    workflow.tasks = {tid: task for tid, task in workflow.tasks.items() if tid in kept}
    new_root.data = dict(new_root.data)
    new_root._parent = None
    walk.touched(new_root)  # stored whole from now on, not as a difference from a parent
    workflow.task_tree = new_root
    last = getattr(workflow, "last_task", None)
    if last is not None and last.id not in kept:
        workflow.last_task = new_root
    return removed


def drop_instances(task: Any) -> int:
    """Drop the instances of a multi-instance activity that has just completed; returns how many.

    A 1,000-item multi-instance leaves 1,000 finished siblings at one depth, which the depth rule
    above keeps until the process has moved 30 levels on: every later step would store and load
    them again (~450 bytes each). Once the activity has completed nothing reads them: their data
    was merged into the activity's, history has them, and the activity's own bookkeeping is counts.
    """
    spec = task.task_spec
    if not isinstance(spec, MultiInstanceTask) or not task.has_state(TaskState.COMPLETED):
        return 0
    workflow = task.workflow
    instances = [
        child
        for child in (workflow.tasks.get(c) for c in task._children)
        if child is not None and child.task_spec.name == spec.task_spec
    ]
    if not instances or any(
        not child.has_state(TaskState.FINISHED_MASK) or child._children for child in instances
    ):
        return 0  # never cut an open instance, nor one with tasks of its own below it
    top = workflow.top_workflow
    gone = set()
    for child in instances:
        if child.id in top.subprocesses:
            top.delete_subprocess(child)
        workflow.tasks.pop(child.id, None)
        gone.add(child.id)
    task._children = [c for c in task._children if c not in gone]
    walk.touched(task)
    if getattr(workflow, "last_task", None) is not None and workflow.last_task.id in gone:
        workflow.last_task = task
    return len(gone)


class Pruner:
    """Called after each task the engine runs; prunes a tree once its frontier gets deep.

    Looking at the depth costs a walk up one branch, so it is done every ``every`` tasks only.
    """

    def __init__(self, every: int = 10, depth: int | None = None) -> None:
        self.every = every
        self.depth = PRUNE_DEPTH if depth is None else depth
        self._count = 0
        self._last: Any = None
        self.pruned = 0

    def after(self, task: Any) -> None:
        self.pruned += drop_instances(task)
        self._count += 1
        self._last = task
        if self._count % self.every == 0:
            self.check(task)

    def finish(self) -> None:
        """At the end of a step: a loop that waits for a person each time round runs few tasks a step."""
        if self._last is not None:
            self.check(self._last)

    def check(self, task: Any) -> None:
        if depth_of(task) > self.depth:
            self.pruned += prune(task.workflow)
