"""Service task bindings in the spiffworkflow dialect, and Camunda send / class bindings."""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.handlers import HandlerContext, HandlerRegistry
from tests.helpers import bpmn, camunda_process


def test_spiff_service_task_operator_gets_its_evaluated_parameters(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    received: dict[str, Any] = {}

    def quote(ctx: HandlerContext) -> dict[str, Any]:
        received.update(ctx.inputs)
        return {"price": 12 * ctx.inputs["quantity"]}

    handlers.register("erp.quote", quote)
    engine.deployments.deploy([bpmn("spiff_service.bpmn")])
    instance = engine.runtime.start(key="spiff_service", variables={"order": {"sku": "A-1", "quantity": 3}})
    assert received == {"sku": "A-1", "quantity": 6}
    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert task.activity_id == "Review" and task.candidate_groups == ("sales",)
    assert engine.runtime.variables(instance.id)["price"] == 72


def test_camunda_send_task_with_class_binding_and_list_map_inputs(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    sent: list[dict[str, Any]] = []

    def notify(ctx: HandlerContext) -> None:
        sent.append(dict(ctx.inputs))

    handlers.register("mail.Notify", notify)
    xml = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sendTask id="Send" camunda:class="mail.Notify">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="to"><camunda:list><camunda:value>${email}</camunda:value>
          <camunda:value>sales@example.com</camunda:value></camunda:list></camunda:inputParameter>
        <camunda:inputParameter name="headers"><camunda:map>
          <camunda:entry key="subject">Order ${order}</camunda:entry>
          <camunda:entry key="ref">${order}</camunda:entry></camunda:map></camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:sendTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Send" />
    <bpmn:sequenceFlow id="f2" sourceRef="Send" targetRef="end" />""")
    engine.deployments.deploy([("send.bpmn", xml)])
    instance = engine.runtime.start(key="p", variables={"email": "kim@example.com", "order": 42})
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    # A whole ${name} keeps its type; inside text it is replaced by its text.
    assert sent == [
        {"to": ["kim@example.com", "sales@example.com"], "headers": {"subject": "Order 42", "ref": 42}}
    ]


def _input_process(expression: str) -> bytes:
    return camunda_process(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc" camunda:class="h">
      <bpmn:extensionElements><camunda:inputOutput>
        <camunda:inputParameter name="total">{expression}</camunda:inputParameter>
      </camunda:inputOutput></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Svc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Svc" targetRef="end" />""")


def test_el_in_an_input_parameter_is_evaluated(engine: Engine, handlers: HandlerRegistry) -> None:
    received: list[Any] = []
    handlers.register("h", lambda ctx: received.append(ctx.inputs["total"]))
    engine.deployments.deploy([("el.bpmn", _input_process("${price * quantity}"))])
    instance = engine.runtime.start(key="p", variables={"price": 12, "quantity": 3})
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    assert received == [36]


def test_unsupported_el_in_an_input_parameter_is_refused_at_deploy(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("h", lambda ctx: None)
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("el.bpmn", _input_process("${order.getClass()}"))])
    [problem] = err.value.problems
    assert problem.element_id == "Svc" and "${order.getClass()}" in problem.message
    assert problem.line == 11 and "getClass()" in problem.message and "size()" in problem.message
