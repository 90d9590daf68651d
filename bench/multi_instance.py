"""Cost of a parallel multi-instance as it grows: 1,000 items against 100, through the real engine.

``python -m bench.multi_instance [--small 100] [--large 1000] [--repeats 5]``. Each figure comes from
a fresh SQLite file and the real engine (``Engine``, persisted steps), in one run:

* straight through: an instance whose parallel multi-instance of a no-op script task, or of a
  no-op in-process service task (``bench.noop``), over ``items`` runs from start to end in the one
  ``start`` call; the time of that call.
* user tasks: an instance with a parallel multi-instance user task; the time to complete every
  item, each completion one engine call as ``POST /task/{id}/complete`` makes it (load the
  instance, or take it from the engine's memory at its revision; complete the task; save the
  tasks it changed). The share of that time spent in ``Runner.load`` and ``Runner.dump`` (loading
  a whole state; serializing what a step changed) is measured on the side.

Target (issue 6): the 1,000-item run within 15x the 100-item one. Sizes alternate within each
repetition, so load on the shared machine hits both alike; figures are medians. Prints a table and
writes bench/results/multi_instance.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, median
from engine import Database, Engine, TaskQuery
from engine.handlers import HandlerRegistry
from engine.spiff import runner as runner_module

RESULTS = BENCH_DIR / "results" / "multi_instance.json"
TARGET = 15.0

_ACTIVITIES = {
    "script": '<bpmn:scriptTask id="Each" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming>'
    "<bpmn:outgoing>f2</bpmn:outgoing>{loop}<bpmn:script>done = True</bpmn:script></bpmn:scriptTask>",
    "service": '<bpmn:serviceTask id="Each" camunda:delegateExpression="${{bench.noop}}">'
    "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>{loop}</bpmn:serviceTask>",
    "user": '<bpmn:userTask id="Each" camunda:candidateGroups="bench"><bpmn:incoming>f1</bpmn:incoming>'
    "<bpmn:outgoing>f2</bpmn:outgoing>{loop}</bpmn:userTask>",
}
_LOOP = (
    '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" camunda:elementVariable="item" />'
)


def process(kind: str) -> tuple[str, bytes]:
    """start -> parallel multi-instance ``kind`` activity over ``items`` -> end, as a BPMN file."""
    activity = _ACTIVITIES[kind].format(loop=_LOOP)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://flowdesk.example/bench">
  <bpmn:process id="mi_{kind}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {activity}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Each" />
    <bpmn:sequenceFlow id="f2" sourceRef="Each" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
    return f"mi_{kind}.bpmn", xml.encode()


class StateTimer:
    """Seconds spent in ``Runner.load`` and ``Runner.dump`` (state JSON in and out) while on."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def on(self) -> Iterator[None]:
        original_load, original_dump = runner_module.Runner.load, runner_module.Runner.dump
        timer = self

        def load(cls: Any, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original_load.__func__(cls, *args, **kwargs)  # type: ignore[attr-defined]
            finally:
                timer.seconds += time.perf_counter() - began

        def dump(self: Any, *args: Any, **kwargs: Any) -> str:
            began = time.perf_counter()
            try:
                return original_dump(self, *args, **kwargs)
            finally:
                timer.seconds += time.perf_counter() - began

        runner_module.Runner.load = classmethod(load)  # type: ignore[assignment,method-assign]
        runner_module.Runner.dump = dump  # type: ignore[method-assign]
        try:
            yield
        finally:
            runner_module.Runner.load = original_load  # type: ignore[method-assign]
            runner_module.Runner.dump = original_dump  # type: ignore[method-assign]


def new_engine(folder: Path, name: str) -> Engine:
    registry = HandlerRegistry()
    registry.register("bench.noop", lambda ctx: None)
    engine = Engine(Database(f"sqlite:///{folder / name}.sqlite"), handlers=registry)
    engine.deployments.deploy([process(kind) for kind in _ACTIVITIES])
    return engine


def straight_through(engine: Engine, kind: str, n: int) -> float:
    began = time.perf_counter()
    info = engine.runtime.start(key=f"mi_{kind}", variables={"items": list(range(n))})
    seconds = time.perf_counter() - began
    if info.state != "COMPLETED":
        raise AssertionError(f"mi_{kind} with {n} items did not run through: {info.error_message}")
    return seconds


def user_tasks(engine: Engine, n: int) -> tuple[float, float]:
    """Seconds to complete all ``n`` user tasks, and of those the seconds of state load/save."""
    info = engine.runtime.start(key="mi_user", variables={"items": list(range(n))})
    ids = [t.id for t in engine.tasks.list(TaskQuery(instance_id=info.id, max_results=n + 1))]
    if len(ids) != n:
        raise AssertionError(f"expected {n} open tasks, found {len(ids)}")
    timer = StateTimer()
    began = time.perf_counter()
    with timer.on():
        for task_id in ids:
            engine.tasks.complete(task_id, {})
    seconds = time.perf_counter() - began
    if engine.runtime.get(info.id).state != "COMPLETED":
        raise AssertionError("the user-task multi-instance did not complete")
    return seconds, timer.seconds


def _alternate(repeats: int, sizes: Sequence[int], measure: Callable[[int], float]) -> dict[int, list[float]]:
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(repeats):
        for n in sizes:
            times[n].append(measure(n))
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.multi_instance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--user-repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = (args.small, args.large)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="flowdesk_mi_") as folder_name:
        folder = Path(folder_name)
        engine = new_engine(folder, "straight")
        try:
            for kind in ("script", "service"):
                straight_through(engine, kind, args.small)  # warm the caches (spec, sandbox)
                times = _alternate(
                    args.repeats, sizes, lambda n, kind=kind: straight_through(engine, kind, n)
                )
                runs[f"straight_{kind}"] = _figures(times, sizes)
        finally:
            engine.close()
        shares: dict[int, list[float]] = {n: [] for n in sizes}
        totals: dict[int, list[float]] = {n: [] for n in sizes}
        for repeat in range(args.user_repeats):
            for n in sizes:
                engine = new_engine(folder, f"user_{repeat}_{n}")
                try:
                    seconds, state_seconds = user_tasks(engine, n)
                finally:
                    engine.close()
                totals[n].append(seconds)
                shares[n].append(state_seconds / seconds)
        runs["user_tasks"] = _figures(totals, sizes)
        for n in sizes:
            runs["user_tasks"][f"state_load_save_share_{n}"] = round(median(shares[n]), 3)
    met = {name: run["ratio"] <= TARGET for name, run in runs.items()}
    result: dict[str, Any] = {
        "command": "python -m bench.multi_instance " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "sizes": list(sizes),
        "repeats": {"straight": args.repeats, "user_tasks": args.user_repeats},
        "runs": runs,
        "target": {"rule": f"time({args.large} items) / time({args.small} items) <= {TARGET}", "met": met},
    }
    print(f"{'run':<34} {f'ms {args.small}':>10} {f'ms {args.large}':>11} {'ratio':>7}  target")
    for name, run in runs.items():
        print(
            f"{name:<34} {run[f'ms_{args.small}']:>10.1f} {run[f'ms_{args.large}']:>11.1f} "
            f"{run['ratio']:>7.1f}  {'met' if met[name] else 'MISSED'}"
        )
    user = runs["user_tasks"]
    print(
        "user tasks: share of state load/save per completion: "
        f"{user[f'state_load_save_share_{args.small}']:.0%} ({args.small} items), "
        f"{user[f'state_load_save_share_{args.large}']:.0%} ({args.large} items)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _figures(times: dict[int, list[float]], sizes: Sequence[int]) -> dict[str, Any]:
    small, large = sizes
    small_ms, large_ms = median(times[small]) * 1000, median(times[large]) * 1000
    return {
        f"ms_{small}": round(small_ms, 3),
        f"ms_{large}": round(large_ms, 3),
        "ratio": round(large_ms / small_ms, 2),
        "samples_ms": {str(n): [round(t * 1000, 3) for t in ts] for n, ts in times.items()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
