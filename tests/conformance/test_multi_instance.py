"""Multi-instance script, service and external tasks in the Camunda 7 dialect, each file run end to end."""

from __future__ import annotations

from typing import Any

import pytest

from engine import Engine, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from engine.job_types import JobNotFound
from tests.conformance.test_elements import complete, deploy, open_tasks, state
from tests.helpers import FINANCE, stored_state

LINES = [
    {"sku": "A", "qty": 1, "price": 10},
    {"sku": "B", "qty": 2, "price": 5},
    {"sku": "C", "qty": 3, "price": 1},
]


def ran(engine: Engine, instance_id: str, activity_id: str) -> list[Any]:
    """History rows of ``activity_id``: the multi-instance body first, then one per instance."""
    return [a for a in engine.history.activities(instance_id=instance_id) if a.activity_id == activity_id]


def test_multi_instance_script_task_parallel_runs_once_per_item(engine: Engine) -> None:
    deploy(engine, "multi_instance_script_parallel")
    instance = engine.runtime.start(key="multi_instance_script_parallel", variables={"lines": LINES})
    assert open_tasks(engine, instance.id) == ["Review"]
    variables = engine.runtime.variables(instance.id)
    # What the runs set reaches the process, the later write winning; their own variables do not.
    assert variables["last_priced"] == "C:3" and variables["priced_at"] == 2
    assert "line" not in variables and "loopCounter" not in variables
    assert variables["lines"] == LINES  # Camunda leaves the collection alone
    rows = ran(engine, instance.id, "PriceLine")
    assert len(rows) == 4 and all(r.ended_at is not None and not r.canceled for r in rows)
    # The finished instances are not kept in the stored state once the activity completed.
    assert "PriceLine [child]" not in stored_state(engine, instance.id)


def test_multi_instance_script_task_sequential_sees_each_earlier_run(engine: Engine) -> None:
    deploy(engine, "multi_instance_script_sequential")
    instance = engine.runtime.start(
        key="multi_instance_script_sequential", variables={"amounts": [5, 7, 11], "total": 0, "order": []}
    )
    variables = engine.runtime.variables(instance.id)
    assert variables["total"] == 23 and variables["order"] == [0, 1, 2]
    assert "amount" not in variables
    complete(engine, instance.id, "Review")
    assert state(engine, instance.id) == "COMPLETED"


def test_multi_instance_completion_condition_ends_it_early(engine: Engine) -> None:
    deploy(engine, "multi_instance_completion_condition")
    instance = engine.runtime.start(
        key="multi_instance_completion_condition",
        variables={"suppliers": ["s1", "s2", "s3", "s4"], "maxAttempts": 10},
    )
    assert open_tasks(engine, instance.id) == ["Review"]
    variables = engine.runtime.variables(instance.id)
    # ${nrOfCompletedInstances >= 2}: the third and fourth parallel runs are cancelled, never run.
    assert variables["chosen"] == "s2"
    quotes = ran(engine, instance.id, "Quote")[1:]
    assert [r.canceled for r in quotes] == [False, False, True, True]
    assert all(r.ended_at is not None for r in quotes)
    # loopCardinality ${maxAttempts} with ${reached || ...}: the sequential loop stops at the third.
    assert variables["attempts"] == 3 and variables["reached"] is True
    assert len(ran(engine, instance.id, "Attempt")) == 1 + 3


def test_multi_instance_service_task_calls_the_handler_once_per_item(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    seen: list[tuple[str, Any, int]] = []

    def reserve(ctx: HandlerContext) -> dict[str, Any]:
        seen.append(("reserve", ctx.variables["line"]["sku"], ctx.variables["loopCounter"]))
        return {"reserved_" + ctx.variables["line"]["sku"]: ctx.variables["line"]["qty"]}

    def notify(ctx: HandlerContext) -> dict[str, Any]:
        seen.append(("notify", ctx.variables["contact"], ctx.variables["loopCounter"]))
        return {"notified": [*ctx.variables.get("notified", []), ctx.variables["contact"]]}

    handlers.register("erp.reserve_line", reserve)
    handlers.register("crm.notify", notify)
    deploy(engine, "multi_instance_service_task")
    instance = engine.runtime.start(
        key="multi_instance_service_task", variables={"lines": LINES, "contacts": ["ann", "bob"]}
    )
    assert open_tasks(engine, instance.id) == ["Review"]
    assert seen == [
        ("reserve", "A", 0),
        ("reserve", "B", 1),
        ("reserve", "C", 2),
        ("notify", "ann", 0),
        ("notify", "bob", 1),
    ]
    variables = engine.runtime.variables(instance.id)
    assert (variables["reserved_A"], variables["reserved_B"], variables["reserved_C"]) == (1, 2, 3)
    assert variables["notified"] == ["ann", "bob"]  # sequential: each call saw the one before
    assert "line" not in variables and "contact" not in variables


def test_multi_instance_external_task_is_one_external_task_per_item(engine: Engine) -> None:
    deploy(engine, "multi_instance_external_task")
    parcels = [{"id": "P1"}, {"id": "P2"}, {"id": "P3"}]
    instance = engine.runtime.start(key="multi_instance_external_task", variables={"parcels": parcels})
    fetched = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["shipping"], limit=10)
    assert len(fetched) == 3
    seen = engine.jobs.variables(fetched)
    assert sorted(seen[job.id]["parcel"]["id"] for job in fetched) == ["P1", "P2", "P3"]
    for job in fetched:
        parcel = seen[job.id]["parcel"]["id"]
        assert open_tasks(engine, instance.id) == []
        engine.jobs.complete(job.id, "w1", {f"tracking_{parcel}": f"T-{parcel}"})
    assert open_tasks(engine, instance.id) == ["Review"]
    variables = engine.runtime.variables(instance.id)
    assert [variables[f"tracking_P{i}"] for i in (1, 2, 3)] == ["T-P1", "T-P2", "T-P3"]
    assert engine.tasks.list(TaskQuery(instance_id=instance.id))[0].activity_id == "Review"


