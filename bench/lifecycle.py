"""Lifecycle throughput: start an instance, find its user task, complete it, run it to its end.

The same BPMN file runs on raw SpiffWorkflow in memory (the baseline) and on Flowdesk persisted
on SQLite and PostgreSQL. Two in-memory diagnostics sit between them so that the gap can be split
into "sandboxed scripts" and "JSON state round trip" before the database is even involved.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event

from bench.common import BPMN_PATH, PROCESS_KEY, median
from engine import Engine, TaskQuery

START_VALUES = "n"
COMPLETE_VALUES: dict[str, Any] = {"approved": True}
EXPECTED_X10 = 55  # x1 = n + 1, x_i = x_(i-1) + i: with n = 0, x10 = 1 + 2 + ... + 10


@dataclass
class Throughput:
    """instances/s of each repetition, and (for Flowdesk) where the wall time of a lifecycle went."""

    name: str
    instances: int
    rates: list[float] = field(default_factory=list)
    rates_without_lookup: list[float] = field(default_factory=list)
    phase_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return median(self.rates)

    @property
    def rate_without_lookup(self) -> float | None:
        return median(self.rates_without_lookup) if self.rates_without_lookup else None

    def phase_median_ms(self) -> dict[str, float]:
        return {phase: median(values) for phase, values in self.phase_ms.items()}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instances_per_repetition": self.instances,
            "instances_per_second_each_repetition": [round(r, 1) for r in self.rates],
            "instances_per_second": round(self.rate, 1),
            "ms_per_instance": round(1000 / self.rate, 3),
        }
        if self.rates_without_lookup:
            out["instances_per_second_without_lookup_each_repetition"] = [
                round(r, 1) for r in self.rates_without_lookup
            ]
            out["instances_per_second_without_lookup"] = round(median(self.rates_without_lookup), 1)
        if self.phase_ms:
            out["ms_per_instance_by_phase"] = {k: round(v, 3) for k, v in self.phase_median_ms().items()}
        return out


# -- raw SpiffWorkflow --------------------------------------------------------------------------------


def parse_raw() -> tuple[Any, dict[str, Any]]:
    """Parse the file once with the Camunda parser, as a host application would."""
    parser = CamundaParser()
    parser.add_bpmn_file(str(BPMN_PATH))
    return parser.get_spec(PROCESS_KEY), parser.get_subprocess_specs(PROCESS_KEY)


def raw_lifecycle(spec: Any, subprocess_specs: dict[str, Any], n: int, script_engine: Any = None) -> Any:
    if script_engine is None:
        workflow = BpmnWorkflow(spec, subprocess_specs)  # default PythonScriptEngine
    else:
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    workflow.task_tree.data.update({START_VALUES: n})
    workflow.do_engine_steps()
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.set_data(**COMPLETE_VALUES)
    task.run()
    workflow.do_engine_steps()
    return workflow


def roundtrip_lifecycle(spec: Any, subprocess_specs: dict[str, Any], n: int, script_engine: Any) -> Any:
    """What Flowdesk does in memory: sandboxed scripts, state saved after start, loaded and saved again
    around the completion; no database. Uses the engine's own serialization functions."""
    from engine.dialect import Dialect
    from engine.spiff.families import family
    from engine.spiff.serialization import workflow_from_json, workflow_to_json

    fam = family(Dialect.CAMUNDA7)
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
    workflow.task_tree.data.update({START_VALUES: n})
    workflow.do_engine_steps()
    stored = workflow_to_json(fam, workflow)
    workflow = workflow_from_json(fam, stored, spec, subprocess_specs, script_engine)
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.set_data(**COMPLETE_VALUES)
    task.run()
    workflow.do_engine_steps()
    workflow_to_json(fam, workflow)
    return workflow


def _check_raw(workflow: Any) -> None:
    if not workflow.is_completed() or workflow.data.get("x10") is None:
        raise RuntimeError(f"the raw workflow did not run to its end: data={workflow.data!r}")


class InMemoryBench:
    """A lifecycle run in memory (raw SpiffWorkflow or a diagnostic variant), one repetition at a time."""

    def __init__(self, name: str, lifecycle: Callable[[int], Any], instances: int) -> None:
        self.lifecycle = lifecycle
        self.result = Throughput(name, instances)

    def prepare(self, warmup: int) -> None:
        check = self.lifecycle(0)
        _check_raw(check)
        if check.data["x10"] != EXPECTED_X10:
            raise RuntimeError(f"scripts computed x10={check.data['x10']}, expected {EXPECTED_X10}")
        for i in range(warmup):
            self.lifecycle(i)

    def repetition(self) -> None:
        instances = self.result.instances
        t0 = time.perf_counter()
        for i in range(instances):
            last = self.lifecycle(i)
        elapsed = time.perf_counter() - t0
        _check_raw(last)
        self.result.rates.append(instances / elapsed)


