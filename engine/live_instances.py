"""Running workflows kept in memory between operations, so the next one need not load them.

Loading an instance rebuilds its whole task tree from JSON (~100 µs a task), and a 1,000-item
multi-instance paid that on every completion. An operation that stores a workflow leaves it here,
keyed by the instance's revision as committed; the next operation on the instance takes it back
when the row it reads has that same revision. The revision is the instance's optimistic lock, bumped
by every write by any process, so a kept workflow is used only while it is exactly what the
database holds: another engine process, an operation that failed (it rolled back, and nothing was
kept), or any other change of the row makes it miss, and the instance is loaded as before.

An operation *takes* the workflow out, so two threads never share one; it comes back only once the
operation's transaction commits. The number of tasks kept is bounded; the least recently stored
instances go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.spiff import walk

if TYPE_CHECKING:
    from engine.spiff.runner import Runner

# Each task holds its own copy of the variables it sees (SpiffWorkflow's data model), so what a task
# costs depends on the data: ~10 KB a task for the 1,000-item multi-instance of bench/, whose
# collection every item copies.
DEFAULT_MAX_TASKS = 50_000


@dataclass
class _Kept:
    revision: int
    runner: Runner
    tasks: int


class LiveInstances:
    """A bounded, thread-safe store of workflows by instance id and revision."""

    def __init__(self, max_tasks: int = DEFAULT_MAX_TASKS) -> None:
        self.max_tasks = max_tasks
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._tasks = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, instance_id: str, revision: int) -> Runner | None:
        """The workflow stored at ``revision``, removed from here; None when not kept at it."""
        with self._lock:
            kept = self._kept.pop(instance_id, None)
            if kept is not None:
                self._tasks -= kept.tasks
                if kept.revision == revision:
                    self.hits += 1
                    return kept.runner
            self.misses += 1
            return None

    def keep(self, instance_id: str, revision: int, stored: str | None, runner: Runner) -> None:
        """Keep the workflow if it is ``stored``, the state the database holds at ``revision``
        (called after the commit)."""
        if self.max_tasks <= 0 or not runner.is_stored_as(stored):
            return  # changed after it was stored, or another workflow was stored since
        tasks = walk.task_count(runner.workflow)
        if tasks > self.max_tasks:
            return
        with self._lock:
            old = self._kept.pop(instance_id, None)
            if old is not None:
                self._tasks -= old.tasks
            self._kept[instance_id] = _Kept(revision, runner, tasks)
            self._tasks += tasks
            while self._tasks > self.max_tasks and self._kept:
                _, evicted = self._kept.popitem(last=False)
                self._tasks -= evicted.tasks

    def drop(self, instance_id: str) -> None:
        with self._lock:
            kept = self._kept.pop(instance_id, None)
            if kept is not None:
                self._tasks -= kept.tasks

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._tasks = 0

    def __len__(self) -> int:
        return len(self._kept)
