"""Compensation handlers that are tasks, over REST: an external task fetched by topic, a user task."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from engine import Engine
from engine.job_signal import signal_for
from tests.conformance.test_elements import deploy
from tests.rest.conftest import auth

KEY = "compensation_task_handlers"


@pytest.fixture(autouse=True)
def _close_signal(engine: Engine) -> Iterator[None]:
    yield
    signal_for(engine.database).close()


def test_compensation_handler_tasks_are_fetched_and_completed_over_rest(
    client: FlaskClient, engine: Engine
) -> None:
    deploy(engine, KEY)
    started = client.post(
        f"/engine-rest/process-definition/key/{KEY}/start",
        json={"variables": {"amount": {"value": 10, "type": "Integer"}}},
        headers=auth("sales"),
    )
    assert started.status_code == 200
    instance_id = started.get_json()["id"]
    body = {"workerId": "w1", "maxTasks": 5, "topics": [{"topicName": "refunds", "lockDuration": 10_000}]}
    [refund] = client.post(
        "/engine-rest/external-task/fetchAndLock", json=body, headers=auth("warehouse")
    ).get_json()
    assert (refund["activityId"], refund["processInstanceId"]) == ("Refund", instance_id)
    inbox = f"/engine-rest/task?candidateGroup=warehouse&processInstanceId={instance_id}"
    assert client.get(inbox, headers=auth("warehouse")).get_json() == []  # Release waits its turn
    done = {"workerId": "w1", "variables": {"refunded": {"value": 10, "type": "Integer"}}}
    complete = f"/engine-rest/external-task/{refund['id']}/complete"
    assert client.post(complete, json=done, headers=auth("warehouse")).status_code == 204
    [release] = client.get(inbox, headers=auth("warehouse")).get_json()
    assert release["taskDefinitionKey"] == "Release"
    form = client.get(f"/engine-rest/task/{release['id']}/form-variables", headers=auth("warehouse"))
    assert set(form.get_json()) == {"shelf"}
    shelf = {"variables": {"shelf": {"value": "B7", "type": "String"}}}
    finished = client.post(
        f"/engine-rest/task/{release['id']}/complete", json=shelf, headers=auth("warehouse")
    )
    assert finished.status_code == 204
    variables = client.get(f"/engine-rest/process-instance/{instance_id}/variables", headers=auth("sales"))
    assert variables.get_json()["shelf"]["value"] == "B7"
    assert variables.get_json()["refunded"]["value"] == 10
    [review] = client.get(
        f"/engine-rest/task?processInstanceId={instance_id}", headers=auth("sales")
    ).get_json()
    assert review["taskDefinitionKey"] == "Review"
