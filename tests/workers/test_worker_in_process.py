"""The in-process worker: runs due jobs, records failures until they are incidents, waits without polling."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from engine import Engine, FakeClock
from engine.handlers import HandlerContext, HandlerRegistry
from engine.jobs import JobInfo
from engine.worker import Worker
from tests.engine.test_service_tasks_inline import open_activities, service_process
from tests.workers.processes import wait_until

ASYNC = 'camunda:class="erp.reserve" camunda:asyncBefore="true"'
TWO_TRIES = (
    "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R2/PT5S"
    "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
)


def reserve(ctx: HandlerContext) -> dict[str, Any]:
    if ctx.variables.get("fail"):
        raise ConnectionError("ERP down")
    return {"reserved": ctx.business_key}


@contextmanager
def running(worker: Worker) -> Iterator[threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the worker did not stop"


def test_run_once_runs_due_jobs_and_a_failing_one_ends_as_an_incident(
    engine: Engine, handlers: HandlerRegistry, clock: FakeClock
) -> None:
    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy([("svc.bpmn", service_process(ASYNC, TWO_TRIES))])
    good = [engine.runtime.start(key="p", business_key=f"O-{n}") for n in range(3)]
    bad = engine.runtime.start(key="p", business_key="O-bad", variables={"fail": True})
    worker = Worker(engine, "w1", concurrency=2)

    assert [worker.run_once(), worker.run_once(), worker.run_once()] == [2, 2, 0]
    assert worker.counts() == {"completed": 3, "failed": 1}
    for instance in good:
        assert open_activities(engine, instance.id) == ["After"]
        assert engine.runtime.variables(instance.id)["reserved"] == instance.business_key
    [job] = engine.jobs.list()
    assert (job.instance_id, job.retries, job.locked_by) == (bad.id, 1, None)

    clock.advance(seconds=6)  # the retry cycle's 5 s
    assert worker.run_once() == 1
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.error_message == "ConnectionError: ERP down"
    assert open_activities(engine, bad.id) == []
    clock.advance(seconds=3600)
    assert worker.run_once() == 0  # an incident waits for a person to set retries


def test_run_forever_is_woken_by_new_jobs_and_does_not_poll_while_idle(
    engine: Engine, handlers: HandlerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy([("svc.bpmn", service_process(ASYNC))])
    looks: list[int] = []
    acquire = engine.jobs.acquire

    def counting_acquire(*args: Any, **kwargs: Any) -> list[JobInfo]:
        looks.append(1)
        return acquire(*args, **kwargs)

    monkeypatch.setattr(engine.jobs, "acquire", counting_acquire)
    worker = Worker(engine, "w1", concurrency=2, poll_interval=60)  # a poll would come far too late

    with running(worker):
        wait_until(lambda: len(looks) >= 2, timeout=10)  # both slots looked and found nothing
        instances = [engine.runtime.start(key="p", business_key=f"O-{n}") for n in range(3)]
        wait_until(lambda: worker.counts()["completed"] == 3, timeout=10)
        time.sleep(0.2)  # the last completion wakes the idle slot once more
        settled = len(looks)
        time.sleep(0.5)
        assert len(looks) == settled  # idle slots wait; they do not look again and again
    assert worker.wake not in engine.database.job_listeners
    for instance in instances:
        assert open_activities(engine, instance.id) == ["After"]


def test_a_job_that_breaks_the_run_is_recorded_on_the_job_and_the_worker_goes_on(
    engine: Engine,
    handlers: HandlerRegistry,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy([("svc.bpmn", service_process(ASYNC))])
    broken = engine.runtime.start(key="p", business_key="broken")
    fine = [engine.runtime.start(key="p", business_key=f"O-{n}") for n in range(2)]
    run = engine.jobs.run

    def run_or_break(job_id: str, worker_id: str) -> str:
        if engine.jobs.get(job_id).instance_id == broken.id:
            raise RuntimeError("lost the connection")
        return run(job_id, worker_id)

    monkeypatch.setattr(engine.jobs, "run", run_or_break)
    caplog.set_level(logging.ERROR, logger="flowdesk.worker")
    worker = Worker(engine, "w1", poll_interval=60)

    with running(worker):
        wait_until(lambda: sum(worker.counts().values()) == 3, timeout=10)
    assert worker.counts() == {"completed": 2, "crashed": 1}
    for instance in fine:
        assert open_activities(engine, instance.id) == ["After"]
    [job] = engine.jobs.list()
    assert job.instance_id == broken.id
    assert job.error_message == "the worker could not run the job: RuntimeError: lost the connection"
    assert job.error_details is not None and "run_or_break" in job.error_details
    assert (job.retries, job.locked_by) == (2, None)  # one of its three tries used up
    assert job.due_at == clock() + timedelta(seconds=10)
    assert "raised" in caplog.text and job.id in caplog.text


def test_settings_that_cannot_work_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Worker(engine, concurrency=0)
    with pytest.raises(ValueError, match="lock_seconds"):
        Worker(engine, lock_seconds=0)
    worker = Worker(engine)
    host, pid, _ = worker.worker_id.split(":")
    assert host and int(pid) > 0
