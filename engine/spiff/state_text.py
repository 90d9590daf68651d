"""What a save of a running workflow writes: a small head, and the tasks a step touched.

Turning a whole workflow into JSON costs ~50 µs a task, and a parallel multi-instance with 1,000
open user tasks paid it, and wrote ~500 KB, on every completion of one of them, so completing all
items grew with the square of the items (bench/multi_instance.py). The state is therefore stored
as a head (everything but the tasks) and one row per task (engine.state_store), and a save turns
into JSON again, and writes, only

* the tasks marked since the last save: engine.spiff.walk marks a task when it is created, when its
  state is set or its spec updates it (and then its parent, which lists its children and, for a
  multi-instance, merges what they bring), and a parent when a child is removed; Flowdesk's own
  changes of a task's data mark it too;
* the children of a task written again whose data changed: the library stores a task's data as its
  difference from its parent's (``TaskConverter.to_dict``), so their text depends on it;
* every task, for a workflow not watched since it was loaded or last saved (``whole``).

Removed tasks are found by count: every task alive at a save has its text here, so more texts than
tasks means some went. ``Runner.verify_state`` (on in the tests) compares every stored state with
a full dump.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.spiff import walk
from engine.spiff.families import Family
from engine.spiff.serialization import storage_error

# The head's format: a whole-state envelope (serialization.FORMAT_VERSION) without the tasks.
HEAD_FORMAT = 2


@dataclass(frozen=True)
class TaskRow:
    """One task's stored text; ``scope`` is the id of the task owning its subprocess, or None."""

    task_id: str
    scope: str | None
    seq: int
    body: str


@dataclass(frozen=True)
class StateChanges:
    """What to store: the head, the task rows to (re)write, the task ids whose rows go.

    ``whole``: ``written`` holds every task, and rows of the instance not in it are stale.
    """

    head: str
    whole: bool
    written: list[TaskRow]
    removed: list[str]


@dataclass(frozen=True)
class StoredAs:
    """The stored form a workflow is loaded from: the head text and the task rows."""

    head: str
    rows: list[TaskRow]


class _Kept(NamedTuple):
    task: Any  # held, so that no other object takes its id() while the text is kept
    body: str
    seq: int


