"""Incidents and jobs over REST: a failure with no retries left, seen and retried by an administrator."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Engine, FakeClock
from engine.handlers import HandlerContext, HandlerRegistry
from tests.engine.test_service_tasks_inline import open_activities, service_process
from tests.rest.conftest import auth
from tests.rest.test_external_tasks_rest import external_process, fetch, post

ONE_TRY = (
    "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R1/PT5S"
    "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
)


def get(client: FlaskClient, path: str, user: str = "sales") -> Any:
    response = client.get(f"/engine-rest{path}", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def put_retries(client: FlaskClient, path: str, retries: Any, user: str = "admin") -> Any:
    return client.put(f"/engine-rest{path}/retries", json={"retries": retries}, headers=auth(user))


def test_external_task_failure_incident_round_trip(client: FlaskClient, engine: Engine) -> None:
    engine.deployments.deploy([("print.bpmn", external_process())])
    engine.runtime.start(key="p")
    engine.runtime.start(key="p")  # two instances: one gets an incident
    [task] = fetch(client, max_tasks=1).get_json()
    body = {"workerId": "w1", "errorMessage": "printer on fire", "errorDetails": "trace", "retries": 0}
    assert post(client, task["id"], "failure", body).status_code == 204

    [incident] = get(client, "/incident")
    assert incident == {
        "id": task["id"],
        "processDefinitionId": task["processDefinitionId"],
        "processInstanceId": task["processInstanceId"],
        "executionId": task["processInstanceId"],
        "incidentTimestamp": incident["incidentTimestamp"],
        "incidentType": "failedExternalTask",
        "activityId": "Svc",
        "failedActivityId": "Svc",
        "causeIncidentId": task["id"],
        "rootCauseIncidentId": task["id"],
        "configuration": task["id"],
        "tenantId": None,
        "incidentMessage": "printer on fire",
        "jobDefinitionId": None,
        "annotation": None,
    }
    assert incident["incidentTimestamp"] is not None
    assert get(client, "/incident/count") == {"count": 1}
    assert get(client, f"/incident?processInstanceId={task['processInstanceId']}") == [incident]
    assert get(client, "/incident?incidentType=failedJob") == []
    assert get(client, "/incident/count?incidentType=failedExternalTask") == {"count": 1}
    assert get(client, f"/incident/{task['id']}") == incident
    assert client.get("/engine-rest/incident/nope", headers=auth("sales")).status_code == 404
    assert fetch(client).get_json()[0]["id"] != task["id"]  # an incident is never fetched

    assert put_retries(client, f"/external-task/{task['id']}", 1, user="sales").status_code == 403
    assert put_retries(client, f"/external-task/{task['id']}", -1).status_code == 400
    assert put_retries(client, "/external-task/nope", 1).status_code == 404
    assert put_retries(client, f"/job/{task['id']}", 1).status_code == 404  # not a job
    assert put_retries(client, f"/external-task/{task['id']}", 1).status_code == 204
    assert get(client, "/incident") == []
    [again] = fetch(client, worker="w2").get_json()
    assert (again["id"], again["retries"]) == (task["id"], 1)
    assert post(client, again["id"], "complete", {"workerId": "w2"}).status_code == 204
    assert open_activities(engine, task["processInstanceId"]) == ["After"]


def test_failed_handler_job_is_a_job_and_an_incident_until_retried(
    client: FlaskClient, engine: Engine, handlers: HandlerRegistry, clock: FakeClock
) -> None:
    calls: list[int] = []

    def flaky(ctx: HandlerContext) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ERP down")
        return {"reserved": 1}

    handlers.register("erp.reserve", flaky)
    engine.deployments.deploy([("svc.bpmn", service_process('camunda:class="erp.reserve"', ONE_TRY))])
    instance = engine.runtime.start(key="p")

    [job] = get(client, "/job")
    assert set(job) == {
        "id", "jobDefinitionId", "dueDate", "processInstanceId", "executionId", "processDefinitionId",
        "processDefinitionKey", "retries", "exceptionMessage", "failedActivityId", "suspended", "priority",
        "tenantId", "createTime",
    }  # fmt: skip
    assert (job["retries"], job["exceptionMessage"], job["failedActivityId"]) == (
        0,
        "RuntimeError: ERP down",
        "Svc",
    )
    assert get(client, f"/job/{job['id']}") == job
    assert get(client, "/job?withException=true&noRetriesLeft=true") == [job]
    assert get(client, "/job?withRetriesLeft=true") == []
    assert get(client, f"/job/count?processInstanceId={instance.id}") == {"count": 1}
    assert get(client, "/job?processInstanceId=other") == []
    trace = client.get(f"/engine-rest/job/{job['id']}/stacktrace", headers=auth("sales"))
    assert "Traceback" in trace.get_data(as_text=True)
    [incident] = get(client, "/incident?incidentType=failedJob")
    assert (incident["configuration"], incident["incidentMessage"]) == (job["id"], "RuntimeError: ERP down")
    assert get(client, "/external-task") == []  # a handler job is not an external task
    assert client.get(f"/engine-rest/external-task/{job['id']}", headers=auth("sales")).status_code == 404

    assert put_retries(client, f"/job/{job['id']}", 2, user="designer").status_code == 403
    assert put_retries(client, f"/job/{job['id']}", "two").status_code == 400
    assert put_retries(client, "/job/nope", 2).status_code == 404
    assert put_retries(client, f"/job/{job['id']}", 2).status_code == 204
    assert get(client, "/incident") == []
    assert get(client, "/job?executable=true")[0]["retries"] == 2
    [locked] = engine.jobs.acquire("worker")
    assert engine.jobs.run(locked.id, "worker") == "completed"
    assert get(client, "/job") == []
    assert open_activities(engine, instance.id) == ["After"]


@pytest.mark.parametrize("path", ["/job/nope", "/job/nope/stacktrace", "/incident/nope"])
def test_unknown_ids_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(f"/engine-rest{path}", headers=auth("sales"))
    assert response.status_code == 404
    assert response.get_json()["type"] == "InvalidRequestException"
