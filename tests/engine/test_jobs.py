"""Jobs after the step: retries with backoff, incidents, and external tasks reported by their worker."""

from __future__ import annotations

import pytest

from engine import Engine, FakeClock, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from engine.jobs import JobLockedByOther
from tests.engine.test_service_tasks_inline import open_activities, service_process


def test_failed_job_is_retried_by_a_worker_until_it_succeeds(
    engine: Engine, handlers: HandlerRegistry, clock: FakeClock
) -> None:
    state = {"up": False}

    def reserve(ctx: HandlerContext) -> dict[str, str]:
        if not state["up"]:
            raise ConnectionError("ERP down")
        return {"reservation": "R-1"}

    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy([("svc.bpmn", service_process('camunda:class="erp.reserve"'))])
    instance = engine.runtime.start(key="p")
    [job] = engine.jobs.list()
    assert (job.retries, job.error_message) == (2, "ConnectionError: ERP down")
    assert engine.jobs.acquire("w1") == []  # not due yet: backoff
    clock.advance(seconds=11)
    [locked] = engine.jobs.acquire("w1")
    assert locked.locked_by == "w1"
    assert engine.jobs.acquire("w2") == []  # locked
    assert engine.jobs.run(locked.id, "w1") == "failed"
    [job] = engine.jobs.list()
    assert job.retries == 1 and job.locked_by is None
    clock.advance(seconds=21)  # the interval doubles
    state["up"] = True
    [locked] = engine.jobs.acquire("w1")
    assert engine.jobs.run(locked.id, "w1") == "completed"
    assert engine.jobs.list() == []
    assert open_activities(engine, instance.id) == ["After"]
    assert engine.runtime.variables(instance.id)["reservation"] == "R-1"


def test_no_retries_left_is_an_incident_until_retries_are_set(
    engine: Engine, handlers: HandlerRegistry, clock: FakeClock
) -> None:
    calls: list[int] = []

    def flaky(ctx: HandlerContext) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError(f"attempt {len(calls)} failed")

    handlers.register("flaky", flaky)
    extra = (
        "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R2/PT5S"
        "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
    )
    engine.deployments.deploy([("svc.bpmn", service_process('camunda:class="flaky"', extra))])
    instance = engine.runtime.start(key="p")
    clock.advance(seconds=6)
    [job] = engine.jobs.acquire("w")
    assert engine.jobs.run(job.id, "w") == "failed"
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.error_message == "RuntimeError: attempt 2 failed"
    clock.advance(seconds=60)
    assert engine.jobs.acquire("w") == []  # an incident is never picked up
    engine.jobs.set_retries(incident.id, 1)
    [job] = engine.jobs.acquire("w")
    assert engine.jobs.run(job.id, "w") == "completed"
    assert open_activities(engine, instance.id) == ["After"]


def test_async_before_leaves_the_handler_to_a_worker(engine: Engine, handlers: HandlerRegistry) -> None:
    handlers.register("slow", lambda ctx: {"done": True})
    engine.deployments.deploy(
        [("svc.bpmn", service_process('camunda:class="slow" camunda:asyncBefore="true"'))]
    )
    instance = engine.runtime.start(key="p")
    assert open_activities(engine, instance.id) == []
    [job] = engine.jobs.acquire("w")
    assert job.error_message is None
    assert engine.jobs.run(job.id, "w") == "completed"
    assert engine.runtime.variables(instance.id)["done"] is True


def test_external_task_fetch_complete_fail_and_error(engine: Engine) -> None:
    engine.deployments.deploy(
        [
            (
                "svc.bpmn",
                service_process('camunda:type="external" camunda:topic="print"', boundary='errorRef="E_OOS"'),
            )
        ]
    )
    first = engine.runtime.start(key="p", business_key="B-1")
    second = engine.runtime.start(key="p", business_key="B-2")
    fetched = engine.jobs.acquire(
        "worker-a", limit=5, kind=JobKind.EXTERNAL, topics=["print"], lock_seconds=60
    )
    assert {j.business_key for j in fetched} == {"B-1", "B-2"}
    by_key = {j.business_key: j for j in fetched}
    with pytest.raises(JobLockedByOther):
        engine.jobs.complete(by_key["B-1"].id, "worker-b", {"printed": True})
    engine.jobs.complete(by_key["B-1"].id, "worker-a", {"printed": True})
    assert open_activities(engine, first.id) == ["After"]
    assert engine.runtime.variables(first.id)["printed"] is True

    engine.jobs.fail(by_key["B-2"].id, "worker-a", "printer jammed", "stack...", retries=0)
    [incident] = engine.jobs.list(incidents_only=True)
    assert (incident.error_message, incident.error_details) == ("printer jammed", "stack...")
    engine.jobs.set_retries(incident.id, 1)
    [again] = engine.jobs.acquire("worker-a", kind=JobKind.EXTERNAL, topics=["print"])
    engine.jobs.bpmn_error(again.id, "worker-a", "OUT_OF_STOCK", "no paper", {"reason": "paper"})
    assert open_activities(engine, second.id) == ["Handle"]
    assert engine.runtime.variables(second.id)["reason"] == "paper"
    assert engine.jobs.list() == []
    assert sorted(t.activity_id for t in engine.tasks.list(TaskQuery())) == ["After", "Handle"]
