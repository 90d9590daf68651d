"""POST /message and POST /signal as Camunda 7 clients call them (one test: user set-up is slow)."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine import Engine
from tests.engine.test_messages import waiting_process
from tests.rest.conftest import auth


def post(client: FlaskClient, path: str, body: dict[str, object]) -> TestResponse:
    return client.post(f"/engine-rest/{path}", json=body, headers=auth("sales"))


def test_message_and_signal_endpoints(client: FlaskClient, engine: Engine) -> None:
    deployed = client.post(
        "/engine-rest/deployment/create",
        data={"file": (io.BytesIO(waiting_process()), "m.bpmn")},
        headers=auth("admin"),
        content_type="multipart/form-data",
    )
    assert deployed.status_code == 200, deployed.get_json()
    ids = [
        client.post(
            "/engine-rest/process-definition/key/p/start", json={"businessKey": key}, headers=auth("sales")
        ).get_json()["id"]
        for key in ("ORD-1", "ORD-2", "ORD-2")
    ]
    listed = client.get("/engine-rest/event-subscription?eventName=payment_received", headers=auth("sales"))
    assert sorted(
        (s["eventType"], s["activityId"], s["processInstanceId"]) for s in listed.get_json()
    ) == sorted(("message", "wait", i) for i in ids)
    one = post(
        client,
        "message",
        {
            "messageName": "payment_received",
            "businessKey": "ORD-1",
            "processVariables": {"paid": {"value": 99, "type": "Long"}},
            "resultEnabled": True,
        },
    )
    assert one.status_code == 200, one.get_json()
    [result] = one.get_json()
    assert result["resultType"] == "Execution" and result["execution"]["processInstanceId"] == ids[0]
    variables = client.get(f"/engine-rest/process-instance/{ids[0]}/variables", headers=auth("sales"))
    assert variables.get_json()["paid"]["value"] == 99

    missing = post(client, "message", {"messageName": "payment_received", "businessKey": "X"})
    assert missing.status_code == 400 and "'X'" in missing.get_json()["message"]
    ambiguous = post(client, "message", {"messageName": "payment_received", "businessKey": "ORD-2"})
    assert ambiguous.status_code == 400
    assert "2 waiting process instances" in ambiguous.get_json()["message"]
    assert [engine.runtime.open_activities(i) for i in ids[1:]] == [["wait"], ["wait"]]
    everyone = post(
        client, "message", {"messageName": "payment_received", "businessKey": "ORD-2", "all": True}
    )
    assert everyone.status_code == 204
    assert [engine.runtime.open_activities(i) for i in ids[1:]] == [["After"], ["After"]]
    nameless = post(client, "message", {"businessKey": "ORD-1"})
    assert nameless.status_code == 400 and "messageName" in nameless.get_json()["message"]

    count = client.get("/engine-rest/event-subscription/count?eventType=message", headers=auth("sales"))
    assert count.get_json() == {"count": 0}  # every wait consumed
    assert post(client, "signal", {"name": "nobody_listens"}).status_code == 204
    assert post(client, "signal", {}).status_code == 400
