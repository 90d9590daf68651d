"""One small BPMN file per element and behaviour (tests/conformance/bpmn/), each run end to end.

docs/bpmn-coverage.md is generated from ``coverage.py``, which names the test proving each row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from engine.identity import Actor
from engine.worker import Worker
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


def deliver_thrown_events(engine: Engine) -> None:
    """What a worker does after a step that threw signals or messages (they are jobs)."""
    worker = Worker(engine, "conformance")
    for _ in range(20):
        if not worker.run_once():
            return
    raise AssertionError("the worker never ran out of jobs")


def test_signal_throw_events_reach_other_processes_and_start_signal_started_ones(engine: Engine) -> None:
    deploy(engine, "signal_throw")
    watcher = engine.runtime.start(key="stock_watch")
    updater = engine.runtime.start(key="stock_update", variables={"sku": "A-1", "internal": True})
    assert state(engine, updater.id) == "COMPLETED"  # threw both signals and ended
    assert open_tasks(engine, watcher.id) == []  # delivered after the thrower's step, by a worker
    deliver_thrown_events(engine)
    assert open_tasks(engine, watcher.id) == ["Review"]
    assert engine.runtime.variables(watcher.id)["sku"] == "A-1"
    assert "internal" not in engine.runtime.variables(watcher.id)
    [report] = engine.runtime.list(process_key="stock_report")
    assert open_tasks(engine, report.id) == ["Report"]


def test_message_throw_events_bound_to_a_handler_and_an_external_topic(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    sent: list[str] = []

    def send(ctx: HandlerContext) -> dict[str, Any]:
        sent.append(ctx.inputs["to"])
        return {"message_id": f"MAIL-{len(sent)}"}

    handlers.register("mail.send", send)
    deploy(engine, "message_throw_handler")
    instance = engine.runtime.start(key="message_throw_handler", variables={"customer": "acme@example.com"})
    assert sent == ["acme@example.com"]
    assert engine.runtime.variables(instance.id)["mail_id"] == "MAIL-1"
    [archive] = engine.jobs.acquire("archiver", kind=JobKind.EXTERNAL, topics=["archive"])
    assert archive.activity_id == "Archive"
    engine.jobs.complete(archive.id, "archiver")
    assert state(engine, instance.id) == "COMPLETED"


def test_message_throw_event_without_implementation_is_correlated_by_business_key(engine: Engine) -> None:
    deploy(engine, "message_throw_correlating")
    other = engine.runtime.start(key="invoice", business_key="INV-1")
    mine = engine.runtime.start(key="invoice", business_key="INV-2")
    engine.runtime.start(key="payment", business_key="INV-2", variables={"amount": 99})
    deliver_thrown_events(engine)
    assert open_tasks(engine, mine.id) == ["Book"]
    assert engine.runtime.variables(mine.id)["paid"] == 99
    assert engine.runtime.open_activities(other.id) == ["AwaitPayment"]


@pytest.fixture
def stock(handlers: HandlerRegistry) -> list[str]:
    """Stock handlers that log what they did: reserve, release (its compensation), ship, unship."""
    log: list[str] = []

    def step(name: str) -> Any:
        def run(ctx: HandlerContext) -> dict[str, Any]:
            log.append(name)
            # Release runs after Cancel (most recent first) and sees what Cancel did.
            return {f"{name}_saw_cancelled": bool(ctx.variables.get("cancelled"))}

        return run

    for name in ("reserve", "release", "ship", "unship"):
        handlers.register(f"stock.{name}", step(name))
    return log


def test_compensation_throw_runs_the_handlers_of_completed_activities_most_recent_first(
    engine: Engine, stock: list[str]
) -> None:
    deploy(engine, "compensation_throw")
    instance = engine.runtime.start(key="compensation_throw", variables={"failed": True})
    assert open_tasks(engine, instance.id) == ["Review"]
    assert stock == ["reserve", "release"]  # Ship never ran, so Unship does not either
    variables = engine.runtime.variables(instance.id)
    assert (variables["invoiced"], variables["cancelled"]) == (False, True)
    assert variables["release_saw_cancelled"] is True  # Cancel (Invoice's) ran before Release
    operations = engine.history.operations(instance_id=instance.id)
    done = [op.detail for op in operations if op.operation == "Compensate"]
    assert [d["activityId"] for d in done] == ["Invoice", "Reserve"]
    happy = engine.runtime.start(key="compensation_throw", variables={"failed": False})
    assert state(engine, happy.id) == "COMPLETED" and stock[-1] == "ship"  # no compensation


def test_compensation_with_activity_ref_then_a_compensation_end_event_compensate_each_activity_once(
    engine: Engine, stock: list[str]
) -> None:
    deploy(engine, "compensation_activity_ref")
    instance = engine.runtime.start(key="compensation_activity_ref")
    assert open_tasks(engine, instance.id) == ["Check"]
    assert stock == ["reserve"]  # only Invoice was compensated
    assert engine.runtime.variables(instance.id)["invoiced"] is False
    complete(engine, instance.id, "Check", {"invoiced": True})
    assert state(engine, instance.id) == "COMPLETED"
    assert stock == ["reserve", "release"]
    assert engine.runtime.variables(instance.id)["invoiced"] is True  # Cancel did not run twice


def test_process_level_compensation_event_subprocesses_and_manual_task_handlers_are_refused(
    engine: Engine,
) -> None:
    with pytest.raises(DeploymentError) as err:
        deploy(engine, "compensation_unsupported")
    [problem] = err.value.problems
    assert problem.element_id == "CompensationStart" and "inside an embedded subprocess" in problem.message
    xml = (CASES / "compensation_unsupported.bpmn").read_text()
    without_subprocess = xml[: xml.index("<bpmn:subProcess")] + xml[xml.index("</bpmn:subProcess>") + 18 :]
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("c.bpmn", without_subprocess.encode())])
    [problem] = err.value.problems
    assert problem.element_id == "Release" and "not a manualTask" in problem.message
