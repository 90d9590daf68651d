"""The real Camunda external task client (camunda-external-task-client-python3), unchanged, against
Flowdesk served by waitress on a free port: completions, failures with retries, an incident, a BPMN
error caught by a boundary event, and long polling.

The client's ``ExternalTaskWorker.subscribe`` loops forever, so the test drives the same worker
through ``fetch_and_execute`` (the body of that loop) under a deadline: the test always ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound
from flask.testing import FlaskClient
from waitress import wasyncore
from waitress.server import create_server

from engine import Engine
from engine.clock import Clock, system_clock
from engine.job_signal import signal_for
from tests.engine.test_service_tasks_inline import open_activities
from tests.rest.test_external_tasks_rest import external_process, mapped_external_process

DEADLINE_SECONDS = 60.0
CREDENTIALS = {"username": "warehouse", "password": "warehouse-pw"}


@pytest.fixture
def clock() -> Clock:
    """Real time: the client computes nothing from it, but locks must expire as the server sees them."""
    return system_clock


@pytest.fixture
def base_url(client: FlaskClient, engine: Engine) -> Iterator[str]:
    """Flowdesk's REST API on a free 127.0.0.1 port, served by waitress in a thread."""
    server = create_server(client.application, host="127.0.0.1", port=0, threads=8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, use_poll=True, count=1)
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(server._map)

    thread = threading.Thread(target=serve, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/engine-rest"
    signal_for(engine.database).close()  # releases any long poll still waiting
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the waitress thread did not stop"


def until(done: Callable[[], bool], step: Callable[[], None]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not done():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        step()


def test_camunda_python_worker_completes_fails_retries_and_throws_bpmn_errors(
    base_url: str, engine: Engine
) -> None:
    engine.deployments.deploy([("print.bpmn", external_process())])
    instances = {
        mode: engine.runtime.start(key="p", business_key=mode, variables={"mode": mode}).id
        for mode in ("ok", "flaky", "oos", "broken")
    }
    seen: dict[str, list[Any]] = {mode: [] for mode in instances}

    def handle(task: Any) -> Any:
        mode = task.get_variable("mode")
        seen[mode].append(task._context.get("retries"))  # the client has no getter for retries
        assert task.get_business_key() == mode and task.get_activity_id() == "Svc"
        if mode == "flaky" and len(seen[mode]) < 3:
            return task.failure("printer jammed", "paper path blocked", max_retries=3, retry_timeout=0)
        if mode == "broken":
            return task.failure("printer broken", "call the technician", max_retries=1, retry_timeout=0)
        if mode == "oos":
            return task.bpmn_error("OUT_OF_STOCK", "no paper", {"reason": "paper"})
        return task.complete({"printed": True, "attempts": len(seen[mode])})

    config = {
        "auth_basic": CREDENTIALS,
        "maxTasks": 5,
        "lockDuration": 10_000,
        "asyncResponseTimeout": 1_000,
        "httpTimeoutMillis": 10_000,
        "isDebug": False,
    }
    worker = ExternalTaskWorker(worker_id="py-worker", base_url=base_url, config=config)

    def done() -> bool:
        incidents = engine.jobs.list(incidents_only=True)
        return (
            open_activities(engine, instances["ok"]) == ["After"]
            and open_activities(engine, instances["flaky"]) == ["After"]
            and open_activities(engine, instances["oos"]) == ["Handle"]
            and [i.instance_id for i in incidents] == [instances["broken"]]
        )

    def step() -> None:
        with contextlib.suppress(NoExternalTaskFound):  # an empty long poll: poll again
            worker.fetch_and_execute("print", handle)

    until(done, step)
    assert seen["ok"] == [None]
    assert seen["flaky"] == [None, 3, 2]  # the client counts retries down from max_retries
    assert seen["broken"] == [None, 1]  # then 0 retries: an incident
    assert seen["oos"] == [None]
    assert engine.runtime.variables(instances["ok"])["printed"] is True
    assert engine.runtime.variables(instances["flaky"])["attempts"] == 3
    assert engine.runtime.variables(instances["oos"])["reason"] == "paper"

    auth = (CREDENTIALS["username"], CREDENTIALS["password"])
    [incident] = requests.get(f"{base_url}/incident", auth=auth, timeout=10).json()
    assert (incident["incidentType"], incident["incidentMessage"]) == ("failedExternalTask", "printer broken")
    [task] = requests.get(f"{base_url}/external-task?noRetriesLeft=true", auth=auth, timeout=10).json()
    assert (task["id"], task["retries"]) == (incident["configuration"], 0)


def test_camunda_python_client_long_polls_until_a_task_arrives(base_url: str, engine: Engine) -> None:
    engine.deployments.deploy([("print.bpmn", external_process())])
    config = {
        "auth_basic": CREDENTIALS,
        "maxTasks": 1,
        "lockDuration": 10_000,
        "asyncResponseTimeout": 10_000,
    }
    client = ExternalTaskClient("py-client", base_url, config)

    started: list[float] = []

    def start_later() -> None:
        time.sleep(0.5)
        started.append(time.monotonic())
        engine.runtime.start(key="p", variables={"copies": 2})

    thread = threading.Thread(target=start_later, daemon=True)
    thread.start()
    begin = time.monotonic()
    [task] = client.fetch_and_lock("print")
    answered = time.monotonic()
    thread.join(timeout=5)
    assert 0.45 < answered - begin < 3.0, answered - begin  # not the 10 s timeout
    assert answered - started[0] < 1.0
    assert task["variables"]["copies"]["value"] == 2
    assert client.complete(task["id"], {"done": True}) is True  # 204
    assert open_activities(engine, task["processInstanceId"]) == ["After"]

    begin = time.monotonic()
    client.config["asyncResponseTimeout"] = 500
    assert client.fetch_and_lock("print") == []
    assert 0.45 < time.monotonic() - begin < 3.0


def test_camunda_python_worker_sees_input_parameters_and_its_local_variables_map_out(
    base_url: str, engine: Engine
) -> None:
    engine.deployments.deploy([("io.bpmn", mapped_external_process())])
    instance = engine.runtime.start(key="p", variables={"order": {"copies": 2}})
    seen: list[Any] = []

    def handle(task: Any) -> Any:
        seen.append((task.get_variable("copies"), task.get_variable("note")))
        return task.complete({"printer": "P-1"}, {"pages": task.get_variable("copies") * 5})

    config = {"auth_basic": CREDENTIALS, "maxTasks": 1, "lockDuration": 10_000, "asyncResponseTimeout": 1_000}
    worker = ExternalTaskWorker(worker_id="py-io", base_url=base_url, config=config)

    def step() -> None:
        with contextlib.suppress(NoExternalTaskFound):
            worker.fetch_and_execute("print", handle)

    until(lambda: open_activities(engine, instance.id) == ["After"], step)
    assert seen == [(4, "local note")]
    variables = engine.runtime.variables(instance.id)
    assert (variables["printed_pages"], variables["printer"]) == (20, "P-1")
    assert "pages" not in variables and "copies" not in variables
