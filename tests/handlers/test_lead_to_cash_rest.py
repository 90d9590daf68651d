"""The lead-to-cash process through the Camunda REST API and /api, as people in each group use it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Engine
from tests.handlers.factories import hot_lead, invoice_number, order_lines
from tests.helpers import PROCESSES
from tests.rest.conftest import USERS, auth
from webui import create_app


@pytest.fixture
def client(l2c: Engine) -> FlaskClient:
    for name, groups in USERS.items():
        l2c.identity.add_user(name, f"{name}-pw", groups)
    return create_app(l2c, {"TESTING": True}).test_client()


def json_var(value: Any) -> dict[str, Any]:
    import json

    return {"value": json.dumps(value), "type": "Json"}


def task_of(client: FlaskClient, instance: str, user: str) -> dict[str, Any]:
    [task] = client.get(f"/engine-rest/task?processInstanceId={instance}", headers=auth("admin")).get_json()
    return dict(task)


def complete_as(client: FlaskClient, task_id: str, user: str, variables: dict[str, Any]) -> int:
    response = client.post(
        f"/engine-rest/task/{task_id}/complete", headers=auth(user), json={"variables": variables}
    )
    return response.status_code


def test_lead_to_cash_over_rest_with_each_task_done_by_its_group(client: FlaskClient, l2c: Engine) -> None:
    redeployed = client.post(
        "/engine-rest/deployment/create",
        data={
            "file": (io.BytesIO((PROCESSES / "lead_to_cash.bpmn").read_bytes()), "lead_to_cash.bpmn"),
            "enable-duplicate-filtering": "true",
        },
        headers=auth("designer"),
        content_type="multipart/form-data",
    )
    assert redeployed.status_code == 200, redeployed.get_json()
    started = client.post(
        "/engine-rest/process-definition/key/lead_to_cash/start",
        headers=auth("sales"),
        json={
            "businessKey": "ORD-100",
            "variables": {
                "lead": json_var(hot_lead()),
                "orderLines": json_var(order_lines(quantity=120)),  # 100 in stock, and above the credit limit
                "currency": {"value": "EUR", "type": "String"},
            },
        },
    )
    assert started.status_code == 200, started.get_json()
    instance = started.get_json()["id"]

    steps = [
        ("sales_review", "finance", "sales", {"accepted": {"value": True, "type": "Boolean"}}),
        ("credit_approval", "sales", "finance", {"approved": {"value": True, "type": "Boolean"}}),
        ("backorder_decision", "finance", "warehouse", {"decision": {"value": "partial", "type": "String"}}),
    ]
    for activity, wrong_group, right_group, values in steps:
        task = task_of(client, instance, right_group)
        assert task["taskDefinitionKey"] == activity
        assert complete_as(client, task["id"], wrong_group, values) == 403
        assert complete_as(client, task["id"], right_group, values) == 204

    variables = client.get(
        f"/engine-rest/process-instance/{instance}/variables", headers=auth("admin")
    ).get_json()
    assert state_of(client, instance) == "ACTIVE"  # posted: waiting for the money
    # The bank's payment, correlated by the order's business key as Camunda 7 clients send it.
    paid = message(client, "payment_received", "ORD-100", {"amount": {"value": "11903.27", "type": "String"}})
    assert paid.status_code == 204, paid.get_json()
    assert state_of(client, instance) == "COMPLETED"
    assert variables["invoiceNumber"]["value"] == invoice_number(1)
    assert variables["invoiceTotal"]["value"] == "11903.27"  # a java.math.BigDecimal, as text
    assert variables["reservationStatus"]["value"] == "partial"
    assert (variables["leadGrade"]["value"], variables["qualified"]["value"]) == ("A", True)

    invoices = client.get("/api/erp/invoices?orderId=ORD-100", headers=auth("finance")).get_json()
    [invoice] = invoices
    assert (invoice["number"], invoice["status"], invoice["total"]) == (
        invoice_number(1),
        "posted",
        "11903.27",
    )
    assert (invoice["paymentState"], invoice["amountPaid"], invoice["dunningLevel"]) == (
        "paid",
        "11903.27",
        0,
    )
    detail = client.get(f"/api/erp/invoices/{invoice['id']}", headers=auth("sales")).get_json()
    assert [line["quantity"] for line in detail["lines"]] == ["100", "2.5"]  # what was reserved
    assert detail["taxes"] == [{"rate": "0.19", "amount": "1900.52"}]
    html = client.get(f"/api/erp/invoices/{invoice['id']}/html", headers=auth("finance"))
    assert html.mimetype == "text/html" and invoice_number(1) in html.get_data(as_text=True)
    assert client.get(f"/api/erp/invoices/{invoice['id']}", headers=auth("warehouse")).status_code == 403

    stock = client.get("/api/erp/stock/WIDGET", headers=auth("warehouse")).get_json()
    assert (stock["onHand"], stock["reserved"], stock["available"]) == ("100", "100", "0")
    cable = client.get("/api/erp/stock/CABLE?warehouse=MAIN", headers=auth("warehouse")).get_json()
    assert (cable["uom"], cable["onHand"], cable["reserved"]) == ("m", "1000.000", "2.500")
    check_read_api_guards(client, l2c)


def state_of(client: FlaskClient, instance: str) -> str:
    history = client.get(
        f"/engine-rest/history/process-instance?processInstanceId={instance}", headers=auth("admin")
    )
    return str(history.get_json()[0]["state"])


def message(
    client: FlaskClient, name: str, business_key: str, variables: dict[str, Any] | None = None
) -> Any:
    body: dict[str, Any] = {"messageName": name, "businessKey": business_key}
    if variables:
        body["processVariables"] = variables
    return client.post("/engine-rest/message", headers=auth("sales"), json=body)


def start_order(client: FlaskClient, order: str) -> str:
    started = client.post(
        "/engine-rest/process-definition/key/lead_to_cash/start",
        headers=auth("sales"),
        json={
            "businessKey": order,
            "variables": {
                "lead": json_var(hot_lead()),
                "orderLines": json_var(order_lines()),
                "currency": {"value": "EUR", "type": "String"},
            },
        },
    )
    assert started.status_code == 200, started.get_json()
    instance = str(started.get_json()["id"])
    task = task_of(client, instance, "sales")
    assert complete_as(client, task["id"], "sales", {"accepted": {"value": True, "type": "Boolean"}}) == 204
    return instance


def test_cancel_order_over_rest_credits_the_posted_invoice_and_names_an_unknown_order(
    client: FlaskClient,
) -> None:
    instance = start_order(client, "ORD-200")

    unknown = message(client, "cancel_order", "ORD-404")
    assert unknown.status_code == 400
    assert "cancel_order" in unknown.get_json()["message"] and "'ORD-404'" in unknown.get_json()["message"]
    assert state_of(client, instance) == "ACTIVE"  # nothing changed

    cancelled = message(
        client, "cancel_order", "ORD-200", {"cancelReason": {"value": "customer", "type": "String"}}
    )
    assert cancelled.status_code == 204, cancelled.get_json()
    assert state_of(client, instance) == "COMPLETED"
    note, invoice = sorted(
        client.get("/api/erp/invoices?orderId=ORD-200", headers=auth("finance")).get_json(),
        key=lambda i: str(i["kind"]),
    )
    assert (invoice["kind"], invoice["status"], invoice["number"]) == ("invoice", "posted", invoice_number(1))
    assert (note["kind"], note["number"], note["creditOfId"], note["total"]) == (
        "credit_note",
        invoice_number(1, "RINV"),
        invoice["id"],
        invoice["total"],
    )
    stock = client.get("/api/erp/stock/WIDGET", headers=auth("warehouse")).get_json()
    assert (stock["reserved"], stock["available"]) == ("0", "100")
    late = message(client, "payment_received", "ORD-200", {"amount": {"value": "1", "type": "String"}})
    assert late.status_code == 400  # a cancelled order waits for no payment


def check_read_api_guards(client: FlaskClient, l2c: Engine) -> None:
    """No credentials: 401; a missing record: 404; a group that does not work with it: 403."""
    assert client.get("/api/erp/stock/WIDGET").status_code == 401
    missing = client.get("/api/erp/stock/NOPE", headers=auth("sales"))
    assert missing.status_code == 404 and "no product has SKU 'NOPE'" in missing.get_json()["message"]
    assert client.get("/api/crm/leads/nope", headers=auth("sales")).status_code == 404
    assert client.get("/api/erp/invoices", headers=auth("finance")).status_code == 400

    started = l2c.runtime.start(
        key="lead_to_cash",
        variables={"lead": hot_lead(email="eve.new@acme.example"), "orderLines": order_lines()},
    )
    lead_id = l2c.runtime.variables(started.id)["leadId"]
    lead = client.get(f"/api/crm/leads/{lead_id}", headers=auth("sales")).get_json()
    assert (lead["status"], lead["grade"], lead["email"]) == ("mql", "A", "eve.new@acme.example")
    assert {"rule": "enterprise_size", "kind": "fit", "points": 30} in [
        {k: r[k] for k in ("rule", "kind", "points")} for r in lead["reasons"]
    ]
    assert client.get(f"/api/crm/leads/{lead_id}", headers=auth("warehouse")).status_code == 403
