"""Camunda 7 EL in real BPMN files: conditions, mappings, assignment, camunda:expression, refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import Actor, DeploymentError, Engine, TaskQuery
from engine.handlers import HandlerContext, HandlerRegistry
from tests.helpers import bpmn, camunda_process

BOOKED: list[dict[str, Any]] = []


def _book(ctx: HandlerContext) -> dict[str, Any]:
    BOOKED.append(dict(ctx.inputs))
    return {"result": {"id": f"B-{ctx.inputs['sku']}", "lines": ctx.inputs["lines"]}}


@pytest.fixture
def routing(engine: Engine, handlers: HandlerRegistry) -> Engine:
    BOOKED.clear()
    handlers.register("erp.Book", _book)
    engine.deployments.deploy([bpmn("el_order_routing.bpmn")])
    return engine


def _start(engine: Engine, quantity: int, unit_price: int, vip: bool = False, **order: Any) -> str:
    variables = {
        "order": {
            "id": 7,
            "sku": "A-1",
            "quantity": quantity,
            "unitPrice": unit_price,
            "owner": "olga",
            **order,
        },
        "customer": {"name": "ACME", "vip": vip},
        "region": "emea",
    }
    return engine.runtime.start(key="el_order_routing", variables=variables).id


def test_small_order_takes_the_default_flow_and_mappings_are_evaluated(routing: Engine) -> None:
    instance_id = _start(routing, quantity=3, unit_price=100)
    assert routing.runtime.get(instance_id).state == "COMPLETED"
    assert BOOKED == [
        {
            "sku": "A-1",
            "reference": "Order 7 for ACME",
            "lines": [3, 6],
            "flags": {"rush": False, "bulk": "no notes"},
        }
    ]
    variables = routing.runtime.variables(instance_id)
    assert variables["total"] == 300  # camunda:expression into camunda:resultVariable
    assert variables["booking"] == "B-A-1" and variables["bookedLines"] == 2


def test_big_order_is_routed_to_approval_with_assignment_from_el(routing: Engine) -> None:
    deadline = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    instance_id = routing.runtime.start(
        key="el_order_routing",
        variables={
            "order": {"id": 8, "sku": "B-2", "quantity": 60, "unitPrice": 100, "owner": "olga"},
            "customer": {"name": "Globex", "vip": False},
            "region": "emea",
            "deadline": deadline,
        },
    ).id
    [task] = routing.tasks.list(TaskQuery(instance_id=instance_id))
    assert task.activity_id == "Approve"
    assert task.assignee == "olga"
    assert sorted(task.candidate_groups) == ["board", "emea", "finance"]
    assert task.priority == 90
    assert task.due_at == deadline
    routing.tasks.complete(task.id, {}, actor=Actor("olga"))
    assert routing.runtime.get(instance_id).state == "COMPLETED"
    assert BOOKED[0]["flags"] == {"rush": True, "bulk": "no notes"}


def test_medium_big_order_gets_one_group_and_a_missing_deadline_is_no_due_date(routing: Engine) -> None:
    instance_id = _start(routing, quantity=20, unit_price=100)
    [task] = routing.tasks.list(TaskQuery(instance_id=instance_id))
    assert sorted(task.candidate_groups) == ["emea", "finance"]
    assert task.priority == 60 and task.due_at is None


def test_vip_and_notes_conditions(routing: Engine) -> None:
    vip = _start(routing, quantity=60, unit_price=100, vip=True)
    assert routing.runtime.get(vip).state == "COMPLETED"  # big but VIP: default flow
    noted = _start(routing, quantity=1, unit_price=10, notes="call first")
    [task] = routing.tasks.list(TaskQuery(instance_id=noted))
    assert task.activity_id == "ReadNotes"


def test_an_unknown_variable_in_a_condition_stops_the_instance_at_the_gateway(routing: Engine) -> None:
    instance_id = routing.runtime.start(
        key="el_order_routing",
        variables={"order": {"id": 1, "sku": "X", "quantity": 20, "unitPrice": 100}, "region": "emea"},
    ).id
    info = routing.runtime.get(instance_id)
    assert info.state == "ACTIVE" and info.error_activity_id == "Route"
    assert info.error_message and "cannot resolve identifier 'customer'" in info.error_message
    assert "${total > 1000 && !customer.vip}" in info.error_message


def _gateway(condition: str, other: str = "${not ok}") -> bytes:
    return camunda_process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="Gw"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>yes</bpmn:outgoing><bpmn:outgoing>no</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Yes" camunda:candidateGroups="sales"><bpmn:incoming>yes</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming><bpmn:incoming>no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Gw" />
    <bpmn:sequenceFlow id="yes" sourceRef="Gw" targetRef="Yes">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="no" sourceRef="Gw" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{other}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f2" sourceRef="Yes" targetRef="end" />""")


def test_a_condition_that_is_not_a_boolean_is_an_error_not_truthiness(engine: Engine) -> None:
    engine.deployments.deploy([("gw.bpmn", _gateway("${ok}", "${ok == 'no'}"))])
    info = engine.runtime.get(engine.runtime.start(key="p", variables={"ok": "false"}).id)
    assert info.error_activity_id == "Gw"
    assert info.error_message and "returned String 'false', not a Boolean" in info.error_message
    done = engine.runtime.start(key="p", variables={"ok": True})
    [task] = engine.tasks.list(TaskQuery(instance_id=done.id))
    assert task.activity_id == "Yes"


