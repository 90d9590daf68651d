"""A thrown message nobody waits for, seen over REST: a job, then an incident, retried by an admin."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from engine import Engine
from tests.engine.test_messages import waiting_process
from tests.engine.test_throw_events import message_thrower, run_worker
from tests.rest.conftest import auth


def test_an_undeliverable_thrown_message_is_an_incident_that_new_retries_deliver(
    client: FlaskClient, engine: Engine, clock: Any
) -> None:
    engine.deployments.deploy([("t.bpmn", message_thrower())])
    thrower = engine.runtime.start(key="thrower", business_key="ORD-1", variables={"amount": 3})
    for _ in range(4):  # the first attempt, then its retries
        run_worker(engine)
        clock.advance(minutes=5)
    [incident] = client.get("/engine-rest/incident?incidentType=failedJob", headers=auth("admin")).get_json()
    assert (incident["processInstanceId"], incident["activityId"]) == (thrower.id, "throw")
    assert "Cannot correlate message 'payment_received'" in incident["incidentMessage"]
    [job] = client.get(f"/engine-rest/job?processInstanceId={thrower.id}", headers=auth("admin")).get_json()
    assert (job["id"], job["retries"]) == (incident["id"], 0)

    engine.deployments.deploy([("w.bpmn", waiting_process())])
    waiter = engine.runtime.start(key="p", business_key="ORD-1")
    answer = client.put(f"/engine-rest/job/{job['id']}/retries", json={"retries": 1}, headers=auth("admin"))
    assert answer.status_code == 204
    run_worker(engine)
    assert engine.runtime.variables(waiter.id)["paid"] == 3
    assert client.get("/engine-rest/incident", headers=auth("admin")).get_json() == []
