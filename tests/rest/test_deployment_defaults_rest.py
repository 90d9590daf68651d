"""POST /deployment/create takes Flowdesk's ``flowdesk-async-before`` default for bound service tasks."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from engine import Engine
from tests.engine.test_service_tasks_inline import service_process
from tests.rest.conftest import auth

EXPRESSION = 'camunda:expression="${n * 2}" camunda:resultVariable="doubled"'


def deploy(client: FlaskClient, name: str, **form: str) -> None:
    data: dict[str, object] = {"file": (io.BytesIO(service_process(EXPRESSION)), name), **form}
    response = client.post(
        "/engine-rest/deployment/create", data=data, headers=auth("admin"), content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_json()


def start(client: FlaskClient) -> str:
    response = client.post(
        "/engine-rest/process-definition/key/p/start",
        json={"variables": {"n": {"value": 21, "type": "Long"}}},
        headers=auth("sales"),
    )
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["id"])


def test_a_deployment_asks_for_asynchronous_service_tasks(client: FlaskClient, engine: Engine) -> None:
    deploy(client, "inline.bpmn")
    inline = start(client)
    assert engine.runtime.variables(inline)["doubled"] == 42

    deploy(client, "async.bpmn", **{"flowdesk-async-before": "true"})
    waiting = start(client)
    jobs = client.get(f"/engine-rest/job?processInstanceId={waiting}", headers=auth("admin")).get_json()
    assert [(j["processInstanceId"], j["retries"]) for j in jobs] == [(waiting, 3)]
    assert "doubled" not in engine.runtime.variables(waiting)
    assert client.get(f"/engine-rest/job?processInstanceId={inline}", headers=auth("admin")).get_json() == []


def test_a_flag_that_is_neither_true_nor_false_is_a_400_and_deploys_nothing(
    client: FlaskClient, engine: Engine
) -> None:
    data: dict[str, object] = {
        "file": (io.BytesIO(service_process(EXPRESSION)), "p.bpmn"),
        "flowdesk-async-before": "yes",
    }
    response = client.post(
        "/engine-rest/deployment/create", data=data, headers=auth("admin"), content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert response.get_json()["type"] == "InvalidRequestException"
    assert "flowdesk-async-before must be true or false, not 'yes'" in response.get_json()["message"]
    assert engine.definitions.list() == []
