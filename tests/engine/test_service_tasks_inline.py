"""Handlers run inside the step; failures become jobs; BPMN errors are caught by boundaries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import Job, JobKind
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from tests.helpers import camunda_process

ERRORS = '<bpmn:error id="E_OOS" name="Out of stock" errorCode="OUT_OF_STOCK" />'


def service_process(binding: str, extra: str = "", boundary: str = "") -> bytes:
    """start -> service task `Svc` -> user task `After` -> end, with an optional error boundary."""
    boundary_xml = ""
    if boundary:
        boundary_xml = f"""
    <bpmn:boundaryEvent id="Caught" attachedToRef="Svc"><bpmn:outgoing>f9</bpmn:outgoing>
      <bpmn:errorEventDefinition {boundary} /></bpmn:boundaryEvent>
    <bpmn:userTask id="Handle" camunda:candidateGroups="sales"><bpmn:incoming>f9</bpmn:incoming>
      <bpmn:outgoing>f10</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end2"><bpmn:incoming>f10</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f9" sourceRef="Caught" targetRef="Handle" />
    <bpmn:sequenceFlow id="f10" sourceRef="Handle" targetRef="end2" />"""
    xml = camunda_process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc" {binding}>{extra}<bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:userTask id="After" camunda:candidateGroups="sales"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Svc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Svc" targetRef="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="end" />{boundary_xml}""")
    return xml.replace(b"</bpmn:definitions>", ERRORS.encode() + b"</bpmn:definitions>")


def open_activities(engine: Engine, instance_id: str) -> list[str]:
    return [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance_id))]