# -- Flowdesk -----------------------------------------------------------------------------------------


def flowdesk_lifecycle(engine: Engine, n: int, clock: list[float] | None = None) -> str:
    """start -> look the task up through the engine -> complete; returns the instance id.

    ``clock``, when given, gets the seconds spent in start, lookup and complete added to it.
    """
    t0 = time.perf_counter()
    info = engine.runtime.start(key=PROCESS_KEY, variables={START_VALUES: n})
    t1 = time.perf_counter()
    tasks = engine.tasks.list(TaskQuery(instance_id=info.id))
    t2 = time.perf_counter()
    if len(tasks) != 1:
        raise RuntimeError(f"expected one open task for instance {info.id}, found {len(tasks)}")
    engine.tasks.complete(tasks[0].id, COMPLETE_VALUES)
    t3 = time.perf_counter()
    if clock is not None:
        clock[0] += t1 - t0
        clock[1] += t2 - t1
        clock[2] += t3 - t2
    return info.id


class FlowdeskBench:
    """Lifecycles through a Flowdesk engine (deployed already), one repetition at a time."""

    def __init__(self, name: str, engine: Engine, instances: int) -> None:
        self.engine = engine
        self.result = Throughput(name, instances, phase_ms={"start": [], "lookup": [], "complete": []})

    def prepare(self, warmup: int) -> None:
        first = flowdesk_lifecycle(self.engine, 0)
        if self.engine.runtime.variables(first).get("x10") != EXPECTED_X10:
            raise RuntimeError("Flowdesk computed a wrong x10 for n = 0")
        for i in range(warmup):
            flowdesk_lifecycle(self.engine, i)

    def repetition(self) -> None:
        instances = self.result.instances
        clock = [0.0, 0.0, 0.0]
        t0 = time.perf_counter()
        for i in range(instances):
            last = flowdesk_lifecycle(self.engine, i, clock)
        elapsed = time.perf_counter() - t0
        if not self.engine.runtime.get(last).ended:
            raise RuntimeError(f"instance {last} did not run to its end")
        self.result.rates.append(instances / elapsed)
        self.result.rates_without_lookup.append(instances / (elapsed - clock[1]))
        for phase, seconds in zip(("start", "lookup", "complete"), clock, strict=True):
            self.result.phase_ms[phase].append(seconds / instances * 1000)
        still_open = self.engine.runtime.count(process_key=PROCESS_KEY)
        if still_open:
            raise RuntimeError(f"{still_open} benchmark instances are still active after a repetition")


# -- SQL statements of one lifecycle ------------------------------------------------------------------

_VERB = re.compile(r"^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM|BEGIN(?: IMMEDIATE)?)\b\s*(\S*)", re.I)
_FROM = re.compile(r"\bFROM\s+(\w+)", re.I)


def _summary(statement: str) -> str:
    match = _VERB.match(statement)
    if not match:
        return " ".join(statement.split())[:40]
    verb = match.group(1).upper()
    if verb == "SELECT":
        table = _FROM.search(statement)
        return f"SELECT {table.group(1) if table else ''}".strip()
    if verb.startswith("BEGIN"):
        return verb
    table = match.group(2).strip('"')
    return f"{verb} {table}"


def statements_of_one_lifecycle(engine: Engine) -> dict[str, Any]:
    """Every statement one lifecycle sends, by phase (COMMITs are not cursor statements: +1 per write)."""
    phase = ["start"]
    seen: dict[str, list[str]] = {"start": [], "lookup": [], "complete": []}

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        seen[phase[0]].append(_summary(statement) + (" (executemany)" if many else ""))

    event.listen(engine.database.engine, "before_cursor_execute", record)
    try:
        info = engine.runtime.start(key=PROCESS_KEY, variables={START_VALUES: 1})
        phase[0] = "lookup"
        task = engine.tasks.list(TaskQuery(instance_id=info.id))[0]
        phase[0] = "complete"
        engine.tasks.complete(task.id, COMPLETE_VALUES)
    finally:
        event.remove(engine.database.engine, "before_cursor_execute", record)
    return {
        "total": sum(len(v) for v in seen.values()),
        "by_phase": {k: len(v) for k, v in seen.items()},
        "statements": {k: dict(Counter(v)) for k, v in seen.items()},
    }


# -- profile ------------------------------------------------------------------------------------------

# Inclusive (cumulative) time of the engine's main steps; they nest, so they do not add up.
PROFILE_BUCKETS: list[tuple[str, str, str]] = [
    ("RuntimeService.start (whole start transaction)", "engine/instances.py", "start"),
    ("TaskService.list (task lookup)", "engine/tasks.py", "list"),
    ("TaskService.complete (whole complete transaction)", "engine/tasks.py", "attempt"),
    ("Runner.start: SpiffWorkflow run to the user task", "engine/spiff/runner.py", "start"),
    ("Runner.complete_user_task: run to the end", "engine/spiff/runner.py", "complete_user_task"),
    ("  of which SpiffWorkflow do_engine_steps", "SpiffWorkflow/bpmn/workflow.py", "do_engine_steps"),
    ("  of which sandboxed scripts (SandboxEnvironment.execute)", "engine/spiff/scripting.py", "execute"),
    ("Runner.dump: serialize the workflow", "engine/spiff/runner.py", "dump"),
    ("workflow_from_json: deserialize the workflow", "engine/spiff/serialization.py", "workflow_from_json"),
    ("Runner.variables (called 3x per lifecycle)", "engine/spiff/runner.py", "variables"),
    ("Runner.ready_user_tasks (tree walks)", "engine/spiff/runner.py", "ready_user_tasks"),
    ("SpiffWorkflow Workflow.get_tasks (all tree walks)", "SpiffWorkflow/workflow.py", "get_tasks"),
    ("StepWriter.save (serialize + all writes)", "engine/steps.py", "save"),
    ("  StepWriter._sync_tasks", "engine/steps.py", "_sync_tasks"),
    ("  StepWriter._activities", "engine/steps.py", "_activities"),
    ("  StepWriter._variables", "engine/steps.py", "_variables"),
    ("  StepWriter.operation", "engine/steps.py", "operation"),
    ("SQLAlchemy Session.execute (all ORM statements)", "sqlalchemy/orm/session.py", "execute"),
    ("SQLAlchemy ORM bulk INSERT path (_bulk_insert)", "sqlalchemy/orm/bulk_persistence.py", "_bulk_insert"),
    ("SQLAlchemy Session.flush", "sqlalchemy/orm/session.py", "flush"),
    ("SQLAlchemy Session.get", "sqlalchemy/orm/session.py", "get"),
    ("driver: sqlite3 Cursor.execute / executemany (own time)", "", "of 'sqlite3.Cursor'"),
    ("driver: sqlite3 Connection.commit (own time)", "", "'commit' of 'sqlite3.Connection'"),
]


_PREFIX = re.compile(r"^.*?/lib/python3\.\d+/(?:site-packages/)?")
_ROOT = str(BPMN_PATH.parent.parent.parent) + "/"


def _short(path: str) -> str:
    return _PREFIX.sub("", path).removeprefix(_ROOT)


def _label(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if filename == "~":
        return func
    return f"{_short(filename)}:{line}({func})"


def profile_lifecycles(engine: Engine, lifecycles: int) -> dict[str, Any]:
    for i in range(20):
        flowdesk_lifecycle(engine, i)
    profiler = cProfile.Profile()
    wall0 = time.perf_counter()
    profiler.enable()
    for i in range(lifecycles):
        flowdesk_lifecycle(engine, i)
    profiler.disable()
    wall = time.perf_counter() - wall0
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    entries = []
    for key, (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        label = _label(key)
        if "bench/" in label or "_lsprof" in label or "disable" in label:
            continue
        entries.append((label, ncalls, tottime, cumtime, key))
    entries.sort(key=lambda e: e[3], reverse=True)
    top = [
        {
            "function": label,
            "calls_per_lifecycle": round(ncalls / lifecycles, 1),
            "own_ms_per_lifecycle": round(tottime / lifecycles * 1000, 3),
            "cumulative_ms_per_lifecycle": round(cumtime / lifecycles * 1000, 3),
        }
        for label, ncalls, tottime, cumtime, _ in entries[:15]
    ]
    own_top = sorted(entries, key=lambda e: e[2], reverse=True)[:10]
    buckets = []
    for title, file_part, func in PROFILE_BUCKETS:
        ncalls_total = 0
        cum = 0.0
        for _name, ncalls, tottime, cumtime, key in entries:
            filename, _line, name = key
            if file_part:
                match = filename.endswith(file_part) and name == func
            else:
                match = filename == "~" and func in name and ("execute" in name or "commit" in name)
            if match:
                ncalls_total += ncalls
                # recursive entries would double count with cumtime; none of these recurse
                cum += cumtime if file_part else tottime
        buckets.append(
            {
                "step": title,
                "calls_per_lifecycle": round(ncalls_total / lifecycles, 1),
                "ms_per_lifecycle": round(cum / lifecycles * 1000, 3),
            }
        )
    return {
        "lifecycles_profiled": lifecycles,
        "profiled_wall_ms_per_lifecycle": round(wall / lifecycles * 1000, 3),
        "note": "cProfile inflates Python-heavy code; compare the steps with each other, not with the "
        "unprofiled figures",
        "top15_by_cumulative": top,
        "top10_by_own_time": [
            {"function": label, "own_ms_per_lifecycle": round(tottime / lifecycles * 1000, 3)}
            for label, _n, tottime, _c, _k in own_top
        ],
        "steps": buckets,
    }
