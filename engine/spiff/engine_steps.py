"""``BpmnWorkflow.do_engine_steps``, with the cheap walks of engine.spiff.walk and one correction.

The rounds are the library's: the active subprocesses, deepest first, each until nothing in it is
ready, then the top workflow, again while anything ran or a subprocess started. Two differences:

* A round collects the READY tasks with ``walk.iter_tasks``, and only when a READY task that is not
  a user task may exist (``walk.has_ready_engine_task``): most rounds at the end of a step find
  none, and 1,000 open user tasks would otherwise make every round walk the tree.
* A task collected at the start of a round runs only if it is still READY when its turn comes:
  a task run earlier in the round may have cancelled it (a completion condition ending a parallel
  multi-instance, an interrupting event, a terminate end event). The library runs it anyway, and
  a cancelled script would still execute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.spiff.event_scopes import task_or_none
from engine.spiff.walk import has_ready_engine_task, iter_tasks

Callback = Callable[[Any], None]


def _run_ready(workflow: Any, will: Callback, did: Callback) -> int:
    if not has_ready_engine_task(workflow) and not _ready_in_subprocesses(workflow):
        return 0  # the walk below would find nothing to run
    count = 0
    for task in list(iter_tasks(workflow.task_tree, TaskState.READY)):
        if task.task_spec.manual or not task.has_state(TaskState.READY):
            continue
        will(task)
        task.run()
        count += 1
        did(task)
    return count


def _ready_in_subprocesses(workflow: Any) -> bool:
    # The library's walk from a workflow's root also enters the subprocesses hanging from it.
    top = workflow.top_workflow
    return any(has_ready_engine_task(sub) for sub in top.subprocesses.values() if _below(sub, workflow))


def _below(sub: Any, workflow: Any) -> bool:
    if workflow is workflow.top_workflow:
        return True
    try:
        parent = sub.parent_workflow
        while parent is not None:
            if parent is workflow:
                return True
            parent = parent.parent_workflow
    except Exception:  # a parent task the tree no longer holds: let the full walk decide
        return True
    return False


def run_engine_steps(workflow: Any, will: Callback, did: Callback) -> None:
    """Run every READY engine task of ``workflow`` and what follows, as ``do_engine_steps`` does."""
    while True:
        active = workflow.get_active_subprocesses()
        for sub in sorted(active, key=lambda v: v.depth, reverse=True):
            while _run_ready(sub, will, did) > 0:
                pass
            # The task the subprocess runs for may be gone: an interrupting event removed what it
            # ran in (an error in one run of a multi-instance subprocess ends the other runs).
            task = task_or_none(workflow, sub.parent_task_id)
            if task is not None:
                task.task_spec._update(task)
        count = _run_ready(workflow, will, did)
        if not (count > 0 or len(workflow.get_active_subprocesses()) > len(active)):
            break
    workflow.refresh_timers()
