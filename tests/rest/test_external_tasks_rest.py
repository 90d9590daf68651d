"""External tasks over REST as Camunda 7 workers use them: fetch and lock, long polling, reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Database, Engine, FakeClock
from engine.handlers import HandlerRegistry
from engine.job_signal import signal_for
from tests.engine.test_service_tasks_inline import open_activities, service_process
from tests.rest.conftest import auth
from webui.rest.formats import camunda_time

FETCH = "/engine-rest/external-task/fetchAndLock"
TOPIC = {"topicName": "print", "lockDuration": 1000}


def external_process(topic: str = "print", key: str = "p") -> bytes:
    binding = f'camunda:type="external" camunda:topic="{topic}"'
    xml = service_process(binding, boundary='errorRef="E_OOS"')
    return xml.replace(b'<bpmn:process id="p"', f'<bpmn:process id="{key}"'.encode())


@pytest.fixture
def printing(engine: Engine) -> Engine:
    engine.deployments.deploy([("print.bpmn", external_process())])
    return engine


@pytest.fixture(autouse=True)
def _close_signal(engine: Engine) -> Iterator[None]:
    yield
    signal_for(engine.database).close()


def fetch(client: FlaskClient, worker: str = "w1", max_tasks: int = 5, **body: Any) -> Any:
    payload: dict[str, Any] = {
        "workerId": worker,
        "maxTasks": max_tasks,
        "topics": [{"topicName": "print", "lockDuration": 10_000}],
    }
    payload.update(body)
    return client.post(FETCH, json=payload, headers=auth("warehouse"))


def post(client: FlaskClient, task_id: str, action: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/engine-rest/external-task/{task_id}/{action}", json=body, headers=auth("warehouse"))


# -- fetch and lock ----------------------------------------------------------------------------------


def test_fetch_and_lock_answers_camunda_locked_tasks_with_the_requested_variables(
    client: FlaskClient, printing: Engine, clock: FakeClock
) -> None:
    instance = printing.runtime.start(key="p", business_key="B-1", variables={"order": 7, "note": "rush"})
    topics = [{"topicName": "print", "lockDuration": 60_000, "variables": ["order", "missing"]}]
    response = fetch(client, topics=topics)
    assert response.status_code == 200
    [task] = response.get_json()
    assert set(task) == {
        "activityId", "activityInstanceId", "businessKey", "errorDetails", "errorMessage", "executionId",
        "id", "lockExpirationTime", "priority", "processDefinitionId", "processDefinitionKey",
        "processDefinitionVersionTag", "processInstanceId", "retries", "suspended", "tenantId",
        "topicName", "variables", "workerId",
    }  # fmt: skip
    assert task["processInstanceId"] == instance.id
    assert (task["activityId"], task["topicName"], task["workerId"]) == ("Svc", "print", "w1")
    assert (task["businessKey"], task["processDefinitionKey"], task["retries"]) == ("B-1", "p", None)
    assert task["activityInstanceId"].startswith("Svc:")
    assert task["lockExpirationTime"] == camunda_time(clock() + timedelta(seconds=60))
    assert task["variables"] == {"order": {"type": "Integer", "value": 7, "valueInfo": {}}}
    assert fetch(client).get_json() == []  # locked

    clock.advance(seconds=61)  # the lock expired: another worker may take it, with every variable
    [again] = fetch(client, worker="w2").get_json()
    assert again["workerId"] == "w2" and set(again["variables"]) == {"order", "note"}


def test_several_topics_are_fetched_with_their_own_lock_durations_within_max_tasks(
    client: FlaskClient, engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("print.bpmn", external_process("print", "p"))])
    engine.deployments.deploy([("ship.bpmn", external_process("ship", "q"))])
    for key in ("p", "p", "q", "q"):
        engine.runtime.start(key=key)
    topics = [
        {"topicName": "print", "lockDuration": 10_000},
        {"topicName": "ship", "lockDuration": 60_000},
    ]
    tasks = fetch(client, max_tasks=3, topics=topics).get_json()
    assert [t["topicName"] for t in tasks] == ["print", "print", "ship"]
    expiry = {t["topicName"]: t["lockExpirationTime"] for t in tasks}
    assert expiry["print"] == camunda_time(clock() + timedelta(seconds=10))
    assert expiry["ship"] == camunda_time(clock() + timedelta(seconds=60))
    assert len(fetch(client, max_tasks=3, topics=topics).get_json()) == 1


def test_fetch_filters_by_business_key_and_definition_key(client: FlaskClient, engine: Engine) -> None:
    engine.deployments.deploy([("a.bpmn", external_process("print", "p"))])
    engine.deployments.deploy([("b.bpmn", external_process("print", "q"))])
    engine.runtime.start(key="p", business_key="A")
    engine.runtime.start(key="q", business_key="B")
    topic = {"topicName": "print", "lockDuration": 1000}
    by_key = fetch(client, topics=[{**topic, "businessKey": "B"}]).get_json()
    assert [t["businessKey"] for t in by_key] == ["B"]
    assert fetch(client, topics=[{**topic, "processDefinitionKey": "q"}]).get_json() == []
    assert fetch(client, topics=[{**topic, "tenantIdIn": ["t1"]}]).get_json() == []  # no tenants
    [in_p] = fetch(client, topics=[{**topic, "processDefinitionKeyIn": ["p", "x"]}]).get_json()
    assert in_p["processDefinitionKey"] == "p"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"workerId": None}, "workerId is required"),
        ({"maxTasks": -1}, "maxTasks"),
        ({"asyncResponseTimeout": 1_800_001}, "asyncResponseTimeout"),
        ({"topics": [{"topicName": "print"}]}, "lockDuration is required"),
        ({"topics": [{**TOPIC, "processVariables": {"a": 1}}]}, "processVariables"),
        ({"topics": [{**TOPIC, "processDefinitionId": "p:1"}]}, "processDefinitionKey"),
    ],
)  # fmt: skip
def test_invalid_fetch_requests_are_400_with_a_reason(
    client: FlaskClient, change: dict[str, Any], message: str
) -> None:
    response = fetch(client, **change)
    assert response.status_code == 400
    assert response.get_json()["type"] == "InvalidRequestException"
    assert message in response.get_json()["message"]


# -- long polling ---------------------------------------------------------------------------------------


def _start_later(engine: Engine, delay: float, started: list[float]) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        started.append(time.monotonic())
        engine.runtime.start(key="p")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_long_polling_answers_as_soon_as_a_task_arrives(client: FlaskClient, printing: Engine) -> None:
    started: list[float] = []
    thread = _start_later(printing, 0.3, started)
    begin = time.monotonic()
    response = fetch(client, asyncResponseTimeout=10_000)
    answered = time.monotonic()
    thread.join(timeout=5)
    assert len(response.get_json()) == 1
    # Long before the 10 s timeout; the margins are wide so that a busy machine is not a failure.
    assert 0.25 < answered - begin < 5.0, answered - begin
    assert answered - started[0] < 3.0


def test_long_polling_answers_an_empty_list_at_the_timeout(client: FlaskClient, printing: Engine) -> None:
    begin = time.monotonic()
    response = fetch(client, asyncResponseTimeout=400)
    assert response.get_json() == []
    assert 0.35 < time.monotonic() - begin < 3.0


def test_long_polling_wakes_when_a_failed_task_is_available_again(
    client: FlaskClient, printing: Engine
) -> None:
    printing.runtime.start(key="p")
    [task] = fetch(client).get_json()

    def fail_later() -> None:
        time.sleep(0.3)
        printing.jobs.fail(task["id"], "w1", "printer jammed", retries=2)

    thread = threading.Thread(target=fail_later, daemon=True)
    thread.start()
    begin = time.monotonic()
    [again] = fetch(client, worker="w2", asyncResponseTimeout=10_000).get_json()
    # Far below the 10 s timeout it tells apart; wide, so that a busy machine is not a failure.
    assert time.monotonic() - begin < 5.0
    thread.join(timeout=5)
    assert (again["id"], again["retries"], again["errorMessage"]) == (task["id"], 2, "printer jammed")


def test_job_signal_counts_generations_and_times_out(engine: Engine) -> None:
    signal = signal_for(engine.database)
    assert signal_for(engine.database) is signal  # one per database
    signal.listen(timeout=5.0)  # PostgreSQL: LISTEN first; once in place it wakes waiters to look again
    seen = signal.generation
    assert signal.wait(seen, 0.05) is False
    threading.Timer(0.05, signal.wake).start()
    assert signal.wait(seen, 5.0) is True
    assert signal.wait(seen, 5.0) is True  # already moved on: no lost wake-up
    signal.close()
    assert signal.wait(signal.generation, 5.0) is False  # closed: returns at once
    assert signal_for(engine.database) is not signal


@pytest.mark.postgres
def test_postgres_notify_wakes_long_polls_of_another_process(
    client: FlaskClient, printing: Engine, db_url: str, clock: FakeClock
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL")
    assert signal_for(printing.database).listen(timeout=5.0)
    # Another process: its own database object, signal and engine; only PostgreSQL connects them.
    other = Engine(Database(db_url), clock=clock, handlers=HandlerRegistry(), migrate=False)
    try:
        signal_for(other.database)
        started: list[float] = []
        thread = _start_later(other, 0.3, started)
        begin = time.monotonic()
        response = fetch(client, asyncResponseTimeout=10_000)
        answered = time.monotonic()
        thread.join(timeout=5)
        assert len(response.get_json()) == 1
        assert answered - begin < 2.0, answered - begin  # the 5 s recheck would be too late
    finally:
        signal_for(other.database).close()
        other.close()


# -- reports by the worker ---------------------------------------------------------------------------------


def test_complete_is_204_and_only_for_the_worker_holding_the_lock(
    client: FlaskClient, printing: Engine
) -> None:
    instance = printing.runtime.start(key="p")
    [task] = fetch(client).get_json()
    body = {"workerId": "w2", "variables": {"printed": {"value": True, "type": "Boolean"}}}
    wrong = post(client, task["id"], "complete", body)
    assert wrong.status_code == 400
    assert "locked by worker 'w1'" in wrong.get_json()["message"]
    assert post(client, task["id"], "complete", {**body, "workerId": "w1"}).status_code == 204
    assert open_activities(printing, instance.id) == ["After"]
    assert printing.runtime.variables(instance.id)["printed"] is True
    gone = post(client, task["id"], "complete", {**body, "workerId": "w1"})
    assert gone.status_code == 404


def test_bpmn_error_is_caught_by_the_boundary_event(client: FlaskClient, printing: Engine) -> None:
    instance = printing.runtime.start(key="p")
    [task] = fetch(client).get_json()
    assert post(client, task["id"], "bpmnError", {"workerId": "w1"}).status_code == 400  # no errorCode
    body = {
        "workerId": "w1",
        "errorCode": "OUT_OF_STOCK",
        "errorMessage": "no paper",
        "variables": {"reason": {"value": "paper", "type": "String"}},
    }
    assert post(client, task["id"], "bpmnError", body).status_code == 204
    assert open_activities(printing, instance.id) == ["Handle"]
    assert printing.runtime.variables(instance.id)["reason"] == "paper"


def test_failure_sets_retries_and_the_retry_timeout(
    client: FlaskClient, printing: Engine, clock: FakeClock
) -> None:
    printing.runtime.start(key="p")
    [task] = fetch(client).get_json()
    body = {
        "workerId": "w1",
        "errorMessage": "jammed",
        "errorDetails": "trace",
        "retries": 2,
        "retryTimeout": 5000,
    }
    assert post(client, task["id"], "failure", {**body, "workerId": "w9"}).status_code == 400
    assert post(client, task["id"], "failure", body).status_code == 204
    assert fetch(client).get_json() == []  # due in 5 s
    clock.advance(seconds=5)
    [again] = fetch(client).get_json()
    assert (again["retries"], again["errorMessage"], again["errorDetails"]) == (2, "jammed", "trace")
    details = client.get(f"/engine-rest/external-task/{task['id']}/errorDetails", headers=auth("sales"))
    assert (details.status_code, details.get_data(as_text=True)) == (200, "trace")


def test_extend_lock_and_unlock(client: FlaskClient, printing: Engine, clock: FakeClock) -> None:
    printing.runtime.start(key="p")
    [task] = fetch(client).get_json()
    assert post(client, task["id"], "extendLock", {"workerId": "w2", "newDuration": 1000}).status_code == 400
    assert post(client, task["id"], "extendLock", {"workerId": "w1", "newDuration": 0}).status_code == 400
    assert (
        post(client, task["id"], "extendLock", {"workerId": "w1", "newDuration": 90_000}).status_code == 204
    )
    got = client.get(f"/engine-rest/external-task/{task['id']}", headers=auth("sales")).get_json()
    assert got["lockExpirationTime"] == camunda_time(clock() + timedelta(seconds=90))
    assert post(client, task["id"], "unlock").status_code == 204
    got = client.get(f"/engine-rest/external-task/{task['id']}", headers=auth("sales")).get_json()
    assert (got["workerId"], got["lockExpirationTime"]) == (None, None)
    assert len(fetch(client, worker="w2").get_json()) == 1


@pytest.mark.parametrize("action", ["complete", "failure", "bpmnError", "extendLock", "unlock"])
def test_unknown_external_task_is_404(client: FlaskClient, action: str) -> None:
    body = {"workerId": "w1", "errorCode": "E", "newDuration": 1000}
    response = post(client, "no-such-task", action, body)
    assert response.status_code == 404
    assert response.get_json()["type"] == "InvalidRequestException"


# -- queries -------------------------------------------------------------------------------------------------


def test_list_count_and_get_with_filters(client: FlaskClient, printing: Engine) -> None:
    for _ in range(3):
        printing.runtime.start(key="p")
    [locked] = fetch(client, max_tasks=1).get_json()
    [other] = fetch(client, worker="w2", max_tasks=1).get_json()
    printing.jobs.fail(other["id"], "w2", "broken", retries=0)

    def ids(query: str) -> list[str]:
        response = client.get(f"/engine-rest/external-task{query}", headers=auth("sales"))
        assert response.status_code == 200
        return [t["id"] for t in response.get_json()]

    def count(query: str) -> int:
        return int(
            client.get(f"/engine-rest/external-task/count{query}", headers=auth("sales")).get_json()["count"]
        )

    assert len(ids("")) == 3 and count("") == 3
    assert ids("?locked=true") == [locked["id"]]
    assert len(ids("?notLocked=true")) == 2
    assert ids("?noRetriesLeft=true") == [other["id"]]
    assert other["id"] not in ids("?withRetriesLeft=true") and count("?withRetriesLeft=true") == 2
    assert ids(f"?workerId=w1&processInstanceId={locked['processInstanceId']}") == [locked["id"]]
    assert ids("?topicName=ship") == []
    assert len(ids("?firstResult=1&maxResults=5")) == 2 and len(ids("?maxResults=1")) == 1
    got = client.get(f"/engine-rest/external-task/{locked['id']}", headers=auth("sales"))
    assert (
        got.status_code == 200 and "variables" not in got.get_json() and "errorDetails" not in got.get_json()
    )
    assert client.get("/engine-rest/external-task/nope", headers=auth("sales")).status_code == 404
    assert client.get("/engine-rest/external-task", headers=auth("nobody")).status_code == 401


# -- input and output mappings -------------------------------------------------------------------------

IO_MAPPINGS = """<bpmn:extensionElements><camunda:inputOutput>
  <camunda:inputParameter name="copies">${order.copies * 2}</camunda:inputParameter>
  <camunda:inputParameter name="note">local note</camunda:inputParameter>
  <camunda:outputParameter name="printed_pages">${pages}</camunda:outputParameter>
  <camunda:outputParameter name="note_seen">${note}</camunda:outputParameter>
