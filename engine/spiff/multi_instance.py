"""Multi-instance activities as Camunda 7 runs them, for every activity type of the Camunda dialect.

SpiffWorkflow's Camunda parser reads ``camunda:collection`` only on user tasks and subprocesses
(script and service tasks get the generic parser, which wants ``loopDataInputRef``), and its
Camunda multi-instance writes each instance's element variable back into the collection and drops
every other variable an instance set. Camunda 7 does neither: the collection is left alone, the
element variable and ``loopCounter`` are local to their instance, and what an instance sets goes to
the process (the later write wins). The completion condition sees ``nrOfInstances``,
``nrOfCompletedInstances``, ``nrOfActiveInstances`` and the completing instance's ``loopCounter``.

Counting is kept in the multi-instance task's ``internal_data``, so a completion costs the same
whatever the number of instances (the library's own checks walk every instance per completion,
which makes a 1,000-item parallel multi-instance quadratic, and it keeps the id of every merged
instance in the stored state).

A parallel multi-instance keeps its own data as it was when the instances were created: each
instance's changes are measured against it and collected in ``internal_data['changes']``, applied
when the activity completes, so one instance's stale copy never undoes another's write (the same
rule as the parallel join, engine.spiff.joins). A sequential instance is measured against the data
its successor inherits, which changes only through it.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import (
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

LOOP_COUNTER = "loopCounter"
_CHANGES = "changes"
_REMOVED = "removed"
_TOTAL = "total"
_DONE = "completed"
_CREATED = "created"
_MISSING = object()
_CANCELLED = "_flowdesk_cancelled_instances"  # on the top workflow object, never stored


def take_cancelled(workflow: Any) -> list[Any]:
    """The instances a completion condition cancelled since the last call (``workflow``: the top)."""
    found: list[Any] = workflow.__dict__.pop(_CANCELLED, [])
    return found


def _open_within(top: Any, item: Any) -> list[Any]:
    """``item`` and, for a subprocess instance, the activities open inside it (nested ones too)."""
    found = [item]
    subprocess = top.subprocesses.get(item.id)
    if subprocess is not None:
        found += [
            task
            for task in subprocess.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
            if task.task_spec.bpmn_id is not None and not isinstance(task.task_spec, BoundaryEvent)
        ]
    return found


def merged_process_data(tasks: Iterable[Any]) -> dict[str, Any]:
    """The data of the tasks merged in order, later tasks winning, without the variables local to
    the multi-instance items they run in.

    An item's element variable and ``loopCounter`` (and a library item's output element) are
    Camunda local variables: the task sees them, the process does not. A name an item shadows
    keeps the value it has outside the loop. The items of one multi-instance share what they hide,
    so it is found once for all of them (a walk up the tree per item made reading a 1,000-item
    instance's variables cost ~4 ms).
    """
    merged: dict[str, Any] = {}
    group: list[Any] = []
    for task in tasks:
        if group and not _same_items(group[0], task):
            _merge_group(merged, group)
            group = []
        group.append(task)
    if group:
        _merge_group(merged, group)
    return merged


def _same_items(first: Any, task: Any) -> bool:
    # The same parent, spec and workflow: the same multi-instance items, if any. Siblings share
    # their parent's id object, so identity answers before the slower UUID comparison.
    parent = task._parent
    return (
        (parent is first._parent or parent == first._parent)
        and task.task_spec is first.task_spec
        and task.workflow is first.workflow
    )


def _merge_group(merged: dict[str, Any], group: list[Any]) -> None:
    hidden = item_locals(group[0])
    before = {name: merged[name] for name in hidden if name in merged}
    for task in group:
        merged.update(task.data)
    for name, outside in hidden.items():
        # What the items hide is the value outside the loop, else what earlier tasks gave.
        if outside is not _MISSING:
            merged[name] = outside
        elif name in before:
            merged[name] = before[name]
        else:
            merged.pop(name, None)


def item_locals(task: Any) -> dict[str, Any]:
    """The names local to the multi-instance items ``task`` runs in, each with its value outside
    the loops (``_MISSING`` when it has none); empty outside any multi-instance."""
    hidden: dict[str, Any] = {}
    current = task
    while current is not None:
        body = current.parent
        spec = body.task_spec if body is not None else None
        if isinstance(spec, MultiInstanceTask) and current.task_spec.name == spec.task_spec:
            # Outer loops come later and win: their body's data is outside every inner loop.
            for name in _item_names(spec):
                hidden[name] = body.data.get(name, _MISSING)
        # Then the subprocess task the workflow runs in, looked up in its own workflow's tasks.
        parent_id = getattr(current.workflow, "parent_task_id", None)
        outer = getattr(current.workflow, "parent_workflow", None)
        current = outer.tasks.get(parent_id) if parent_id is not None and outer is not None else None
    return hidden


def _item_names(spec: Any) -> list[str]:
    if isinstance(spec, CamundaLoop):
        return spec._local_names()
    return [ref.bpmn_id for ref in (spec.input_item, spec.output_item) if ref is not None]


def changes_of(
    child_data: dict[str, Any], baseline: dict[str, Any], local: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """What an instance set and removed, compared with the data it started from."""
    changed = {}
    for key, value in child_data.items():
        if key in local:
            continue
        base = baseline.get(key, _MISSING)
        if value is not base and base != value:
            changed[key] = value
    removed = [key for key in baseline if key not in child_data and key not in local]
    return changed, removed


class CamundaLoop:
    """What parallel and sequential Camunda multi-instances share (a mixin over the library's specs)."""

    activity_type = "multiInstanceBody"  # what Camunda 7's history calls the container of the instances

    task_spec: str
    cardinality: str | None
    data_input: Any
    input_item: Any
    condition: str | None

    def _local_names(self) -> list[str]:
        """The names that stay in each instance, never merged into the process."""
        names = [LOOP_COUNTER]
        if self.input_item is not None:
            names.append(self.input_item.bpmn_id)
        return names

    def merge_child(self, workflow: Any, child: Any) -> None:
        raise NotImplementedError  # parallel and sequential merge differently

    def create_child(self, my_task: Any, item: Any, key_or_index: Any = None) -> None:
        task_spec = my_task.workflow.spec.task_specs[self.task_spec]
        if not task_spec.completed_event.is_connected(self.merge_child):
            task_spec.completed_event.connect(self.merge_child)
        child = my_task._add_child(task_spec, TaskState.WAITING)
        child.triggered = True
        index = my_task.internal_data.get(_CREATED, 0)
        my_task.internal_data[_CREATED] = index + 1
        if key_or_index is not None:
            child.internal_data["key_or_index"] = key_or_index
        else:
            child.internal_data["item"] = item
        own = {LOOP_COUNTER: index}
        if self.input_item is not None:
            own[self.input_item.bpmn_id] = deepcopy(item)
        # Set before the update for an embedded subprocess, which copies its data on in it; set
        # again after, as the instance's own variables shadow process variables of the same name
        # (Camunda's local variables; the library's version refuses such a name instead).
        child.data.update(own)
        child.task_spec._update(child)
        child.data.update(own)

    def _counts(self, my_task: Any) -> dict[str, int]:
        total = my_task.internal_data.get(_TOTAL, 0)
        done = my_task.internal_data.get(_DONE, 0)
        active = my_task.internal_data.get(_CREATED, 0) - done
        return {
            "nrOfInstances": total,
            "nrOfCompletedInstances": done,
            "nrOfActiveInstances": active,
        }

    def condition_met(self, my_task: Any, child: Any, scope: dict[str, Any]) -> bool:
        if self.condition is None:
            return False
        context = {**scope, **self._counts(my_task), LOOP_COUNTER: child.data.get(LOOP_COUNTER)}
        return bool(my_task.workflow.script_engine.evaluate(child, self.condition, external_context=context))

    def _record_done(self, my_task: Any, child: Any) -> None:
        my_task.internal_data[_DONE] = my_task.internal_data.get(_DONE, 0) + 1

    def _total(self, my_task: Any) -> int:
        if self.data_input is not None:
            if not self.data_input.exists(my_task):
                raise_missing(self, my_task)
            return len(self.data_input.get(my_task))
        value = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
        if not isinstance(value, int) or isinstance(value, bool):
            self.raise_data_exception(  # type: ignore[attr-defined]
                f"loopCardinality must be a whole number, not {value!r}", my_task
            )
        return int(value)


def raise_missing(spec: Any, my_task: Any) -> None:
    spec.raise_data_exception(
        f"the multi-instance collection `{spec.data_input.bpmn_id}` is not a variable of the process",
        my_task,
    )


class CamundaParallelMultiInstance(CamundaLoop, ParallelMultiInstanceTask):  # type: ignore[misc]
    def _update_hook(self, my_task: Any) -> Any:
        if my_task.has_state(TaskState.STARTED | TaskState.READY):
            return None  # the instances run or have run: nothing to decide again
        # The library's multi-instance _update_hook would create the instances through its own
        # bookkeeping; only the BPMN part (data inheritance, data associations) is wanted here.
        BpmnTaskSpec._update_hook(self, my_task)
        my_task.internal_data[_TOTAL] = self._total(my_task)
        my_task.internal_data[_CHANGES] = {}
        my_task.internal_data[_REMOVED] = []
        self.create_children(my_task)
        if my_task.internal_data[_TOTAL] == 0:
            return True
        my_task._set_state(TaskState.STARTED)
        return None

    def create_children(self, my_task: Any) -> None:
        if self.data_input is not None:
            items = self.data_input.get(my_task)
            pairs: Any = items.items() if isinstance(items, dict) else enumerate(items)
        else:
            pairs = ((i, i) for i in range(my_task.internal_data[_TOTAL]))
        for key_or_index, item in pairs:
            self.create_child(my_task, item, key_or_index)

    def merge_child(self, workflow: Any, child: Any) -> None:
        my_task = child.parent
        if not my_task.has_state(TaskState.STARTED):
            return  # the activity already completed (completion condition): a late instance
        changed, removed = changes_of(child.data, my_task.data, set(self._local_names()))
        changes = my_task.internal_data[_CHANGES]
        gone = my_task.internal_data[_REMOVED]
        for key in changed:
            if key in gone:
                gone.remove(key)
        changes.update(changed)
        for key in removed:
            changes.pop(key, None)
            if key not in gone:
                gone.append(key)
        self._record_done(my_task, child)
        scope = {**my_task.data, **changes}
        if self.condition_met(my_task, child, scope):
            top = my_task.workflow.top_workflow
            open_items = [o for o in self._instances(my_task) if not o.has_state(TaskState.FINISHED_MASK)]
            # Taken before cancelling: the activities open inside a cancelled subprocess instance
            # end with it, and their external task or retry rows must go too (event_sync).
            cancelled = [task for item in open_items for task in _open_within(top, item)]
            for other in open_items:
                other.cancel()
            # The runner ends them in history as cancelled (take_cancelled).
            setattr(top, _CANCELLED, [*getattr(top, _CANCELLED, []), *cancelled])
            self._finish(my_task)
        elif my_task.internal_data[_DONE] >= my_task.internal_data[_TOTAL]:
            self._finish(my_task)

    def _finish(self, my_task: Any) -> None:
        my_task.data.update(my_task.internal_data.pop(_CHANGES, {}))
        for key in my_task.internal_data.pop(_REMOVED, []):
            my_task.data.pop(key, None)
        my_task._set_state(TaskState.READY)

    def children_complete(self, my_task: Any) -> bool:
        return bool(my_task.internal_data.get(_DONE, 0) >= my_task.internal_data.get(_TOTAL, 0))


class CamundaSequentialMultiInstance(CamundaLoop, SequentialMultiInstanceTask):  # type: ignore[misc]
    def _update_hook(self, my_task: Any) -> Any:
        if my_task.has_state(TaskState.STARTED | TaskState.READY):
            return None
        BpmnTaskSpec._update_hook(self, my_task)
        my_task.internal_data[_TOTAL] = self._total(my_task)
        if my_task.internal_data[_TOTAL] == 0:
            return True
        self._next(my_task)
        my_task._set_state(TaskState.STARTED)
        return None

    def _next(self, my_task: Any) -> None:
        index = my_task.internal_data.get(_CREATED, 0)
        if self.data_input is not None:
            items = self.data_input.get(my_task)
            if isinstance(items, dict):
                key = list(items)[index]
                self.create_child(my_task, items[key], key)
            else:
                sequence = items if isinstance(items, list) else list(items)
                self.create_child(my_task, sequence[index], index)
        else:
            self.create_child(my_task, index, index)

    def merge_child(self, workflow: Any, child: Any) -> None:
        my_task = child.parent
        if not my_task.has_state(TaskState.STARTED):
            return
        changed, removed = changes_of(child.data, my_task.data, set(self._local_names()))
        my_task.data.update(changed)
        for key in removed:
            my_task.data.pop(key, None)
        self._record_done(my_task, child)
        if self.condition_met(my_task, child, my_task.data) or (
            my_task.internal_data[_DONE] >= my_task.internal_data[_TOTAL]
        ):
            my_task._set_state(TaskState.READY)
        else:
            self._next(my_task)

    def children_complete(self, my_task: Any) -> bool:
        return bool(my_task.internal_data.get(_DONE, 0) >= my_task.internal_data.get(_TOTAL, 0))


class CamundaMultiInstanceParsing:
    """A task parser mixin: ``multiInstanceLoopCharacteristics`` read the Camunda 7 way."""

    spec: Any
    task: Any

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        sequential = loop_characteristics.get("isSequential") == "true"
        prefix = "bpmn:multiInstanceLoopCharacteristics"
        cardinality_nodes = self.xpath(f"./{prefix}/bpmn:loopCardinality")  # type: ignore[attr-defined]
        cardinality = (cardinality_nodes[0].text or "").strip() if cardinality_nodes else None
        collection = self.attribute("collection", "camunda", loop_characteristics)  # type: ignore[attr-defined]
        if not cardinality and not collection:
            self.raise_validation_exception(  # type: ignore[attr-defined]
                "a multi-instance activity needs camunda:collection (with camunda:elementVariable) "
                "or a loopCardinality"
            )
        element = self.attribute("elementVariable", "camunda", loop_characteristics)  # type: ignore[attr-defined]
        condition_nodes = self.xpath(f"./{prefix}/bpmn:completionCondition")  # type: ignore[attr-defined]
        condition = (condition_nodes[0].text or "").strip() or None if condition_nodes else None
        original = self.spec.task_specs.pop(self.task.name)
        params = {
            "task_spec": "",
            "cardinality": None if collection else cardinality,
            "data_input": TaskDataReference(collection) if collection else None,
            "input_item": TaskDataReference(element) if element else None,
            "condition": condition,
        }
        spec_class = CamundaSequentialMultiInstance if sequential else CamundaParallelMultiInstance
        description = "Sequential MultiInstance" if sequential else "Parallel MultiInstance"
        self.task = spec_class(self.spec, original.name, description=description, **params)
        self._copy_task_attrs(original, loop_characteristics)  # type: ignore[attr-defined]
