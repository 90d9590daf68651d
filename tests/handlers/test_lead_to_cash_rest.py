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
    history = client.get(
        f"/engine-rest/history/process-instance?processInstanceId={instance}", headers=auth("admin")
    )
    assert history.get_json()[0]["state"] == "COMPLETED"
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
