"""Call activities through the REST API: parent and child linked as Camunda 7 shows them."""

from __future__ import annotations

import io
from pathlib import Path

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from engine import Engine
from engine.db.models import JobKind
from tests.rest.conftest import auth

CALL_ACTIVITY = Path(__file__).resolve().parent.parent / "conformance" / "bpmn" / "call_activity.bpmn"
MULTI_INSTANCE = CALL_ACTIVITY.with_name("multi_instance_call_activity.bpmn")


def deploy(client: FlaskClient, path: Path) -> TestResponse:
    data = {"file0": (io.BytesIO(path.read_bytes()), path.name)}
    deployed = client.post(
        "/engine-rest/deployment/create", data=data, headers=auth("admin"), content_type="multipart/form-data"
    )
    assert deployed.status_code == 200, deployed.get_json()
    return deployed


def test_child_instances_are_linked_to_their_parent_and_a_rest_completion_resumes_it(
    client: FlaskClient, engine: Engine
) -> None:
    deployed = deploy(client, CALL_ACTIVITY)
    assert deployed.get_json()["warnings"] == []  # the called process came in the same deployment
    tags = {d["key"]: d["versionTag"] for d in deployed.get_json()["deployedProcessDefinitions"].values()}
    assert tags == {"call_activity": None, "invoicing": "2026.12"}
    started = client.post(
        "/engine-rest/process-definition/key/call_activity/start",
        json={"businessKey": "ORD-1", "variables": {"amount": {"value": 50, "type": "Long"}}},
        headers=auth("sales"),
    )
    assert started.status_code == 200, started.get_json()
    parent_id = started.get_json()["id"]

    children = client.get(
        f"/engine-rest/process-instance?superProcessInstance={parent_id}", headers=auth("admin")
    )
    [child] = children.get_json()
    assert child["businessKey"] == "ORD-1" and child["id"] != parent_id
    parents = client.get(
        f"/engine-rest/process-instance?subProcessInstance={child['id']}", headers=auth("admin")
    )
    assert [p["id"] for p in parents.get_json()] == [parent_id]
    count = client.get(
        f"/engine-rest/process-instance/count?superProcessInstance={parent_id}", headers=auth("admin")
    )
    assert count.get_json() == {"count": 1}
    everything = client.get("/engine-rest/process-instance", headers=auth("admin")).get_json()
    assert {i["id"] for i in everything} == {parent_id, child["id"]}

    # The child's user task is in the finance inbox; completing it over REST ends the child.
    [task] = client.get(
        f"/engine-rest/task?processInstanceId={child['id']}", headers=auth("finance")
    ).get_json()
    assert task["taskDefinitionKey"] == "Post"
    done = client.post(
        f"/engine-rest/task/{task['id']}/complete",
        json={"variables": {"approved": {"value": True, "type": "Boolean"}}},
        headers=auth("finance"),
    )
    assert done.status_code == 204, done.get_json()
    # A worker resumes the parent (flowdesk serve runs one; here the test does its work).
    while jobs := engine.jobs.acquire("w", kind=JobKind.HANDLER):
        assert engine.jobs.run(jobs[0].id, "w") == "completed"
    [ship] = client.get(
        f"/engine-rest/task?processInstanceId={parent_id}", headers=auth("warehouse")
    ).get_json()
    assert ship["taskDefinitionKey"] == "Ship"
    variables = client.get(f"/engine-rest/process-instance/{parent_id}/variables", headers=auth("admin"))
    assert variables.get_json()["invoiceNumber"] == {"value": "INV-60", "type": "String", "valueInfo": {}}

    history = client.get(
        f"/engine-rest/history/process-instance?superProcessInstanceId={parent_id}", headers=auth("admin")
    ).get_json()
    [called] = history
    assert called["id"] == child["id"] and called["state"] == "COMPLETED"
    assert called["superProcessInstanceId"] == parent_id and called["rootProcessInstanceId"] == parent_id
    roots = client.get(
        "/engine-rest/history/process-instance?rootProcessInstances=true", headers=auth("admin")
    )
    assert [i["id"] for i in roots.get_json()] == [parent_id]
    top = client.get(f"/engine-rest/history/process-instance/{parent_id}", headers=auth("admin")).get_json()
    assert top["superProcessInstanceId"] is None and top["rootProcessInstanceId"] == parent_id
    activities = client.get(
        f"/engine-rest/history/activity-instance?processInstanceId={parent_id}", headers=auth("admin")
    ).get_json()
    [invoice] = [a for a in activities if a["activityId"] == "Invoice"]
    assert invoice["activityType"] == "callActivity" and invoice["calledProcessInstanceId"] == child["id"]
    assert invoice["endTime"] is not None and not invoice["canceled"]


def test_each_child_of_a_multi_instance_call_activity_is_linked_to_the_parent_and_its_history_row(
    client: FlaskClient, engine: Engine
) -> None:
    deploy(client, MULTI_INSTANCE)
    suppliers = {"value": '["acme", "bolt", "cogs"]', "type": "Json"}
    started = client.post(
        "/engine-rest/process-definition/key/multi_instance_call_activity/start",
        json={"variables": {"suppliers": suppliers}},
        headers=auth("sales"),
    )
    assert started.status_code == 200, started.get_json()
    parent_id = started.get_json()["id"]

    children = client.get(
        f"/engine-rest/process-instance?superProcessInstance={parent_id}", headers=auth("admin")
    ).get_json()
    assert sorted(c["businessKey"] for c in children) == ["acme", "bolt", "cogs"]
    for child in children:
        parents = client.get(
            f"/engine-rest/process-instance?subProcessInstance={child['id']}", headers=auth("admin")
        ).get_json()
        assert [p["id"] for p in parents] == [parent_id]
        item = client.get(f"/engine-rest/process-instance/{child['id']}/variables", headers=auth("admin"))
        assert item.get_json()["supplier"]["value"] == child["businessKey"]
    count = client.get(
        f"/engine-rest/process-instance/count?superProcessInstance={parent_id}", headers=auth("admin")
    )
    assert count.get_json() == {"count": 3}

    history = client.get(
        f"/engine-rest/history/process-instance?superProcessInstanceId={parent_id}", headers=auth("admin")
    ).get_json()
    assert sorted(h["id"] for h in history) == sorted(c["id"] for c in children)
    assert all(h["superProcessInstanceId"] == parent_id for h in history)
    activities = client.get(
        f"/engine-rest/history/activity-instance?processInstanceId={parent_id}", headers=auth("admin")
    ).get_json()
    quotes = [a for a in activities if a["activityId"] == "Quote"]
    [body] = [a for a in quotes if a["activityType"] == "multiInstanceBody"]
    assert body["calledProcessInstanceId"] is None
    called = [a["calledProcessInstanceId"] for a in quotes if a["activityType"] == "callActivity"]
    assert sorted(called) == sorted(c["id"] for c in children)