def test_python_conditions_keep_working_next_to_el(engine: Engine) -> None:
    engine.deployments.deploy([("gw.bpmn", _gateway("ok == True", "${not ok}"))])
    instance = engine.runtime.start(key="p", variables={"ok": True})
    assert [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance.id))] == ["Yes"]
    other = engine.runtime.start(key="p", variables={"ok": False})
    assert engine.runtime.get(other.id).state == "COMPLETED"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("${''.__class__}", "property `__class__` is not allowed: names starting with '_' are private"),
        ("${x.getClass()}", "the method call `getClass()` is not supported"),
        ("${x.getClass().forName('os')}", "is not supported"),
        ("${99999999999999999999 * 99999999999999999999}", "larger than a Long (64 bits)"),
        ("${1e999999 > 1}", "out of range for a Double"),
        ("${" + " * ".join(["9"] * 80) + "}", "nested more than 40 levels deep"),
        ("${amount &gt;}", "the expression ends too early"),
        ("${amount = 1}", "compare with == or eq"),
        ("approved is ${approved}", "a condition must be one expression"),
    ],
)
def test_hostile_or_malformed_el_is_a_deploy_problem(engine: Engine, condition: str, expected: str) -> None:
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("bad.bpmn", _gateway(condition))])
    [problem] = err.value.problems
    assert problem.file == "bad.bpmn" and problem.element_id == "yes" and problem.line == 16
    assert expected in problem.message and problem.message.startswith("expression `")


def test_every_bad_expression_of_a_file_is_reported_at_once(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("h", lambda ctx: None)
    xml = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Ask" camunda:assignee="${owner.trim()}" camunda:priority="${1 +}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:serviceTask id="Calc" camunda:expression="${fn:max(1, 2)}" camunda:resultVariable="x y">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:serviceTask id="Svc" camunda:class="h" camunda:resultVariable="r">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="Ask" targetRef="Calc" />
    <bpmn:sequenceFlow id="f3" sourceRef="Calc" targetRef="Svc" />
    <bpmn:sequenceFlow id="f4" sourceRef="Svc" targetRef="end" />""")
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("many.bpmn", xml)])
    found = [(p.element_id, p.message) for p in err.value.problems]
    assert len(found) == 5, found
    assert found[0][0] == "Ask" and "camunda:assignee: expression `${owner.trim()}`" in found[0][1]
    assert found[1][0] == "Ask" and "camunda:priority: expression `${1 +}`" in found[1][1]
    assert found[2][0] == "Calc" and "the function `fn:max()` is not available" in found[2][1]
    assert (
        found[3][0] == "Calc" and "camunda:resultVariable `x y` is not a valid variable name" in found[3][1]
    )
    assert found[4][0] == "Svc" and "only applies to camunda:expression" in found[4][1]
    assert all(p.line is not None for p in err.value.problems)


def test_a_failing_input_expression_becomes_a_job_failure(engine: Engine, handlers: HandlerRegistry) -> None:
    handlers.register("h", lambda ctx: None)
    xml = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc" camunda:class="h">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="share">${total / parts}</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Svc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Svc" targetRef="end" />""")
    engine.deployments.deploy([("div.bpmn", xml)])
    instance = engine.runtime.start(key="p", variables={"total": 10, "parts": 0})
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job.error_message and "input mapping failed" in job.error_message
    assert "`${total / parts}`: division by zero" in job.error_message


def test_an_async_camunda_expression_runs_in_a_worker(engine: Engine) -> None:
    xml = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Calc" camunda:asyncBefore="true"
        camunda:expression="${empty discount ? price : price - discount}" camunda:resultVariable="net">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:userTask id="After" camunda:candidateGroups="sales"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Calc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Calc" targetRef="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="end" />""")
    engine.deployments.deploy([("calc.bpmn", xml)])
    instance = engine.runtime.start(key="p", variables={"price": 100, "discount": None})
    assert "net" not in engine.runtime.variables(instance.id)  # asyncBefore: waits for a worker
    [job] = engine.jobs.acquire("w")
    engine.jobs.run(job.id, "w")
    assert engine.runtime.variables(instance.id)["net"] == 100
    assert [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance.id))] == ["After"]


def _each(collection: str) -> bytes:
    return camunda_process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Each" camunda:candidateGroups="sales" camunda:assignee="${{item.owner}}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="{collection}"
          camunda:elementVariable="item" />
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Each" />
    <bpmn:sequenceFlow id="f2" sourceRef="Each" targetRef="end" />""")


def test_a_multi_instance_collection_written_as_el_names_its_variable(engine: Engine) -> None:
    engine.deployments.deploy([("each.bpmn", _each("${reviews}"))])
    reviews = [{"owner": "kim"}, {"owner": "lee"}]
    instance = engine.runtime.start(key="p", variables={"reviews": reviews})
    tasks = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert sorted(t.assignee or "" for t in tasks) == ["kim", "lee"]


def test_a_computed_multi_instance_collection_is_a_deploy_problem(engine: Engine) -> None:
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("each.bpmn", _each("${order.lines}"))])
    [problem] = err.value.problems
    assert problem.element_id == "Each" and problem.line == 12
    assert "camunda:collection `${order.lines}` must name a variable" in problem.message


def test_a_job_priority_expression_is_refused_with_a_reason(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("h", lambda ctx: None)
    xml = _input_free_service('camunda:taskPriority="${urgency}"')
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("prio.bpmn", xml)])
    [problem] = err.value.problems
    assert problem.element_id == "Svc" and "job priorities cannot be expressions yet" in problem.message


def _input_free_service(attributes: str) -> bytes:
    return camunda_process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc" camunda:class="h" {attributes}>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Svc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Svc" targetRef="end" />""")
