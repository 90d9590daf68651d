"""The demo order-approval process end to end through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from engine import Actor, Engine, FormValidationError, TaskNotFound, TaskQuery
from engine.exceptions import Forbidden
from tests.helpers import FINANCE, SALES, WAREHOUSE, bpmn


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    engine.deployments.deploy([bpmn("order_approval.bpmn")], name="test")
    return engine


def test_start_runs_scripts_and_opens_review_task_for_sales(deployed: Engine) -> None:
    instance = deployed.runtime.start(
        key="order_approval", variables={"customer": "ACME", "amount": 1500}, business_key="ORD-1"
    )
    assert instance.business_key == "ORD-1"
    assert instance.state == "ACTIVE"
    assert instance.error_message is None
    variables = deployed.runtime.variables(instance.id)
    assert variables["large"] is True
    assert variables["approvalLevel"] == "finance"
    [task] = deployed.tasks.list(TaskQuery(candidate_group="sales"))
    assert task.activity_id == "Task_review"
    assert task.name == "Review order"
    assert task.priority == 60
    assert task.candidate_groups == ("sales",)
    assert [f.id for f in task.form_fields] == ["approved", "comment"]
    assert deployed.tasks.list(TaskQuery(candidate_group="finance")) == []


def test_invalid_form_values_are_refused_and_nothing_changes(deployed: Engine) -> None:
    instance = deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 10})
    [task] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    with pytest.raises(FormValidationError) as err:
        deployed.tasks.complete(task.id, {"approved": "maybe", "comment": "x" * 501}, actor=SALES)
    assert set(err.value.field_errors) == {"approved", "comment"}
    # The task is still open and the instance did not move.
    assert deployed.tasks.get(task.id).id == task.id
    assert deployed.runtime.open_activities(instance.id) == ["Task_review"]
    assert "approved" not in deployed.runtime.variables(instance.id)


def test_full_run_to_completion_with_history(deployed: Engine) -> None:
    instance = deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 1500})
    [review] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    deployed.tasks.complete(review.id, {"approved": True, "comment": "fine"}, actor=SALES)
    [invoice] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    assert invoice.activity_id == "Task_invoice"
    assert invoice.candidate_groups == ("finance",)
    with pytest.raises(Forbidden):
        deployed.tasks.complete(invoice.id, {"invoiceDate": "2026-12-01"}, actor=SALES)
    deployed.tasks.complete(invoice.id, {"invoiceDate": "01/12/2026"}, actor=FINANCE)
    done = deployed.runtime.get(instance.id)
    assert done.state == "COMPLETED"
    assert done.ended_at is not None
    final = deployed.runtime.variables(instance.id)
    assert final["invoiceDate"] == date(2026, 12, 1)
    assert final["paymentTerms"] == "net30"  # the enum field's default
    activities = [a.activity_id for a in deployed.history.activities(instance_id=instance.id)]
    assert activities == [
        "StartEvent_order",
        "Task_classify",
        "Task_review",
        "Gateway_decision",
        "Task_invoice",
        "EndEvent_done",
    ]
    assert all(a.ended_at is not None for a in deployed.history.activities(instance_id=instance.id))
    tasks = deployed.history.tasks(instance_id=instance.id)
    assert [(t.activity_id, t.completed_by, t.delete_reason) for t in tasks] == [
        ("Task_review", "sally", "completed"),
        ("Task_invoice", "fred", "completed"),
    ]
    names = [v.name for v in deployed.history.variables(instance.id)]
    assert {"customer", "amount", "large", "approved", "invoiceDate"} <= set(names)
    operations = [(o.operation, o.user_name) for o in deployed.history.operations(instance_id=instance.id)]
    assert operations == [("Start", None), ("Complete", "sally"), ("Complete", "fred")]


def test_rejected_order_ends_on_default_flow(deployed: Engine) -> None:
    instance = deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    [review] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    deployed.tasks.complete(review.id, {"approved": False}, actor=SALES)
    assert deployed.runtime.get(instance.id).state == "COMPLETED"
    assert [a.activity_id for a in deployed.history.activities(instance_id=instance.id)][
        -1
    ] == "EndEvent_rejected"


def test_state_survives_a_restart_mid_run(deployed: Engine, db_url: str) -> None:
    instance = deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 1500})
    [review] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    deployed.close()
    restarted = Engine.from_url(db_url)
    try:
        restarted.tasks.complete(review.id, {"approved": True}, actor=SALES)
        [invoice] = restarted.tasks.list(TaskQuery(instance_id=instance.id))
        assert invoice.activity_id == "Task_invoice"
        assert restarted.runtime.variables(instance.id)["customer"] == "ACME"
    finally:
        restarted.close()


def test_completing_a_completed_task_says_it_is_gone(deployed: Engine) -> None:
    instance = deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    [review] = deployed.tasks.list(TaskQuery(instance_id=instance.id))
    deployed.tasks.complete(review.id, {"approved": False}, actor=SALES)
    with pytest.raises(TaskNotFound):
        deployed.tasks.complete(review.id, {"approved": True}, actor=SALES)


def test_task_visibility_follows_groups(deployed: Engine) -> None:
    deployed.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    assert len(deployed.tasks.list(actor=SALES)) == 1
    assert deployed.tasks.list(actor=WAREHOUSE) == []
    [task] = deployed.tasks.list(actor=SALES)
    with pytest.raises(Forbidden):
        deployed.tasks.get(task.id, actor=WAREHOUSE)
    assert deployed.tasks.count(TaskQuery(), actor=Actor("root", frozenset({"admins"}))) == 1
