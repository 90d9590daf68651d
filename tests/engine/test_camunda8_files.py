"""Camunda 8 (zeebe) files: job types bound to handlers or external topics, ioMapping, assignment, FEEL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from tests.helpers import bpmn

SCORED: list[dict[str, Any]] = []


def _score(ctx: HandlerContext) -> dict[str, Any]:
    SCORED.append(dict(ctx.inputs))
    return {"score": ctx.inputs["weighted"] // 10}


@pytest.fixture
def routing(engine: Engine, handlers: HandlerRegistry) -> Engine:
    SCORED.clear()
    handlers.register("crm.score", _score)
    engine.deployments.deploy([bpmn("zeebe_order_routing.bpmn")])
    return engine


def _start(engine: Engine, amount: int, vip: bool = False) -> str:
    variables = {"order": {"amount": amount, "owner": "olga"}, "customer": {"name": "ACME", "vip": vip}}
    return engine.runtime.start(key="zeebe_order_routing", variables=variables).id


def test_a_good_lead_goes_to_review_with_feel_mappings_and_assignment(routing: Engine) -> None:
    instance_id = _start(routing, amount=450)
    assert SCORED == [{"weighted": 900, "customerName": "ACME", "channel": "web"}]
    variables = routing.runtime.variables(instance_id)
    assert variables["leadScore"] == 90 and variables["grade"] == "A"
    assert "score" not in variables  # with output mappings only the mapped values are kept
    [task] = routing.tasks.list(TaskQuery(instance_id=instance_id))
    assert task.activity_id == "Review" and task.assignee == "olga"
    assert sorted(task.candidate_groups) == ["finance", "sales"]
    assert task.priority == 90
    assert task.due_at == datetime(2026, 12, 24, 12, 0, tzinfo=UTC)


def test_a_weak_or_vip_lead_is_shipped_by_an_external_worker(routing: Engine) -> None:
    for instance_id in (_start(routing, amount=100), _start(routing, amount=900, vip=True)):
        [job] = routing.jobs.list(instance_id=instance_id)
        assert job.kind == JobKind.EXTERNAL.value and job.topic == "ship-order" and job.activity_id == "Ship"
        assert routing.tasks.list(TaskQuery(instance_id=instance_id)) == []


def test_a_registered_job_type_is_a_handler_with_the_file_s_retries(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    def failing(ctx: HandlerContext) -> None:
        raise RuntimeError("CRM is down")

    handlers.register("crm.score", failing)
    [definition] = engine.deployments.deploy([bpmn("zeebe_order_routing.bpmn")]).definitions
    assert definition.dialect == "camunda8"
    instance_id = _start(engine, amount=450)
    [job] = engine.jobs.list(instance_id=instance_id)
    assert job.kind == JobKind.HANDLER.value and job.topic == "crm.score"
    assert job.max_retries == 5 and job.retries == 4 and job.error_message == "RuntimeError: CRM is down"


def test_a_feel_condition_that_is_null_stops_the_instance(routing: Engine) -> None:
    instance_id = routing.runtime.start(key="zeebe_order_routing", variables={"order": {"amount": 450}}).id
    info = routing.runtime.get(instance_id)
    assert info.error_activity_id == "Route"
    assert info.error_message and "evaluated to null, not a boolean" in info.error_message


def _zeebe(condition: str, source: str = "=x", assignee: str = "=owner") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="http://x">
  <bpmn:process id="z" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Work"><bpmn:extensionElements><zeebe:taskDefinition type="work" />
      <zeebe:ioMapping><zeebe:input source="{source}" target="y" /></zeebe:ioMapping>
      </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:exclusiveGateway id="Gw"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Ask"><bpmn:extensionElements>
      <zeebe:assignmentDefinition assignee="{assignee}" /></bpmn:extensionElements>
      <bpmn:incoming>yes</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Work" />
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="Gw" />
    <bpmn:sequenceFlow id="yes" sourceRef="Gw" targetRef="Ask">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="Gw" targetRef="e">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=not(ok)</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="Ask" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("=ok &amp;&amp; x", "FEEL writes and, or and not(x)"),
        ("=ok == true", "FEEL compares with a single ="),
        ("=string length(name) &gt; 3", "names with spaces (and FEEL functions such as string length())"),
        ("=count(items) &gt; 3", "the FEEL function `count()` is not supported"),
        ("=items[item &gt; 3]", "filters are not"),
        ("=x.__class__", "names starting with '_' are private"),
        ("=", "the expression after = is empty"),
        ("='a'", "FEEL strings are written in double quotes"),
    ],
)
def test_unsupported_feel_in_a_condition_is_a_deploy_problem(
    engine: Engine, condition: str, expected: str
) -> None:
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("z.bpmn", _zeebe(condition))])
    [problem] = err.value.problems
    assert problem.element_id == "yes" and problem.line == 19 and expected in problem.message
    assert problem.message.startswith("expression `=")


def test_unsupported_feel_in_mappings_and_assignment_is_reported_with_the_element(engine: Engine) -> None:
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy(
            [("z.bpmn", _zeebe("=ok", source="=upper case(x)", assignee="=a &lt;&gt; b"))]
        )
    found = sorted((p.element_id, p.line, p.message) for p in err.value.problems)
    assert [(element, line) for element, line, _ in found] == [("Ask", 13), ("Work", 8)]
    assert "zeebe:assignmentDefinition assignee: expression `=a <> b`" in found[0][2]
    assert "zeebe:input `y`: expression `=upper case(x)`" in found[1][2]


def test_a_job_type_is_required(engine: Engine) -> None:
    xml = _zeebe("=ok").replace(b'<zeebe:taskDefinition type="work" />', b"")
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("z.bpmn", xml)])
    [problem] = err.value.problems
    assert problem.element_id == "Work" and 'add zeebe:taskDefinition type="..."' in problem.message


def test_zeebe_call_activities_map_variables_in_and_out_as_camunda_8_does(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("zeebe_call_activity.bpmn")])
    variables = {"order": {"amount": 20}, "auditProcess": "zeebe_audit"}
    parent = engine.runtime.start(key="zeebe_order", variables=variables)

    def step(activity: str, values: dict[str, Any]) -> dict[str, Any]:
        [child] = engine.runtime.list(super_instance_id=parent.id)
        seen = engine.runtime.variables(child.id)
        [task] = engine.tasks.list(TaskQuery(instance_id=child.id))
        assert task.activity_id == activity
        engine.tasks.complete(task.id, values)
        while jobs := engine.jobs.acquire("w", kind=JobKind.HANDLER):
            assert engine.jobs.run(jobs[0].id, "w") == "completed"
        return seen

    # Every parent variable goes in, with the input mappings; only the output mapping comes back.
    assert step("SetPrice", {"price": 41, "scratch": 1}) == {**variables, "doubled": 40}
    assert engine.runtime.variables(parent.id) == {**variables, "finalPrice": 42}
    # propagateAllChildVariables="false" and no output mapping: nothing comes back.
    step("Check", {"audited": True})
    assert engine.runtime.variables(parent.id) == {**variables, "finalPrice": 42}
    assert [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=parent.id))] == ["Confirm"]