def test_multi_instance_embedded_subprocess_runs_once_per_item(engine: Engine) -> None:
    deploy(engine, "multi_instance_subprocess")
    instance = engine.runtime.start(key="multi_instance_subprocess", variables={"lines": [1, 2, 3]})
    assert open_tasks(engine, instance.id) == ["Review"]
    variables = engine.runtime.variables(instance.id)
    assert variables["total"] == 6 and variables["last_line"] == 2
    assert "line" not in variables and "loopCounter" not in variables
    assert len(ran(engine, instance.id, "Price")) == 3


def test_multi_instance_completion_condition_removes_the_external_tasks_it_cancels(engine: Engine) -> None:
    deploy(engine, "multi_instance_external_completion")
    instance = engine.runtime.start(
        key="multi_instance_external_completion",
        variables={"carriers": ["dhl", "ups", "gls"], "parcels": ["P1", "P2"]},
    )
    quotes = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["quotes"], limit=10)
    assert len(quotes) == 3
    engine.jobs.complete(quotes[0].id, "w1", {"price": 7})
    # ${nrOfCompletedInstances >= 1}: the other two quotes were cancelled, and so are their tasks.
    assert [j.activity_id for j in engine.jobs.list(instance_id=instance.id)] == ["Label", "Label"]
    with pytest.raises(JobNotFound):
        engine.jobs.complete(quotes[1].id, "w1", {"price": 5})
    assert sorted(r.canceled for r in ran(engine, instance.id, "Quote")) == [False, False, True, True]
    # Inside a cancelled run of a subprocess, its open external task goes too.
    labels = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["labels"], limit=10)
    engine.jobs.complete(labels[1].id, "w1", {"label": "L2"})
    assert engine.jobs.list(instance_id=instance.id) == []
    assert engine.jobs.acquire("w2", kind=JobKind.EXTERNAL, topics=["labels", "quotes"], limit=10) == []
    label_rows = ran(engine, instance.id, "Label")
    assert sorted(r.canceled for r in label_rows) == [False, True]
    assert all(r.ended_at is not None for r in label_rows)
    assert open_tasks(engine, instance.id) == ["Review"]
    assert engine.runtime.variables(instance.id)["label"] == "L2"


def test_multi_instance_element_variable_is_the_item_s_not_the_process_s(engine: Engine) -> None:
    deploy(engine, "multi_instance_user_task")
    lines = [{"sku": "A"}, {"sku": "B"}]
    instance = engine.runtime.start(
        key="multi_instance_user_task", variables={"lines": lines, "signers": ["ann"], "line": "outer"}
    )
    # Camunda 7: the element variable and loopCounter are local to each item, never process variables;
    # a process variable of the same name keeps its value outside the loop.
    variables = engine.runtime.variables(instance.id)
    assert variables == {"lines": lines, "signers": ["ann"], "line": "outer"}
    tasks = engine.tasks.list(TaskQuery(instance_id=instance.id))
    seen = [engine.tasks.variables(t.id, actor=FINANCE) for t in tasks]
    assert sorted((s["line"]["sku"], s["loopCounter"]) for s in seen) == [("A", 0), ("B", 1)]
    for task in tasks:
        engine.tasks.complete(task.id, {"approved": True}, actor=FINANCE)
    variables = engine.runtime.variables(instance.id)
    assert "signer" not in variables and "loopCounter" not in variables
    assert variables["approved"] is True and variables["line"] == "outer"
    # An item inside a multi-instance subprocess: its element variable is not the process's either.
    deploy(engine, "multi_instance_external_completion")
    other = engine.runtime.start(
        key="multi_instance_external_completion", variables={"carriers": ["dhl"], "parcels": ["P1", "P2"]}
    )
    [quote] = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["quotes"])
    engine.jobs.complete(quote.id, "w1")
    assert set(engine.runtime.variables(other.id)) == {"carriers", "parcels"}
