"""Multi-instance activities over REST: cancelled items' external tasks, and whose variables are whose."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from engine import Engine
from engine.job_signal import signal_for
from tests.conformance.test_elements import deploy
from tests.rest.conftest import auth

FETCH = "/engine-rest/external-task/fetchAndLock"


@pytest.fixture(autouse=True)
def _close_signal(engine: Engine) -> Iterator[None]:
    yield
    signal_for(engine.database).close()


def fetch(client: FlaskClient, topic: str) -> list[dict[str, object]]:
    body = {"workerId": "w1", "maxTasks": 10, "topics": [{"topicName": topic, "lockDuration": 10_000}]}
    response = client.post(FETCH, json=body, headers=auth("warehouse"))
    assert response.status_code == 200
    return list(response.get_json())


def test_external_tasks_a_completion_condition_cancelled_are_gone_and_404(
    client: FlaskClient, engine: Engine
) -> None:
    deploy(engine, "multi_instance_external_completion")
    instance = engine.runtime.start(
        key="multi_instance_external_completion", variables={"carriers": ["dhl", "ups"], "parcels": ["P1"]}
    )
    first, second = fetch(client, "quotes")
    # The process does not see an item's element variable; the item's task does.
    seen = client.get(f"/engine-rest/process-instance/{instance.id}/variables", headers=auth("sales"))
    assert set(seen.get_json()) == {"carriers", "parcels"}
    done = {"workerId": "w1", "variables": {"price": {"value": 7, "type": "Integer"}}}
    post = f"/engine-rest/external-task/{first['id']}/complete"
    assert client.post(post, json=done, headers=auth("warehouse")).status_code == 204
    late = client.post(
        f"/engine-rest/external-task/{second['id']}/complete", json=done, headers=auth("warehouse")
    )
    assert late.status_code == 404
    assert late.get_json()["type"] == "InvalidRequestException"
    listed = client.get(f"/engine-rest/external-task?processInstanceId={instance.id}", headers=auth("sales"))
    assert [t["activityId"] for t in listed.get_json()] == ["Label"]
    assert fetch(client, "quotes") == []


def test_task_variables_show_the_item_and_instance_variables_do_not(
    client: FlaskClient, engine: Engine
) -> None:
    deploy(engine, "multi_instance_user_task")
    lines = [{"sku": "A"}, {"sku": "B"}]
    instance = engine.runtime.start(key="multi_instance_user_task", variables={"lines": lines, "signers": []})
    tasks = client.get(
        f"/engine-rest/task?processInstanceId={instance.id}", headers=auth("finance")
    ).get_json()
    own = [
        client.get(f"/engine-rest/task/{t['id']}/variables", headers=auth("finance")).get_json()
        for t in tasks
    ]
    items = sorted((json.loads(o["line"]["value"])["sku"], o["loopCounter"]["value"]) for o in own)
    assert items == [("A", 0), ("B", 1)]
    assert json.loads(own[0]["lines"]["value"]) == lines
    process = client.get(f"/engine-rest/process-instance/{instance.id}/variables", headers=auth("finance"))
    assert set(process.get_json()) == {"lines", "signers"}
    assert (
        client.get(f"/engine-rest/task/{tasks[0]['id']}/variables", headers=auth("sales")).status_code == 403
    )
