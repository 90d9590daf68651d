"""The REST API as Camunda 7 clients use it: deploy, start, task inbox, claim, complete, history."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from tests.helpers import FIXTURES, PROCESSES
from tests.rest.conftest import auth


def deploy(client: FlaskClient, *names: str, user: str = "admin", **form: str) -> Any:
    data: dict[str, Any] = dict(form)
    for i, name in enumerate(names):
        folder = PROCESSES if (PROCESSES / name).exists() else FIXTURES
        data[f"file{i}"] = (io.BytesIO((folder / name).read_bytes()), name)
    return client.post(
        "/engine-rest/deployment/create", data=data, headers=auth(user), content_type="multipart/form-data"
    )


def test_requests_without_credentials_get_401(client: FlaskClient) -> None:
    response = client.get("/engine-rest/task")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert (
        client.get("/engine-rest/task", headers={"Authorization": "Basic c2FsZXM6d3Jvbmc="}).status_code
        == 401
    )


def test_version(client: FlaskClient) -> None:
    assert client.get("/engine-rest/version", headers=auth("sales")).get_json() == {"version": "7.20.0"}


def test_deploy_versions_and_duplicate_filtering(client: FlaskClient) -> None:
    first = deploy(client, "order_approval.bpmn", **{"deployment-name": "orders"})
    assert first.status_code == 200, first.get_json()
    [definition] = first.get_json()["deployedProcessDefinitions"].values()
    assert (definition["key"], definition["version"]) == ("order_approval", 1)
    same = deploy(
        client, "order_approval.bpmn", **{"deployment-name": "orders", "enable-duplicate-filtering": "true"}
    )
    assert same.status_code == 200
    assert same.get_json()["deployedProcessDefinitions"] is None
    again = deploy(client, "order_approval.bpmn")
    [second] = again.get_json()["deployedProcessDefinitions"].values()
    assert second["version"] == 2
    latest = client.get(
        "/engine-rest/process-definition?key=order_approval&latestVersion=true", headers=auth("sales")
    )
    assert [d["version"] for d in latest.get_json()] == [2]
    by_key = client.get(
        "/engine-rest/process-definition/key/order_approval", headers=auth("sales")
    ).get_json()
    assert by_key["id"] == second["id"]
    xml = client.get(f"/engine-rest/process-definition/{second['id']}/xml", headers=auth("sales")).get_json()
    assert "Review order" in xml["bpmn20Xml"]


def test_only_designers_deploy(client: FlaskClient) -> None:
    response = deploy(client, "order_approval.bpmn", user="sales")
    assert response.status_code == 403
    assert response.get_json()["type"] == "AuthorizationException"
    assert deploy(client, "order_approval.bpmn", user="designer").status_code == 200


def test_full_lifecycle_over_rest(client: FlaskClient) -> None:
    deploy(client, "order_approval.bpmn")
    started = client.post(
        "/engine-rest/process-definition/key/order_approval/start",
        headers=auth("sales"),
        json={
            "businessKey": "ORD-7",
            "variables": {
                "customer": {"value": "ACME", "type": "String"},
                "amount": {"value": 1200, "type": "Long"},
            },
        },
    )
    assert started.status_code == 200, started.get_json()
    instance = started.get_json()
    assert instance["businessKey"] == "ORD-7" and instance["ended"] is False
    variables = client.get(
        f"/engine-rest/process-instance/{instance['id']}/variables", headers=auth("sales")
    ).get_json()
    assert variables["amount"] == {"value": 1200, "type": "Integer", "valueInfo": {}}
    assert variables["large"]["value"] is True

    inbox = client.get("/engine-rest/task?candidateGroup=sales", headers=auth("sales")).get_json()
    assert [t["taskDefinitionKey"] for t in inbox] == ["Task_review"]
    task_id = inbox[0]["id"]
    assert client.get("/engine-rest/task/count?candidateGroup=sales", headers=auth("sales")).get_json() == {
        "count": 1
    }
    # Another group neither sees nor completes it.
    assert client.get("/engine-rest/task", headers=auth("warehouse")).get_json() == []
    assert client.get(f"/engine-rest/task/{task_id}", headers=auth("warehouse")).status_code == 403
    assert (
        client.post(f"/engine-rest/task/{task_id}/complete", headers=auth("warehouse"), json={}).status_code
        == 403
    )

    assert (
        client.post(
            f"/engine-rest/task/{task_id}/claim", headers=auth("sales"), json={"userId": "sales"}
        ).status_code
        == 204
    )
    assert (
        client.get("/engine-rest/task?assignee=sales", headers=auth("sales")).get_json()[0]["id"] == task_id
    )
    # Claimed tasks leave the group queue.
    assert client.get("/engine-rest/task?candidateGroup=sales", headers=auth("sales")).get_json() == []
    form = client.get(f"/engine-rest/task/{task_id}/form-variables", headers=auth("sales")).get_json()
    assert set(form) == {"approved", "comment"}

    bad = client.post(
        f"/engine-rest/task/{task_id}/complete",
        headers=auth("sales"),
        json={"variables": {"comment": {"value": "x" * 600, "type": "String"}}},
    )
    assert bad.status_code == 400
    assert set(bad.get_json()["fieldErrors"]) == {"approved", "comment"}

    done = client.post(
        f"/engine-rest/task/{task_id}/complete",
        headers=auth("sales"),
        json={"variables": {"approved": {"value": True, "type": "Boolean"}}},
    )
    assert done.status_code == 204
    [invoice] = client.get(
        f"/engine-rest/task?processInstanceId={instance['id']}", headers=auth("finance")
    ).get_json()
    done = client.post(
        f"/engine-rest/task/{invoice['id']}/complete",
        headers=auth("finance"),
        json={"variables": {"invoiceDate": {"value": "2026-12-01", "type": "String"}}},
    )
    assert done.status_code == 204, done.get_json()
    assert (
        client.get(f"/engine-rest/process-instance/{instance['id']}", headers=auth("sales")).status_code
        == 404
    )

    history = client.get(
        f"/engine-rest/history/process-instance?processInstanceId={instance['id']}", headers=auth("sales")
    ).get_json()
    assert history[0]["state"] == "COMPLETED" and history[0]["endTime"] is not None
    activities = client.get(
        f"/engine-rest/history/activity-instance?processInstanceId={instance['id']}", headers=auth("sales")
    ).get_json()
    assert [a["activityId"] for a in activities][-1] == "EndEvent_done"
    tasks = client.get(
        f"/engine-rest/history/task?processInstanceId={instance['id']}", headers=auth("sales")
    ).get_json()
    assert [t["assignee"] for t in tasks] == ["sales", None]
    assert all(t["endTime"] for t in tasks)


def test_claim_conflict_and_delete(client: FlaskClient) -> None:
    deploy(client, "order_approval.bpmn")
    instance = client.post(
        "/engine-rest/process-definition/key/order_approval/start",
        headers=auth("sales"),
        json={
            "variables": {
                "customer": {"value": "A", "type": "String"},
                "amount": {"value": 3, "type": "Long"},
            }
        },
    ).get_json()
    [task] = client.get("/engine-rest/task", headers=auth("admin")).get_json()
    assert (
        client.post(
            f"/engine-rest/task/{task['id']}/claim", headers=auth("admin"), json={"userId": "sales"}
        ).status_code
        == 204
    )
    conflict = client.post(
        f"/engine-rest/task/{task['id']}/claim", headers=auth("admin"), json={"userId": "admin"}
    )
    assert conflict.status_code == 500 and conflict.get_json()["type"] == "TaskAlreadyClaimedException"
    assert (
        client.delete(f"/engine-rest/process-instance/{instance['id']}", headers=auth("sales")).status_code
        == 403
    )
    assert (
        client.delete(f"/engine-rest/process-instance/{instance['id']}", headers=auth("admin")).status_code
        == 204
    )
    assert client.get("/engine-rest/task", headers=auth("admin")).get_json() == []
    history = client.get(
        f"/engine-rest/history/process-instance?processInstanceId={instance['id']}", headers=auth("admin")
    ).get_json()
    assert history[0]["state"] == "EXTERNALLY_TERMINATED"


def test_unknown_key_and_bad_variables(client: FlaskClient) -> None:
    missing = client.post("/engine-rest/process-definition/key/nope/start", headers=auth("sales"), json={})
    assert missing.status_code == 404
    assert "nope" in missing.get_json()["message"]
    deploy(client, "order_approval.bpmn")
    wrong = client.post(
        "/engine-rest/process-definition/key/order_approval/start",
        headers=auth("sales"),
        json={"variables": {"amount": {"value": "lots", "type": "Long"}}},
    )
    assert wrong.status_code == 400
    assert "amount" in wrong.get_json()["message"]
    not_json = client.post(
        "/engine-rest/process-definition/key/order_approval/start",
        headers=auth("sales"),
        data="{",
        content_type="application/json",
    )
    assert not_json.status_code == 400
