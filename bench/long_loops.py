"""Cost per step of a long-running loop: the step at iteration 1,000 against the step at iteration 10.

``python -m bench.long_loops [--rounds 1000] [--window 10]``. One instance of
tests/fixtures/bpmn/review_loop.bpmn (a user task, a script and a gateway, round and round) runs on
a fresh SQLite file; each round is one persisted engine step, ``engine.tasks.complete``, timed on
its own. The figure is the median step time of ``--window`` rounds around iteration 10 and around
iteration ``--rounds``. Target (issue 6): the late step within 2x of the early one.

The two windows are measured alternately on two instances, so load on the machine hits both alike.
The same loop with pruning switched off is measured for comparison where it can run: SpiffWorkflow
alone stalls once the tree is 1,000 deep (its task iterator stops there; this loop adds four levels a
round, so ~250 rounds), so that run stops at iteration 200. Figures go to stdout and
bench/results/long_loops.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR
from engine import Database, Engine, TaskQuery
from engine.handlers import HandlerRegistry
from engine.spiff import pruning

FIXTURE = BENCH_DIR.parent / "tests" / "fixtures" / "bpmn" / "review_loop.bpmn"
RESULTS = BENCH_DIR / "results" / "long_loops.json"
TARGET = 2.0
UNPRUNED_ROUNDS = 200


@contextmanager
def pruning_off() -> Iterator[None]:
    original = pruning.PRUNE_DEPTH
    pruning.PRUNE_DEPTH = 10**9
    try:
        yield
    finally:
        pruning.PRUNE_DEPTH = original


class Loop:
    """One engine on its own SQLite file, and instances of the loop to advance one round at a time."""

    def __init__(self, path: Path) -> None:
        self.engine = Engine(Database(f"sqlite:///{path}"), handlers=HandlerRegistry())
        self.engine.deployments.deploy([(FIXTURE.name, FIXTURE.read_bytes())])

    def start(self) -> str:
        return self.engine.runtime.start(key="review_loop", variables={"rounds": 10**6}).id

    def step(self, instance_id: str) -> float:
        """Complete the instance's open task once; the seconds the completion took."""
        [task] = self.engine.tasks.list(TaskQuery(instance_id=instance_id))
        started = time.perf_counter()
        self.engine.tasks.complete(task.id, {})
        return time.perf_counter() - started

    def state_size(self, instance_id: str) -> int:
        """Bytes of the stored state: the instance row's head and its task rows."""
        with self.engine.database.engine.connect() as conn:
            head = "SELECT length(workflow) FROM process_instances WHERE id = ?"
            rows = "SELECT coalesce(sum(length(body)), 0) FROM instance_task_states WHERE instance_id = ?"
            size = conn.exec_driver_sql(head, (instance_id,)).scalar_one()
            return int(size) + int(conn.exec_driver_sql(rows, (instance_id,)).scalar_one())

    def close(self) -> None:
        self.engine.close()


def early_and_late(loop: Loop, late_at: int, window: int, early_at: int = 10) -> dict[str, Any]:
    """Median step times around ``early_at`` and ``late_at``, measured alternately on two instances.

    Both instances take turns, so a burst of load on the machine hits both windows alike.
    """
    early, late = loop.start(), loop.start()
    for _ in range(early_at - window // 2):
        loop.step(early)
    for _ in range(late_at - window // 2):
        loop.step(late)
    early_times, late_times = [], []
    for _ in range(window):
        early_times.append(loop.step(early))
        late_times.append(loop.step(late))
    early_ms = statistics.median(early_times) * 1000
    late_ms = statistics.median(late_times) * 1000
    return {
        f"step_ms_at_{early_at}": round(early_ms, 3),
        f"step_ms_at_{late_at}": round(late_ms, 3),
        "ratio": round(late_ms / early_ms, 3),
        "stored_state_bytes_early": loop.state_size(early),
        "stored_state_bytes_late": loop.state_size(late),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.long_loops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowdesk_loops_") as tmp_name:
        loop = Loop(Path(tmp_name) / "pruned.sqlite")
        try:
            pruned = early_and_late(loop, args.rounds, args.window)
        finally:
            loop.close()
        with pruning_off():
            loop = Loop(Path(tmp_name) / "unpruned.sqlite")
            try:
                unpruned = early_and_late(loop, UNPRUNED_ROUNDS, args.window)
            finally:
                loop.close()
    met = pruned["ratio"] <= TARGET
    result: dict[str, Any] = {
        "command": "python -m bench.long_loops " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "process": "tests/fixtures/bpmn/review_loop.bpmn: user task -> script -> gateway, round and round",
        "window": args.window,
        "pruned": pruned,
        "unpruned": unpruned,
        "target": {"rule": f"step(iteration {args.rounds}) / step(iteration 10) <= {TARGET}", "met": met},
    }
    print(f"{'run':<30} {'ms at 10':>9} {'ms late':>9} {'ratio':>7} {'state bytes early/late':>24}")
    for name, run, late_at in (
        ("Flowdesk (pruned)", pruned, args.rounds),
        ("unpruned", unpruned, UNPRUNED_ROUNDS),
    ):
        sizes = f"{run['stored_state_bytes_early']}/{run['stored_state_bytes_late']}"
        print(
            f"{name + ', iteration ' + str(late_at):<30} {run['step_ms_at_10']:>9.2f} "
            f"{run[f'step_ms_at_{late_at}']:>9.2f} {run['ratio']:>7.2f} {sizes:>24}"
        )
    print(f"target: {result['target']['rule']}: {'met' if met else 'MISSED'}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
