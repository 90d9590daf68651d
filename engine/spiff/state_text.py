"""The stored text of a running workflow, re-serializing only the tasks a step touched.

Turning a whole workflow into JSON costs ~50 µs a task; a parallel multi-instance with 1,000 open
user tasks paid that for every task on every completion, so completing all items grew with the
square of the items (bench/multi_instance.py). A workflow kept alive between steps
(engine.live_instances) keeps one of these beside it: each task's JSON text is kept, and a save
serializes again only

* the tasks marked since the last save (engine.spiff.walk marks a task when it is created, when its
  state is set, and its parent then too, since a parent lists its children and a multi-instance
  merges what they bring; and a parent when a child is removed);
* the children of a re-serialized task whose data changed: the library stores a task's data as its
  difference from its parent's (``TaskConverter.to_dict``), so their text depends on it;
* everything, after a save that failed (``forget``).

The envelope, the workflow-level data, events and the subprocesses' own fields are small and
written every time. ``Runner.verify_state`` (tests) compares every result with a full dump.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.spiff import walk
from engine.spiff.families import Family
from engine.spiff.serialization import FORMAT_VERSION, storage_error


class StateText:
    """The JSON text of one workflow's state, with each task's part kept between saves."""

    def __init__(self, fam: Family) -> None:
        self.family = fam
        # By the task object's id; each entry holds the task, so no other object takes its id.
        self._tasks: dict[int, tuple[Any, str]] = {}
        # For tasks with children: the text of their data when their children were last written.
        self._data: dict[int, tuple[Any, str]] = {}

    def watch(self, workflow: BpmnWorkflow) -> None:
        """Start marking changes on a workflow just loaded: it is what the stored state holds."""
        setattr(workflow, walk.DIRTY, set())

    @staticmethod
    def unchanged(workflow: BpmnWorkflow) -> bool:
        """Whether marks are kept and none was made since the last dump (or ``watch``)."""
        return getattr(workflow, walk.DIRTY, None) == set()

    def forget(self, workflow: BpmnWorkflow) -> None:
        """Write every task again at the next save, and stop trusting the marks until then."""
        self._tasks.clear()
        self._data.clear()
        setattr(workflow, walk.DIRTY, None)

    def dump(self, workflow: BpmnWorkflow, instance_id: str = "") -> str:
        serializer = self.family.serializer
        registry = serializer.registry
        encode = serializer._encoder_cls().encode
        dirty: set[UUID] | None = getattr(workflow, walk.DIRTY, None)
        if dirty is None:  # not watched yet: nothing kept can be trusted
            self._tasks.clear()
            self._data.clear()
            dirty = set()
        registry._encoder_mode = True
        try:
            workflows: list[Any] = [workflow, *workflow.subprocesses.values()]
            self._refresh(workflows, dirty, encode, registry)
            setattr(workflow, walk.DIRTY, set())  # marks from here on belong to the next save
            state = {
                "data": registry.convert(registry.clean(workflow.data)),
                "correlations": workflow.correlations,
                "last_task": _id_of(workflow.last_task),
                "success": workflow.success,
                "completed": workflow.completed,
                "root": str(workflow.task_tree.id),
                "bpmn_events": registry.convert(workflow.bpmn_events),
            }
            subprocesses = ", ".join(
                f"{json.dumps(str(tid))}: {self._subprocess(sp, encode, registry)}"
                for tid, sp in workflow.subprocesses.items()
            )
            head = encode(state)[:-1]  # the state object without its closing brace
            body = f'{head}, "tasks": {self._tasks_text(workflow)}, "subprocesses": {{{subprocesses}}}}}'
            return (
                f'{{"format": {FORMAT_VERSION}, "spiff": {json.dumps(serializer.VERSION)}, "state": {body}}}'
            )
        except (TypeError, ValueError) as err:
            self.forget(workflow)
            raise storage_error(err, instance_id) from err
        finally:
            registry._encoder_mode = False

    def _refresh(self, workflows: list[Any], dirty: set[UUID], encode: Any, registry: Any) -> None:
        """Serialize again the marked tasks, and the children of those whose data changed."""
        kept, data_texts = self._tasks, self._data
        stale: list[Any] = []
        for wf in workflows:
            tasks = wf.tasks
            if kept:  # tasks created since the last save are marked too
                stale += [tasks[tid] for tid in dirty if tid in tasks]
            else:
                stale += tasks.values()
        seen: set[int] = set()
        while stale:
            task = stale.pop()
            key = id(task)
            if key in seen:
                continue
            seen.add(key)
            kept[key] = (task, f'"{task.id}": {encode(registry.convert(task))}')
            if task._children:
                data_text = encode(registry.convert(registry.clean(task.data)))
                if data_texts.get(key, (None, None))[1] != data_text:
                    data_texts[key] = (task, data_text)
                    tasks = task.workflow.tasks
                    stale += [tasks[c] for c in task._children if c in tasks]
        if len(kept) > 2 * sum(len(wf.tasks) for wf in workflows) + 64:
            # Tasks pruned or dropped since: keep only the texts of tasks that still exist.
            alive = {id(task) for wf in workflows for task in wf.tasks.values()}
            self._tasks = {key: entry for key, entry in kept.items() if key in alive}
            self._data = {key: entry for key, entry in data_texts.items() if key in alive}

    def _tasks_text(self, wf: Any) -> str:
        kept = self._tasks
        return "{" + ", ".join([kept[id(task)][1] for task in wf.tasks.values()]) + "}"

    def _subprocess(self, sp: Any, encode: Any, registry: Any) -> str:
        # The fields BpmnSubWorkflowConverter.to_dict writes, but the tasks from what is kept.
        head = {
            "data": registry.convert(registry.clean(sp.data)),
            "correlations": sp.correlations,
            "last_task": _id_of(sp.last_task),
            "success": sp.success,
            "completed": sp.completed,
            "root": str(sp.task_tree.id),
            "parent_task_id": str(sp.parent_task_id),
            "spec": sp.spec.name,
            "typename": registry.typenames[sp.__class__],
        }
        return f'{encode(head)[:-1]}, "tasks": {self._tasks_text(sp)}}}'


def _id_of(task: Any) -> str | None:
    return str(task.id) if task is not None else None
