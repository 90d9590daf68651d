"""A handler's BPMN error in one item of a multi-instance service task reaches the boundary on the
whole activity, and the other items stop (Camunda 7: the boundary belongs to the multi-instance body)."""

from __future__ import annotations

from engine import Engine, TaskQuery
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from tests.helpers import camunda_process

PROCESS = camunda_process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Reserve" camunda:delegateExpression="${reserve}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics isSequential="SEQUENTIAL"
          camunda:collection="${lines}" camunda:elementVariable="line" />
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="NoStock" attachedToRef="Reserve">
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:errorEventDefinition errorRef="Err_stock" />
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Backorder" camunda:candidateGroups="sales">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="backordered"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Reserve" />
    <bpmn:sequenceFlow id="f2" sourceRef="Reserve" targetRef="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="NoStock" targetRef="Backorder" />
    <bpmn:sequenceFlow id="f4" sourceRef="Backorder" targetRef="backordered" />
    """,
    process_id="reserve_lines",
).replace(b"<bpmn:process", b'<bpmn:error id="Err_stock" errorCode="OUT_OF_STOCK" />\n  <bpmn:process', 1)


def test_a_bpmn_error_of_one_item_reaches_the_boundary_on_the_multi_instance(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    reserved: list[str] = []

    def reserve(ctx: HandlerContext) -> None:
        sku = ctx.variables["line"]
        if sku == "B":
            raise BpmnError("OUT_OF_STOCK", f"no stock of {sku}")
        reserved.append(sku)

    handlers.register("reserve", reserve)
    for sequential in ("true", "false"):
        reserved.clear()
        xml = PROCESS.replace(b'isSequential="SEQUENTIAL"', f'isSequential="{sequential}"'.encode())
        key = f"reserve_lines_{sequential}"
        engine.deployments.deploy(
            [(f"{key}.bpmn", xml.replace(b'id="reserve_lines"', f'id="{key}"'.encode()))]
        )
        instance = engine.runtime.start(key=key, variables={"lines": ["A", "B", "C"]})

        assert instance.error_message is None
        assert [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance.id))] == ["Backorder"]
        if sequential == "true":
            assert reserved == ["A"]  # the item after the failing one never ran
        rows = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "Reserve"]
        assert rows and all(r.ended_at is not None for r in rows)
