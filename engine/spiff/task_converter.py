"""The library's stored form of a task, with the text of its children's ids made once.

A multi-instance activity's task lists its 1,000 instances as children and is stored again on
every completion of one (engine.spiff.state_text); turning 1,000 UUIDs into text each time cost
~2 ms. The stored form is exactly the library's (``TaskConverter``): the same keys, and the data as
its difference from the parent's.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.util.deep_merge import DeepMerge

_CHILDREN = "_flowdesk_children_text"


def children_text(task: Any) -> list[str]:
    """``[str(child) for child in task._children]``, kept on the task while its children stay."""
    kept = getattr(task, _CHILDREN, None)
    if kept is not None and kept[0] == task._children:  # same ids: compared by identity first
        return list(kept[1])
    ids = list(task._children)
    texts = [str(child) for child in ids]
    setattr(task, _CHILDREN, (ids, texts))
    return list(texts)


class FlowdeskTaskConverter(TaskConverter):  # type: ignore[misc]
    def to_dict(self, task: Any) -> dict[str, Any]:
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            data = {}
            delta = {
                "updates": DeepMerge.get_updated_keys(parent.data, task.data),
                "deletions": DeepMerge.get_deleted_keys(parent.data, task.data),
            }
        return {
            "id": str(task.id),
            "parent": str(task._parent) if parent is not None else None,
            "children": children_text(task),
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }
