"""Experiment: how fast could a persisted lifecycle be on the engine's own SQLite schema?

Not part of ``make bench``. Run: ``python -m bench.persistence_floor [--instances 300]``.

It replays the benchmark lifecycle with the minimum a persisted engine must do, written by hand with
SQLAlchemy Core (no ORM, no lookup query, no extra reads): run with the Flowdesk sandbox, save the
workflow with Flowdesk's serialization, then in a second transaction load it by id, complete the user
task and save again. Three levels of bookkeeping, each in the same two transactions:

* ``state``: only the process_instances row (insert, then select + optimistic update);
* ``tasks``: plus the open human_tasks / task_candidates rows (insert, then delete);
* ``history``: plus history_tasks, history_activities (one row per activity), history_variables and
  history_operations, as ``StepWriter`` writes them.

The ratio to raw SpiffWorkflow in memory is the ceiling Flowdesk can reach with that bookkeeping
on this machine, whatever the code around it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, delete, insert, select, update

from bench import lifecycle
from bench.common import BENCH_DIR, PROCESS_KEY, bpmn_file
from engine import Database, Engine
from engine.db.models import (
    HistoryActivity,
    HistoryOperation,
    HistoryTask,
    HistoryVariable,
    HumanTask,
    ProcessInstance,
    TaskCandidate,
)
from engine.dialect import Dialect
from engine.sandbox import Sandbox
from engine.spiff.families import family
from engine.spiff.scripting import SandboxScriptEngine
from engine.spiff.serialization import workflow_from_json, workflow_to_json

LEVELS = ("state", "tasks", "history")
RESULTS = BENCH_DIR / "results"


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


PI, HT, TC = _table(ProcessInstance), _table(HumanTask), _table(TaskCandidate)
HA, HTK = _table(HistoryActivity), _table(HistoryTask)
HV, HO = _table(HistoryVariable), _table(HistoryOperation)


class Floor:
    def __init__(self, engine: Engine, level: str) -> None:
        self.db = engine.database.engine
        self.level = level
        self.definition_id = engine.definitions.latest(PROCESS_KEY).id
        self.spec, self.subprocess_specs = lifecycle.parse_raw()
        self.family = family(Dialect.CAMUNDA7)
        self.scripts = SandboxScriptEngine(Sandbox())

    def _activity(self, instance_id: str, task: Any, now: datetime, ended: bool) -> dict[str, Any]:
        spec = task.task_spec
        return {
            "id": str(task.id), "instance_id": instance_id, "definition_id": self.definition_id,
            "activity_id": spec.bpmn_id, "activity_name": spec.bpmn_name,
            "activity_type": type(spec).__name__, "started_at": now, "ended_at": now if ended else None,
            "canceled": False, "assignee": None,
        }

    def lifecycle(self, n: int) -> None:
        now = datetime.now(UTC)
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.scripts)
        workflow.task_tree.data.update({"n": n})
        workflow.do_engine_steps()
        user_task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        instance_id, task_id = str(uuid.uuid4()), str(user_task.id)
        state = workflow_to_json(self.family, workflow)
        common = {"definition_id": self.definition_id, "process_key": PROCESS_KEY}
        with self.db.begin() as conn:
            conn.execute(insert(PI), [{
                "id": instance_id, **common, "business_key": None, "state": "ACTIVE", "revision": 1,
                "workflow": state, "started_at": now,
            }])
            if self.level != "state":
                task = {"id": task_id, "instance_id": instance_id, **common, "activity_id": "UserTask_review",
                        "name": "Review", "created_at": now, "priority": 50}
                conn.execute(insert(HT), [{**task, "form_fields": []}])
                conn.execute(insert(TC), [{"task_id": task_id, "kind": "group", "identity": "sales",
                                           "created_at": now, "assigned": False}])
            if self.level == "history":
                conn.execute(insert(HTK), [task])
                activities = [
                    self._activity(instance_id, t, now, t is not user_task)
                    for t in workflow.get_tasks()
                    if t.task_spec.bpmn_id and (t is user_task or t.has_state(TaskState.FINISHED_MASK))
                ]
                conn.execute(insert(HA), activities)
                conn.execute(insert(HV), [
                    {"instance_id": instance_id, "name": k, "value": json.dumps(v), "changed_at": now}
                    for k, v in user_task.data.items()
                ])
                conn.execute(insert(HO), [{"instance_id": instance_id, "operation": "Start", "at": now}])
        with self.db.begin() as conn:
            row = conn.execute(select(PI.c.workflow, PI.c.revision).where(PI.c.id == instance_id)).one()
            workflow = workflow_from_json(
                self.family, row.workflow, self.spec, self.subprocess_specs, self.scripts
            )
            task_obj = workflow.get_task_from_id(uuid.UUID(task_id))
            task_obj.set_data(approved=True)
            task_obj.run()
            workflow.do_engine_steps()
            done = conn.execute(
                update(PI)
                .where(PI.c.id == instance_id, PI.c.revision == row.revision)
                .values(workflow=workflow_to_json(self.family, workflow), revision=row.revision + 1,
                        state="COMPLETED", ended_at=now)
            )
            if done.rowcount != 1:
                raise RuntimeError("optimistic update failed")
            if self.level != "state":
                conn.execute(delete(HT).where(HT.c.id == task_id))  # candidates go by ON DELETE CASCADE
            if self.level == "history":
                conn.execute(
                    update(HTK).where(HTK.c.id == task_id).values(ended_at=now, delete_reason="completed")
                )
                conn.execute(update(HA).where(HA.c.id == task_id).values(ended_at=now))
                end = next(t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "EndEvent_1")
                conn.execute(insert(HA), [self._activity(instance_id, end, now, True)])
                conn.execute(insert(HV), [{"instance_id": instance_id, "name": "approved", "value": "true",
                                           "changed_at": now}])
                conn.execute(insert(HO), [{"instance_id": instance_id, "operation": "Complete", "at": now}])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.persistence_floor", description=__doc__)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    spec, subprocess_specs = lifecycle.parse_raw()
    benches: dict[str, Any] = {
        "raw": lifecycle.InMemoryBench(
            "raw SpiffWorkflow, in memory",
            lambda i: lifecycle.raw_lifecycle(spec, subprocess_specs, i),
            args.instances,
        )
    }
    engines = []
    with tempfile.TemporaryDirectory(prefix="flowdesk_floor_") as tmp:
        for level in LEVELS:
            engine = Engine(Database(f"sqlite:///{Path(tmp) / level}.sqlite"))
            engine.deployments.deploy([bpmn_file()])
            engines.append(engine)
            floor = Floor(engine, level)
            benches[level] = _FloorBench(f"Core floor, {level}", floor, args.instances)
        for bench in benches.values():
            bench.prepare(30)
        for _ in range(args.repeats):
            for bench in benches.values():
                bench.repetition()
        for engine in engines:
            engine.close()
    raw = benches["raw"].result.rate
    print(f"{'run':<28} {'inst/s':>8} {'ms/inst':>8} {'x raw':>6}")
    for bench in benches.values():
        r = bench.result
        print(f"{r.name:<28} {r.rate:8.1f} {1000 / r.rate:8.2f} {r.rate / raw:6.3f}")
    figures = {
        "command": "python -m bench.persistence_floor " + " ".join(sys.argv[1:] if argv is None else argv),
        "instances": args.instances,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "runs": {
            name: {
                "instances_per_second": round(b.result.rate, 1),
                "ratio_to_raw": round(b.result.rate / raw, 3),
            }
            for name, b in benches.items()
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "persistence_floor.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


class _FloorBench(lifecycle.InMemoryBench):
    def __init__(self, name: str, floor: Floor, instances: int) -> None:
        super().__init__(name, floor.lifecycle, instances)

    def prepare(self, warmup: int) -> None:
        for i in range(warmup):
            self.lifecycle(i)

    def repetition(self) -> None:
        t0 = time.perf_counter()
        for i in range(self.result.instances):
            self.lifecycle(i)
        self.result.rates.append(self.result.instances / (time.perf_counter() - t0))


if __name__ == "__main__":
    raise SystemExit(main())