def test_delegate_expression_handler_runs_inline_with_mappings(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    seen: list[HandlerContext] = []

    def score(ctx: HandlerContext) -> dict[str, Any]:
        seen.append(ctx)
        return {"raw": ctx.inputs["base"] * 2, "ignored": 1}

    handlers.register("crm.score", score)
    extra = """<bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="base">${lead.size}</camunda:inputParameter>
        <camunda:inputParameter name="label">fixed text</camunda:inputParameter>
        <camunda:outputParameter name="score">${raw}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>"""
    engine.deployments.deploy(
        [("svc.bpmn", service_process('camunda:delegateExpression="${crm.score}"', extra))]
    )
    instance = engine.runtime.start(key="p", variables={"lead": {"size": 21}}, business_key="L-1")
    assert open_activities(engine, instance.id) == ["After"]
    variables = engine.runtime.variables(instance.id)
    assert variables["score"] == 42
    assert "ignored" not in variables and "raw" not in variables  # output mapping decides what is kept
    [ctx] = seen
    assert ctx.business_key == "L-1" and ctx.activity_id == "Svc"
    assert ctx.inputs["label"] == "fixed text"
    assert ctx.idempotency_key.startswith(instance.id + ":")
    with pytest.raises(TypeError):
        ctx.variables["lead"] = {}  # type: ignore[index]
    activities = [a.activity_id for a in engine.history.activities(instance_id=instance.id)]
    assert activities == ["start", "Svc", "After"]


def test_handler_writes_commit_with_the_step(engine: Engine, handlers: HandlerRegistry) -> None:
    with engine.database.write() as session:
        session.execute(text("CREATE TABLE effects (k VARCHAR(200) PRIMARY KEY)"))

    def effect(ctx: HandlerContext) -> None:
        ctx.session.execute(text("INSERT INTO effects (k) VALUES (:k)"), {"k": ctx.idempotency_key})

    handlers.register("effect", effect)
    engine.deployments.deploy([("svc.bpmn", service_process('camunda:class="effect"'))])
    engine.runtime.start(key="p")
    with engine.database.read() as session:
        assert session.scalar(text("SELECT count(*) FROM effects")) == 1


def test_failing_handler_keeps_the_start_and_leaves_a_job_with_retries(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    with engine.database.write() as session:
        session.execute(text("CREATE TABLE effects (k VARCHAR(200) PRIMARY KEY)"))

    def broken(ctx: HandlerContext) -> None:
        ctx.session.execute(text("INSERT INTO effects (k) VALUES ('half-done')"))
        raise ConnectionError("ERP did not answer")

    handlers.register("erp.reserve", broken)
    extra = (
        "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R5/PT1M"
        "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
    )
    engine.deployments.deploy(
        [("svc.bpmn", service_process('camunda:delegateExpression="${erp.reserve}"', extra))]
    )
    instance = engine.runtime.start(key="p")  # the start itself succeeds
    assert engine.runtime.get(instance.id).state == "ACTIVE"
    with engine.database.read() as session:
        [job] = session.scalars(select(Job)).all()
        assert (job.activity_id, job.retries, job.attempts) == ("Svc", 4, 1)
        assert job.error_message == "ConnectionError: ERP did not answer"
        assert job.error_details and "Traceback" in job.error_details
        assert (
            session.scalar(text("SELECT count(*) FROM effects")) == 0
        )  # the handler's write was rolled back
    assert open_activities(engine, instance.id) == []


def test_bpmn_error_is_caught_by_matching_boundary(engine: Engine, handlers: HandlerRegistry) -> None:
    def reserve(ctx: HandlerContext) -> None:
        raise BpmnError("OUT_OF_STOCK", "2 units missing", {"missing": 2})

    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy(
        [("svc.bpmn", service_process('camunda:class="erp.reserve"', boundary='errorRef="E_OOS"'))]
    )
    instance = engine.runtime.start(key="p")
    assert open_activities(engine, instance.id) == ["Handle"]
    assert engine.runtime.variables(instance.id)["missing"] == 2


def test_catch_all_boundary_and_uncaught_error(engine: Engine, handlers: HandlerRegistry) -> None:
    def reserve(ctx: HandlerContext) -> None:
        raise BpmnError("CREDIT_BLOCKED", "customer blocked")

    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy([("a.bpmn", service_process('camunda:class="erp.reserve"', boundary=" "))])
    caught = engine.runtime.start(key="p")
    assert open_activities(engine, caught.id) == ["Handle"]
    engine.deployments.deploy(
        [("b.bpmn", service_process('camunda:class="erp.reserve"', boundary='errorRef="E_OOS"'))]
    )
    uncaught = engine.runtime.start(key="p")
    with engine.database.read() as session:
        job = session.scalars(select(Job).where(Job.instance_id == uncaught.id)).one()
        assert job.retries == 0  # an incident at once: retrying cannot change a business outcome
        assert (
            job.error_message
            and "CREDIT_BLOCKED" in job.error_message
            and "no error boundary" in job.error_message
        )


def test_unknown_handler_is_a_deploy_error_with_a_suggestion(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("crm.qualify_lead", lambda ctx: None)
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy(
            [("svc.bpmn", service_process('camunda:delegateExpression="${crm.qualify_leed}"'))]
        )
    [problem] = err.value.problems
    assert problem.element_id == "Svc"
    assert "did you mean 'crm.qualify_lead'" in problem.message
    assert "crm.qualify_lead" in problem.message


def test_external_topic_waits_without_a_handler(engine: Engine) -> None:
    engine.deployments.deploy(
        [("svc.bpmn", service_process('camunda:type="external" camunda:topic="invoice.print"'))]
    )
    instance = engine.runtime.start(key="p")
    with engine.database.read() as session:
        job = session.scalars(select(Job)).one()
        assert (job.kind.value, job.topic, job.retries, job.instance_id) == (
            "external",
            "invoice.print",
            None,
            instance.id,
        )
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_history_shows_the_interrupted_task_and_only_the_boundary_that_fired(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    def reserve(ctx: HandlerContext) -> None:
        raise BpmnError("OUT_OF_STOCK", "none left")

    handlers.register("ok", lambda ctx: None)
    handlers.register("erp.reserve", reserve)
    engine.deployments.deploy(
        [("a.bpmn", service_process('camunda:class="erp.reserve"', boundary='errorRef="E_OOS"'))]
    )
    caught = engine.runtime.start(key="p")
    records = {a.activity_id: a for a in engine.history.activities(instance_id=caught.id)}
    assert records["Svc"].ended_at is not None and records["Svc"].canceled
    assert records["Caught"].ended_at is not None and not records["Caught"].canceled
    engine.deployments.deploy(
        [("b.bpmn", service_process('camunda:class="ok"', boundary='errorRef="E_OOS"'))]
    )
    plain = engine.runtime.start(key="p")
    assert [a.activity_id for a in engine.history.activities(instance_id=plain.id)] == [
        "start",
        "Svc",
        "After",
    ]


def _statements(engine: Engine) -> tuple[list[str], Any]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine.database.engine, "before_cursor_execute", record)
    return seen, record


def test_a_handler_opens_a_savepoint_only_when_it_uses_the_session(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    """Handlers that never touch the database cost no SAVEPOINT; the others keep their isolation."""
    handlers.register("calc.pure", lambda ctx: {"doubled": ctx.variables["n"] * 2})

    def writes(ctx: HandlerContext) -> dict[str, Any]:
        ctx.session.execute(text("SELECT 1"))
        return {"wrote": True}

    handlers.register("calc.db", writes)
    engine.deployments.deploy([("pure.bpmn", service_process('camunda:delegateExpression="${calc.pure}"'))])
    seen, record = _statements(engine)
    try:
        pure = engine.runtime.start(key="p", variables={"n": 4})
        pure_statements = list(seen)
        engine.deployments.deploy([("db.bpmn", service_process('camunda:delegateExpression="${calc.db}"'))])
        seen.clear()
        with_db = engine.runtime.start(key="p", variables={"n": 4})
    finally:
        event.remove(engine.database.engine, "before_cursor_execute", record)
    assert engine.runtime.variables(pure.id)["doubled"] == 8
    assert engine.runtime.variables(with_db.id)["wrote"] is True
    assert not [s for s in pure_statements if s.startswith("SAVEPOINT")]
    # The new instance is written once, by its INSERT: no UPDATE after it, no SELECT to re-read it.
    assert not [s for s in pure_statements if s.startswith("UPDATE")]
    assert not [s for s in pure_statements if s.startswith("SELECT") and "FROM process_instances" in s]
    verbs = [s.split()[0] for s in seen]
    assert "SAVEPOINT" in verbs and "RELEASE" in verbs


def test_a_failing_handler_that_used_the_session_loses_only_its_own_writes(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    def half_done(ctx: HandlerContext) -> None:
        ctx.session.execute(
            text("UPDATE process_instances SET business_key = 'changed' WHERE id = :id"),
            {"id": ctx.process_instance_id},
        )
        raise RuntimeError("the remote system went away")

    handlers.register("crm.half", half_done)
    engine.deployments.deploy([("half.bpmn", service_process('camunda:delegateExpression="${crm.half}"'))])
    instance = engine.runtime.start(key="p", business_key="kept")
    assert engine.runtime.get(instance.id).business_key == "kept"
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job.activity_id == "Svc" and "the remote system went away" in (job.error_message or "")


SUBPROCESS_OF_SERVICE_TASKS = """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:serviceTask id="Svc1" camunda:delegateExpression="${calc.step}"><bpmn:incoming>s1</bpmn:incoming>
        <bpmn:outgoing>s2</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:serviceTask id="Svc2" camunda:delegateExpression="${calc.step}"><bpmn:incoming>s2</bpmn:incoming>
        <bpmn:outgoing>s3</bpmn:outgoing></bpmn:serviceTask>
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s3</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="Svc1" />
      <bpmn:sequenceFlow id="s2" sourceRef="Svc1" targetRef="Svc2" />
      <bpmn:sequenceFlow id="s3" sourceRef="Svc2" targetRef="sub_end" />
    </bpmn:subProcess>
    <bpmn:userTask id="After" camunda:candidateGroups="sales"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Sub" />
    <bpmn:sequenceFlow id="f2" sourceRef="Sub" targetRef="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="end" />"""


def test_service_tasks_inside_a_subprocess_run_in_the_step_and_history_keeps_their_order(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("calc.step", lambda ctx: {"count": ctx.variables.get("count", 0) + 1})
    engine.deployments.deploy([("sub.bpmn", camunda_process(SUBPROCESS_OF_SERVICE_TASKS))])
    instance = engine.runtime.start(key="p")
    assert open_activities(engine, instance.id) == ["After"]
    assert engine.runtime.variables(instance.id)["count"] == 2
    history = engine.history.activities(instance_id=instance.id)
    expected = ["start", "Sub", "sub_start", "Svc1", "Svc2", "sub_end", "After"]
    assert [a.activity_id for a in history] == expected
    assert all(a.ended_at is not None for a in history if a.activity_id != "After")


def test_a_deployment_default_makes_bound_service_tasks_jobs_unless_a_task_says_otherwise(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("calc.pure", lambda ctx: {"doubled": ctx.variables["n"] * 2})
    plain = service_process('camunda:delegateExpression="${calc.pure}"')
    engine.deployments.deploy([("async.bpmn", plain)], async_before=True)

    waiting = engine.runtime.start(key="p", variables={"n": 4})
    assert open_activities(engine, waiting.id) == []
    [job] = engine.jobs.list(instance_id=waiting.id)
    assert (job.activity_id, job.attempts) == ("Svc", 0)
    acquired = engine.jobs.acquire("w", kind=JobKind.HANDLER)
    assert engine.jobs.run(acquired[0].id, "w") == "completed"
    assert open_activities(engine, waiting.id) == ["After"]
    assert engine.runtime.variables(waiting.id)["doubled"] == 8

    # The task's own camunda:asyncBefore="false" wins over the deployment's default.
    inline = service_process('camunda:delegateExpression="${calc.pure}" camunda:asyncBefore="false"')
    engine.deployments.deploy([("inline.bpmn", inline)], async_before=True)
    ran = engine.runtime.start(key="p", variables={"n": 5})
    assert open_activities(engine, ran.id) == ["After"] and not engine.jobs.list(instance_id=ran.id)


def test_the_same_file_with_another_async_default_is_a_new_version_under_duplicate_filtering(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("calc.pure", lambda ctx: {"doubled": 2})
    xml = service_process('camunda:delegateExpression="${calc.pure}"')
    first = engine.deployments.deploy([("p.bpmn", xml)], duplicate_filtering=True)
    again = engine.deployments.deploy([("p.bpmn", xml)], duplicate_filtering=True)
    other = engine.deployments.deploy([("p.bpmn", xml)], duplicate_filtering=True, async_before=True)
    assert [d.version for d in first.definitions] == [1]
    assert (again.definitions, [d.version for d in again.unchanged]) == ([], [1])
    assert [d.version for d in other.definitions] == [2]
    instance = engine.runtime.start(key="p")
    assert [j.activity_id for j in engine.jobs.list(instance_id=instance.id)] == ["Svc"]
