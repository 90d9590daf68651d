"""POST /message and POST /signal as Camunda 7 clients call them."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from engine import Engine
from tests.engine.test_messages import ALARM, waiting_process
from tests.rest.conftest import auth


def deploy(client: FlaskClient, xml: bytes) -> None:
    response = client.post(
        "/engine-rest/deployment/create",
        data={"file": (io.BytesIO(xml), "m.bpmn")},
        headers=auth("admin"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()


def start(client: FlaskClient, business_key: str) -> str:
    response = client.post(
        "/engine-rest/process-definition/key/p/start",
        json={"businessKey": business_key},
        headers=auth("sales"),
    )
    return str(response.get_json()["id"])


def test_message_correlates_by_business_key_and_reports_the_result(
    client: FlaskClient, engine: Engine
) -> None:
    deploy(client, waiting_process())
    first, second = start(client, "ORD-1"), start(client, "ORD-2")
    response = client.post(
        "/engine-rest/message",
        json={
            "messageName": "payment_received",
            "businessKey": "ORD-2",
            "processVariables": {"paid": {"value": 99, "type": "Long"}},
            "resultEnabled": True,
        },
        headers=auth("sales"),
    )
    assert response.status_code == 200, response.get_json()
    [result] = response.get_json()
    assert result["resultType"] == "Execution" and result["execution"]["processInstanceId"] == second
    variables = client.get(f"/engine-rest/process-instance/{second}/variables", headers=auth("sales"))
    assert variables.get_json()["paid"]["value"] == 99
    assert engine.runtime.open_activities(first) == ["wait"]


def test_no_match_and_ambiguity_are_400s_that_change_nothing(client: FlaskClient, engine: Engine) -> None:
    deploy(client, waiting_process())
    ids = [start(client, "ORD-1"), start(client, "ORD-1")]
    missing = client.post(
        "/engine-rest/message",
        json={"messageName": "payment_received", "businessKey": "X"},
        headers=auth("sales"),
    )
    assert missing.status_code == 400 and "'X'" in missing.get_json()["message"]
    ambiguous = client.post(
        "/engine-rest/message",
        json={"messageName": "payment_received", "businessKey": "ORD-1"},
        headers=auth("sales"),
    )
    assert ambiguous.status_code == 400 and "2 waiting process instances" in ambiguous.get_json()["message"]
    assert all(engine.runtime.open_activities(i) == ["wait"] for i in ids)
    everyone = client.post(
        "/engine-rest/message",
        json={"messageName": "payment_received", "businessKey": "ORD-1", "all": True},
        headers=auth("sales"),
    )
    assert everyone.status_code == 204
    assert all(engine.runtime.open_activities(i) == ["After"] for i in ids)
    nameless = client.post("/engine-rest/message", json={"businessKey": "ORD-1"}, headers=auth("sales"))
    assert nameless.status_code == 400 and "messageName" in nameless.get_json()["message"]


def test_signal_is_broadcast(client: FlaskClient, engine: Engine) -> None:
    assert ALARM
    deploy(client, waiting_process(definition='<bpmn:signalEventDefinition signalRef="Sig_alarm" />'))
    ids = [start(client, "A"), start(client, "B")]
    response = client.post("/engine-rest/signal", json={"name": "alarm"}, headers=auth("sales"))
    assert response.status_code == 204
    assert all(engine.runtime.open_activities(i) == ["After"] for i in ids)