</camunda:inputOutput></bpmn:extensionElements>"""


def mapped_external_process() -> bytes:
    return service_process('camunda:type="external" camunda:topic="print"', extra=IO_MAPPINGS)


def test_fetch_and_lock_gives_input_parameters_as_the_task_s_local_variables(
    client: FlaskClient, engine: Engine
) -> None:
    engine.deployments.deploy([("io.bpmn", mapped_external_process())])
    engine.runtime.start(key="p", variables={"order": {"copies": 3}, "note": "process note"})
    [task] = fetch(client).get_json()
    variables = {name: typed["value"] for name, typed in task["variables"].items()}
    assert set(variables) == {"order", "copies", "note"}
    assert (variables["copies"], variables["note"]) == (6, "local note")  # the local one wins
    topics = [{"topicName": "print", "lockDuration": 1000, "variables": ["copies"]}]
    post(client, task["id"], "unlock")
    [again] = fetch(client, topics=topics).get_json()
    assert again["variables"] == {"copies": {"type": "Integer", "value": 6, "valueInfo": {}}}


def test_complete_applies_output_parameters_and_keeps_local_variables_local(
    client: FlaskClient, engine: Engine
) -> None:
    engine.deployments.deploy([("io.bpmn", mapped_external_process())])
    instance = engine.runtime.start(key="p", variables={"order": {"copies": 3}, "note": "process note"})
    [task] = fetch(client).get_json()
    body = {
        "workerId": "w1",
        "variables": {"printer": {"value": "P-7"}, "copies": {"value": 99}},
        "localVariables": {"pages": {"value": 12}, "scratch": {"value": "x"}},
    }
    assert post(client, task["id"], "complete", body).status_code == 204
    variables = engine.runtime.variables(instance.id)
    assert (variables["printed_pages"], variables["note_seen"]) == (12, "local note")
    assert variables["printer"] == "P-7"
    assert variables["note"] == "process note"  # the input parameter stayed local
    # Local variables (and `copies`, named like an input parameter, so local too) reach the
    # process only through an output parameter.
    assert {"pages", "scratch", "copies"}.isdisjoint(variables)
    assert open_activities(engine, instance.id) == ["After"]


def test_an_output_mapping_that_fails_on_complete_is_a_400_and_keeps_the_task(
    client: FlaskClient, engine: Engine
) -> None:
    mapping = IO_MAPPINGS.replace("${pages}", "${pages.count}")
    binding = 'camunda:type="external" camunda:topic="print"'
    engine.deployments.deploy([("io.bpmn", service_process(binding, extra=mapping))])
    instance = engine.runtime.start(key="p", variables={"order": {"copies": 1}})
    [task] = fetch(client).get_json()
    body = {"workerId": "w1", "localVariables": {"pages": {"value": 3}}}
    response = post(client, task["id"], "complete", body)
    assert response.status_code == 400 and "output mapping" in response.get_json()["message"]
    assert engine.runtime.open_activities(instance.id) == ["Svc"]