class StateText:
    """The stored text of one workflow's tasks, kept between saves."""

    def __init__(self, fam: Family) -> None:
        self.family = fam
        self._tasks: dict[int, _Kept] = {}  # by id(task)
        # For tasks with children: the text of their data when their children were last written.
        self._data: dict[int, tuple[Any, str]] = {}
        self._next_seq = 0

    def watch(self, workflow: BpmnWorkflow) -> None:
        """Start marking changes on a workflow just loaded: it is what the stored state holds."""
        setattr(workflow, walk.DIRTY, set())

    def seed(self, workflow: BpmnWorkflow, rows: Iterable[TaskRow]) -> None:
        """Keep the texts of the rows a workflow was just loaded from, so its next save writes
        only what changes (not every task again)."""
        by_id = {task.id: task for wf in _workflows(workflow) for task in wf.tasks.values()}
        for row in rows:
            task = by_id.get(UUID(row.task_id))
            if task is not None:
                self._tasks[id(task)] = _Kept(task, row.body, row.seq)
                self._next_seq = max(self._next_seq, row.seq + 1)
        if len(self._tasks) != len(by_id):
            self.forget(workflow)  # rows and tasks disagree: the next save writes them all
            self.watch(workflow)

    @staticmethod
    def unchanged(workflow: BpmnWorkflow) -> bool:
        """Whether marks are kept and none was made since the last save (or ``watch``)."""
        return getattr(workflow, walk.DIRTY, None) == set()

    def forget(self, workflow: BpmnWorkflow) -> None:
        """Write every task at the next save, and stop trusting the marks until then."""
        self._tasks.clear()
        self._data.clear()
        self._next_seq = 0
        setattr(workflow, walk.DIRTY, None)

    def changes(self, workflow: BpmnWorkflow, instance_id: str = "") -> StateChanges:
        serializer = self.family.serializer
        registry = serializer.registry
        encode = serializer._encoder_cls().encode
        dirty: set[UUID] | None = getattr(workflow, walk.DIRTY, None)
        whole = dirty is None or not self._tasks
        if whole:
            self.forget(workflow)
            dirty = set()
        assert dirty is not None
        registry._encoder_mode = True
        try:
            workflows = _workflows(workflow)
            written = self._refresh(workflows, dirty, encode, registry)
            removed = self._drop_removed(workflows)
            setattr(workflow, walk.DIRTY, set())  # marks from here on belong to the next save
            head = encode(
                {
                    "format": HEAD_FORMAT,
                    "spiff": serializer.VERSION,
                    "state": {
                        **_own_fields(workflow, registry),
                        "bpmn_events": registry.convert(workflow.bpmn_events),
                        "subprocesses": {
                            str(tid): {
                                **_own_fields(sp, registry),
                                "parent_task_id": str(sp.parent_task_id),
                                "spec": sp.spec.name,
                                "typename": registry.typenames[sp.__class__],
                            }
                            for tid, sp in workflow.subprocesses.items()
                        },
                    },
                }
            )
        except (TypeError, ValueError) as err:
            self.forget(workflow)
            raise storage_error(err, instance_id) from err
        finally:
            registry._encoder_mode = False
        return StateChanges(head, whole, written, removed)

    def _refresh(self, workflows: list[Any], dirty: set[UUID], encode: Any, registry: Any) -> list[TaskRow]:
        """Serialize again the marked and new tasks, and the children of those whose data changed."""
        kept, data_texts = self._tasks, self._data
        stale: list[Any] = []
        for wf in workflows:
            stale += self._created(wf)
            tasks = wf.tasks
            stale += [tasks[tid] for tid in dirty if tid in tasks]
        top = workflows[0]
        written: dict[int, TaskRow] = {}
        while stale:
            task = stale.pop()
            key = id(task)
            if key in written:
                continue
            body = encode(registry.convert(task))
            seq = kept[key].seq
            kept[key] = _Kept(task, body, seq)
            wf = task.workflow
            scope = None if wf is top else str(wf.parent_task_id)
            written[key] = TaskRow(str(task.id), scope, seq, body)
            if task._children:
                data_text = encode(registry.convert(registry.clean(task.data)))
                if data_texts.get(key, (None, None))[1] != data_text:
                    data_texts[key] = (task, data_text)
                    stale += [wf.tasks[c] for c in task._children if c in wf.tasks]
        return list(written.values())

    def _created(self, wf: Any) -> list[Any]:
        """The tasks of ``wf`` new since the last save, numbered in the order they were created.

        A task dictionary keeps insertion order and new tasks go at its end, so they are its tail.
        """
        kept = self._tasks
        tail: list[Any] = []
        for task in reversed(wf.tasks.values()):
            if id(task) in kept:
                break
            tail.append(task)
        tail.reverse()
        for task in tail:
            kept[id(task)] = _Kept(task, "", self._next_seq)
            self._next_seq += 1
        return tail

    def _drop_removed(self, workflows: list[Any]) -> list[str]:
        kept = self._tasks
        if len(kept) == sum(len(wf.tasks) for wf in workflows):
            return []  # every kept text belongs to a task still there
        alive = {id(task) for wf in workflows for task in wf.tasks.values()}
        gone = [key for key in kept if key not in alive]
        removed = [str(kept.pop(key).task.id) for key in gone]
        for key in gone:
            self._data.pop(key, None)
        return removed


def _workflows(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def _own_fields(wf: Any, registry: Any) -> dict[str, Any]:
    """The fields WorkflowConverter.to_dict writes for a workflow or subprocess, but the tasks."""
    return {
        "data": registry.convert(registry.clean(wf.data)),
        "correlations": wf.correlations,
        "last_task": str(wf.last_task.id) if wf.last_task is not None else None,
        "success": wf.success,
        "completed": wf.completed,
        "root": str(wf.task_tree.id),
    }


def assert_same_state(kept: dict[str, Any], full: dict[str, Any]) -> None:
    """Raise AssertionError naming the first part where two stored states differ."""
    if kept == full:
        return
    mine, theirs = kept["state"], full["state"]
    for key in sorted(set(mine) | set(theirs)):
        if key in ("tasks", "subprocesses"):
            continue
        assert mine.get(key) == theirs.get(key), f"stored state differs in {key}"
    scopes = [(mine, theirs)] + [
        (mine["subprocesses"].get(sid, {}), sp) for sid, sp in theirs["subprocesses"].items()
    ]
    for ours, fresh in scopes:
        for tid in set(ours.get("tasks", {})) | set(fresh.get("tasks", {})):
            a, b = ours.get("tasks", {}).get(tid), fresh.get("tasks", {}).get(tid)
            assert a == b, f"stored task {tid} differs: kept {a!r}, full {b!r}"
    raise AssertionError("stored states differ")
