"""One small BPMN file per element and behaviour (tests/conformance/bpmn/), each run end to end.

docs/bpmn-coverage.md is generated from ``coverage.py``, which names the test proving each row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import JobKind
from engine.identity import Actor
from tests.helpers import ADMIN, FINANCE, SALES, WAREHOUSE

CASES = Path(__file__).resolve().parent / "bpmn"
BY_GROUP = {"sales": SALES, "finance": FINANCE, "warehouse": WAREHOUSE}


def deploy(engine: Engine, name: str) -> None:
    path = CASES / f"{name}.bpmn"
    engine.deployments.deploy([(path.name, path.read_bytes())])


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance_id)))


def complete(
    engine: Engine, instance_id: str, activity_id: str, values: dict[str, Any] | None = None
) -> None:
    """Complete one open task of ``activity_id`` as a member of its candidate group."""
    task = next(
        t for t in engine.tasks.list(TaskQuery(instance_id=instance_id)) if t.activity_id == activity_id
    )
    actor: Actor = BY_GROUP.get(task.candidate_groups[0], ADMIN) if task.candidate_groups else ADMIN
    engine.tasks.complete(task.id, values or {}, actor=actor)


def state(engine: Engine, instance_id: str) -> str:
    return engine.runtime.get(instance_id).state


@pytest.mark.parametrize(
    ("amount", "country", "branches"),
    [(5000, "FR", ["Approve", "Customs"]), (5000, "DE", ["Approve"]), (10, "DE", [])],
)
def test_inclusive_gateway_runs_every_true_branch_and_joins_them(
    engine: Engine, amount: int, country: str, branches: list[str]
) -> None:
    deploy(engine, "inclusive_gateway")
    instance = engine.runtime.start(key="inclusive_gateway", variables={"amount": amount, "country": country})
    assert open_tasks(engine, instance.id) == (branches or ["Ship"])
    for activity in branches:
        assert "Ship" not in open_tasks(engine, instance.id)  # the join waits for every started branch
        complete(engine, instance.id, activity)
    assert open_tasks(engine, instance.id) == ["Ship"]
    assert ("checks" in engine.runtime.variables(instance.id)) is (not branches)  # the default flow
    complete(engine, instance.id, "Ship")
    assert state(engine, instance.id) == "COMPLETED"


def test_terminate_end_event_ends_the_instance_and_its_open_tasks(engine: Engine) -> None:
    deploy(engine, "terminate_end_event")
    instance = engine.runtime.start(key="terminate_end_event")
    assert open_tasks(engine, instance.id) == ["Check", "Wait"]
    complete(engine, instance.id, "Check")
    assert state(engine, instance.id) == "COMPLETED"
    assert open_tasks(engine, instance.id) == []  # `Wait` went with it
    [wait] = [t for t in engine.history.tasks(instance_id=instance.id) if t.activity_id == "Wait"]
    assert wait.ended_at is not None


def test_embedded_subprocess_shares_the_instance_variables(engine: Engine) -> None:
    deploy(engine, "embedded_subprocess")
    instance = engine.runtime.start(key="embedded_subprocess", variables={"quantity": 25})
    assert open_tasks(engine, instance.id) == ["Pick"]
    complete(engine, instance.id, "Pick", {"picker": "wanda"})
    assert open_tasks(engine, instance.id) == ["Ship"]
    variables = engine.runtime.variables(instance.id)
    assert (variables["parcels"], variables["picker"]) == (3, "wanda")
    complete(engine, instance.id, "Ship")
    assert state(engine, instance.id) == "COMPLETED"
    kinds = {a.activity_id: a.activity_type for a in engine.history.activities(instance_id=instance.id)}
    assert (kinds["Picking"], kinds["Pick"]) == ("subProcess", "userTask")


@pytest.mark.parametrize(("amount", "next_task"), [(9000, "CreditApproval"), (100, "Fulfil")])
def test_error_end_event_in_a_subprocess_is_caught_by_its_boundary(
    engine: Engine, amount: int, next_task: str
) -> None:
    deploy(engine, "error_end_event")
    instance = engine.runtime.start(key="error_end_event", variables={"amount": amount, "limit": 5000})
    assert open_tasks(engine, instance.id) == [next_task]
    if next_task == "CreditApproval":
        complete(engine, instance.id, "CreditApproval")
    complete(engine, instance.id, "Fulfil")
    assert state(engine, instance.id) == "COMPLETED"


@pytest.mark.parametrize(("revenue", "next_task"), [(250_000, "AccountManager"), (10, "Queue")])
def test_escalation_end_event_is_caught_by_its_boundary(engine: Engine, revenue: int, next_task: str) -> None:
    deploy(engine, "escalation_end_event")
    instance = engine.runtime.start(key="escalation_end_event", variables={"revenue": revenue})
    assert open_tasks(engine, instance.id) == [next_task]
    complete(engine, instance.id, next_task)
    assert state(engine, instance.id) == "COMPLETED"


def test_multi_instance_user_tasks_parallel_then_sequential(engine: Engine) -> None:
    deploy(engine, "multi_instance_user_task")
    lines = [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, {"sku": "C", "qty": 3}]
    instance = engine.runtime.start(
        key="multi_instance_user_task", variables={"lines": lines, "signers": ["ann", "bob"]}
    )
    parallel = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert [t.activity_id for t in parallel] == ["ApproveLine"] * 3  # all open at once
    for task in parallel:
        engine.tasks.complete(task.id, {}, actor=FINANCE)
    for _ in ("ann", "bob"):
        [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))  # one at a time
        assert task.activity_id == "SignOff"
        engine.tasks.complete(task.id, {}, actor=SALES)
    assert state(engine, instance.id) == "COMPLETED"
    history = engine.history.tasks(instance_id=instance.id)
    assert sorted(t.activity_id for t in history) == ["ApproveLine"] * 3 + ["SignOff"] * 2


def test_manual_and_plain_tasks_pass_the_token_on(engine: Engine) -> None:
    deploy(engine, "manual_and_plain_tasks")
    instance = engine.runtime.start(key="manual_and_plain_tasks")
    assert open_tasks(engine, instance.id) == ["After"]
    passed = {a.activity_id for a in engine.history.activities(instance_id=instance.id, finished=True)}
    assert {"PackByHand", "Note"} <= passed


def run_jobs(engine: Engine) -> None:
    """What a worker does: run due jobs (here: a child told its parent it ended) until none is left."""
    for _ in range(20):
        jobs = engine.jobs.acquire("conformance", kind=JobKind.HANDLER)
        if not jobs:
            return
        engine.jobs.run(jobs[0].id, "conformance")


@pytest.mark.parametrize(("approved", "after"), [(True, "Ship"), (False, "Rework")])
def test_call_activity_runs_its_child_and_takes_its_result_or_its_error(
    engine: Engine, approved: bool, after: str
) -> None:
    deploy(engine, "call_activity")
    parent = engine.runtime.start(key="call_activity", variables={"amount": 100}, business_key="ORD-7")
    [child] = engine.runtime.list(super_instance_id=parent.id)
    assert (child.process_key, child.business_key, child.super_instance_id) == (
        "invoicing",
        "ORD-7",
        parent.id,
    )
    assert engine.runtime.variables(child.id) == {"net": 100, "tax": 20.0}  # only what is mapped in
    assert open_tasks(engine, parent.id) == [] and open_tasks(engine, child.id) == ["Post"]
    complete(engine, child.id, "Post", {"approved": approved})
    assert state(engine, child.id) == "COMPLETED"
    run_jobs(engine)
    assert open_tasks(engine, parent.id) == [after]
    parent_vars = engine.runtime.variables(parent.id)
    assert parent_vars.get("invoiceNumber") == ("INV-120" if approved else None)
    assert "net" not in parent_vars  # only what is mapped out


def test_compensation_is_refused_at_deploy_on_each_compensation_event(engine: Engine) -> None:
    with pytest.raises(DeploymentError) as err:
        deploy(engine, "compensation")
    found = {(p.element_id, p.line) for p in err.value.problems if "compensation events" in p.message}
    assert found == {("Compensate", 9), ("Undo", 12)}
    assert all("NotImplementedError" not in p.message for p in err.value.problems)
