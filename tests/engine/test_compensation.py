"""Compensation run by Flowdesk: failing handlers, and scopes of embedded subprocesses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from engine.worker import Worker
from tests.engine.test_messages import definitions, flow
from tests.engine.test_timers import open_tasks, user_task


def compensable(task_id: str, incoming: str, outgoing: str, handler: str, *, user: bool = False) -> str:
    """A service task with a compensation boundary event whose handler is the service task ``handler``
    (with ``user``, the user task ``handler`` of group ops)."""
    if user:
        handler_element = (
            f'<bpmn:userTask id="{handler}" isForCompensation="true" camunda:candidateGroups="ops" />'
        )
    else:
        handler_element = (
            f'<bpmn:serviceTask id="{handler}" isForCompensation="true" '
            f'camunda:delegateExpression="${{undo.{task_id}}}" />'
        )
    return f"""
    <bpmn:serviceTask id="{task_id}" camunda:delegateExpression="${{do.{task_id}}}">
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:boundaryEvent id="{task_id}_undo" attachedToRef="{task_id}"><bpmn:compensateEventDefinition />
      </bpmn:boundaryEvent>
    {handler_element}"""


def link(task_id: str, handler: str) -> str:
    """The association of ``task_id``'s compensation boundary event to its handler (artifacts go last)."""
    return f'<bpmn:association id="{task_id}_a" sourceRef="{task_id}_undo" targetRef="{handler}" />'


def a_b_undo(b: str) -> str:
    """start -> A (compensated by UndoA) -> ``b`` (B, by UndoB) -> throw `undo` -> After -> end."""
    return f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {compensable("A", "f1", "f2", "UndoA")}{b}
    <bpmn:intermediateThrowEvent id="undo"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>
    {user_task("After", "f4", "f5")}
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "A")}{flow("f2", "A", "B")}{flow("f3", "B", "undo")}{flow("f4", "undo", "After")}
    {flow("f5", "After", "end")}{link("A", "UndoA")}{link("B", "UndoB")}"""


def register(handlers: HandlerRegistry, log: list[str], *names: str, failing: set[str] | None = None) -> None:
    def make(name: str) -> Any:
        def run(ctx: HandlerContext) -> dict[str, Any]:
            if name in (failing or set()):
                raise RuntimeError(f"{name} is down")
            log.append(name)
            return {}

        return run

    for name in names:
        handlers.register(name, make(name))


def test_a_failing_handler_rolls_all_compensation_back_and_is_retried_as_a_job(
    engine: Engine, handlers: HandlerRegistry, clock: Any
) -> None:
    log: list[str] = []
    failing = {"undo.A"}  # B's handler runs first (most recent first) and succeeds
    register(handlers, log, "do.A", "do.B", "undo.A", "undo.B", failing=failing)
    engine.deployments.deploy(
        [("c.bpmn", definitions(a_b_undo(compensable("B", "f2", "f3", "UndoB")), "comp"))]
    )
    instance = engine.runtime.start(key="comp")
    assert engine.runtime.open_activities(instance.id) == ["undo"]  # waits while compensation fails
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job.activity_id == "undo" and "'UndoA' failed" in (job.error_message or "")
    assert "undo.A is down" in (job.error_message or "") and job.retries == 2
    operations = engine.history.operations(instance_id=instance.id)
    compensated = [op for op in operations if op.operation == "Compensate"]
    assert compensated == []  # A's failure rolled B's compensation back with it: all or nothing
    assert log == ["do.A", "do.B", "undo.B"]
    failing.clear()
    clock.advance(minutes=5)
    while Worker(engine, "w").run_once():
        pass
    assert open_tasks(engine, instance.id) == ["After"]
    # The retry compensates B again (its idempotency key is stable across retries), then A.
    assert log == ["do.A", "do.B", "undo.B", "undo.B", "undo.A"]
    done = [op.detail["activityId"] for op in engine.history.operations(instance_id=instance.id)
            if op.operation == "Compensate"]  # fmt: skip
    assert done == ["B", "A"]
    runs = [a.activity_id for a in engine.history.activities(instance_id=instance.id, finished=True)]
    assert runs.count("UndoA") == 1 and runs.count("UndoB") == 1  # the rolled-back run left no row


def test_a_throw_in_a_subprocess_compensates_its_scope_and_the_process_throw_reaches_inside(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    log: list[str] = []
    register(handlers, log, "do.A", "do.B", "undo.A", "undo.B")
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {compensable("A", "f1", "f2", "UndoA")}
    <bpmn:subProcess id="Sub"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      {compensable("B", "s1", "s2", "UndoB")}
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      {flow("s1", "sub_start", "B")}{flow("s2", "B", "sub_end")}{link("B", "UndoB")}
    </bpmn:subProcess>
    {user_task("Decide", "f3", "f4")}
    <bpmn:endEvent id="undo_all"><bpmn:incoming>f4</bpmn:incoming><bpmn:compensateEventDefinition />
      </bpmn:endEvent>
    {flow("f1", "start", "A")}{flow("f2", "A", "Sub")}{flow("f3", "Sub", "Decide")}
    {flow("f4", "Decide", "undo_all")}
    {link("A", "UndoA")}"""
    engine.deployments.deploy([("c.bpmn", definitions(body, "scoped"))])
    instance = engine.runtime.start(key="scoped")
    assert open_tasks(engine, instance.id) == ["Decide"]
    [decide] = engine.tasks.list()
    engine.tasks.complete(decide.id, {})
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    # The subprocess has no handler of its own, so the process-level throw compensates inside it.
    assert log == ["do.A", "do.B", "undo.B", "undo.A"]


def test_a_throw_inside_a_subprocess_compensates_only_its_own_scope(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    log: list[str] = []
    register(handlers, log, "do.A", "do.B", "undo.A", "undo.B")
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {compensable("A", "f1", "f2", "UndoA")}
    <bpmn:subProcess id="Sub"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      {compensable("B", "s1", "s2", "UndoB")}
      <bpmn:intermediateThrowEvent id="undo_sub"><bpmn:incoming>s2</bpmn:incoming>
        <bpmn:outgoing>s3</bpmn:outgoing><bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s3</bpmn:incoming></bpmn:endEvent>
      {flow("s1", "sub_start", "B")}{flow("s2", "B", "undo_sub")}{flow("s3", "undo_sub", "sub_end")}
      {link("B", "UndoB")}
    </bpmn:subProcess>
    {user_task("Decide", "f3", "f4")}
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "A")}{flow("f2", "A", "Sub")}{flow("f3", "Sub", "Decide")}
    {flow("f4", "Decide", "end")}{link("A", "UndoA")}"""
    engine.deployments.deploy([("c.bpmn", definitions(body, "inner"))])
    instance = engine.runtime.start(key="inner")
    assert open_tasks(engine, instance.id) == ["Decide"]
    assert log == ["do.A", "do.B", "undo.B"]  # A is outside the subprocess: not compensated


def compensated(engine: Engine, instance_id: str) -> list[str]:
    operations = engine.history.operations(instance_id=instance_id)
    return [op.detail["activityId"] for op in operations if op.operation == "Compensate"]


def test_a_user_task_handler_in_a_subprocess_is_waited_for_by_the_throw_of_its_scope(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    log: list[str] = []
    register(handlers, log, "do.A", "do.B", "undo.A")
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      {compensable("A", "s1", "s2", "UndoA")}{compensable("B", "s2", "s3", "UndoB", user=True)}
      <bpmn:endEvent id="undo_sub"><bpmn:incoming>s3</bpmn:incoming><bpmn:compensateEventDefinition />
        </bpmn:endEvent>
      {flow("s1", "sub_start", "A")}{flow("s2", "A", "B")}{flow("s3", "B", "undo_sub")}
      {link("A", "UndoA")}{link("B", "UndoB")}
    </bpmn:subProcess>
    {user_task("Decide", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Sub")}{flow("f2", "Sub", "Decide")}{flow("f3", "Decide", "end")}"""
    engine.deployments.deploy([("c.bpmn", definitions(body, "sub_user"))])
    instance = engine.runtime.start(key="sub_user")
    # The compensation end event waits for B's handler, a user task; A's comes after it.
    assert open_tasks(engine, instance.id) == ["UndoB"] and log == ["do.A", "do.B"]
    [undo_b] = engine.tasks.list()
    engine.tasks.complete(undo_b.id, {"returned": True})
    assert open_tasks(engine, instance.id) == ["Decide"]
    assert log == ["do.A", "do.B", "undo.A"] and compensated(engine, instance.id) == ["B", "A"]
    assert engine.runtime.variables(instance.id)["returned"] is True


def test_a_failing_handler_after_a_user_task_handler_is_retried_without_the_task_again(
    engine: Engine, handlers: HandlerRegistry, clock: Any
) -> None:
    log: list[str] = []
    failing = {"undo.A"}
    register(handlers, log, "do.A", "do.B", "undo.A", failing=failing)
    engine.deployments.deploy(
        [("c.bpmn", definitions(a_b_undo(compensable("B", "f2", "f3", "UndoB", user=True)), "mixed"))]
    )
    instance = engine.runtime.start(key="mixed")
    [undo_b] = engine.tasks.list()
    engine.tasks.complete(undo_b.id, {})
    # A's handler failed, so the throw event waits as a job with retries; B's result is taken in
    # (and B marked compensated) together with the handlers after it, once they succeed.
    assert compensated(engine, instance.id) == []
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job.activity_id == "undo" and "undo.A is down" in (job.error_message or "")
    failing.clear()
    clock.advance(minutes=5)
    while Worker(engine, "w").run_once():
        pass
    assert open_tasks(engine, instance.id) == ["After"]  # no second UndoB task
    assert compensated(engine, instance.id) == ["B", "A"] and log[-1] == "undo.A"
    assert [t.activity_id for t in engine.history.tasks(instance_id=instance.id)].count("UndoB") == 1


def test_a_handler_task_outside_the_scope_of_its_throw_event_is_refused_at_deploy(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    register(handlers, [], "do.B")
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Sub"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="sub_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      {compensable("B", "s1", "s2", "UndoB", user=True)}
      <bpmn:endEvent id="sub_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      {flow("s1", "sub_start", "B")}{flow("s2", "B", "sub_end")}{link("B", "UndoB")}
    </bpmn:subProcess>
    <bpmn:endEvent id="undo_all"><bpmn:incoming>f2</bpmn:incoming><bpmn:compensateEventDefinition />
      </bpmn:endEvent>
    {flow("f1", "start", "Sub")}{flow("f2", "Sub", "undo_all")}"""
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("c.bpmn", definitions(body, "outside"))])
    [problem] = err.value.problems
    assert problem.element_id == "UndoB" and "in another scope" in problem.message


def test_a_camunda8_job_type_handler_without_an_in_process_handler_is_refused_at_deploy(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    register(handlers, [], "stock.reserve")
    job = '<bpmn:extensionElements><zeebe:taskDefinition type="{}" /></bpmn:extensionElements>'
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="defs" targetNamespace="http://flowdesk.example/test">
  <bpmn:process id="z" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Reserve">{job.format("stock.reserve")}
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:boundaryEvent id="undo_reserve" attachedToRef="Reserve"><bpmn:compensateEventDefinition />
      </bpmn:boundaryEvent>
    <bpmn:serviceTask id="Release" isForCompensation="true">{job.format("stock.release")}</bpmn:serviceTask>
    <bpmn:endEvent id="undo"><bpmn:incoming>f2</bpmn:incoming><bpmn:compensateEventDefinition />
      </bpmn:endEvent>
    {flow("f1", "start", "Reserve")}{flow("f2", "Reserve", "undo")}
    <bpmn:association id="a" sourceRef="undo_reserve" targetRef="Release" />
  </bpmn:process>
</bpmn:definitions>"""
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("z.bpmn", xml.encode())])
    [problem] = err.value.problems
    assert problem.element_id == "Release" and "'stock.release' has no in-process handler" in problem.message


def test_a_multi_instance_user_task_handler_is_one_task_per_item_all_waited_for(engine: Engine) -> None:
    xml = conformance_file("compensation_task_handlers")
    loop = (
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${shelves}" camunda:elementVariable="s"/>'
    )
    xml = xml.replace(
        "</camunda:formData></bpmn:extensionElements>", f"</camunda:formData></bpmn:extensionElements>{loop}"
    )
    engine.deployments.deploy([("c.bpmn", xml.encode())])
    instance = engine.runtime.start(
        key="compensation_task_handlers", variables={"amount": 1, "shelves": ["a", "b"]}
    )
    [refund] = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["refunds"])
    engine.jobs.complete(refund.id, "w1")
    first, second = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(first.id, {"shelf": "A1"})
    assert open_tasks(engine, instance.id) == ["Release"]  # the throw event waits for every item
    engine.tasks.complete(second.id, {"shelf": "B2"})
    assert open_tasks(engine, instance.id) == ["Review"]
    assert "s" not in engine.runtime.variables(instance.id)


def conformance_file(name: str) -> str:
    return (Path(__file__).parents[1] / "conformance" / "bpmn" / f"{name}.bpmn").read_text()


def test_a_compensation_event_subprocess_of_scripts_ends_within_the_throw_s_step(engine: Engine) -> None:
    xml = conformance_file("compensation_event_subprocess").replace(
        '<bpmn:userTask id="Notify" camunda:candidateGroups="sales"><bpmn:incoming>c1</bpmn:incoming>'
        "<bpmn:outgoing>c2</bpmn:outgoing></bpmn:userTask>",
        '<bpmn:scriptTask id="Notify" scriptFormat="python"><bpmn:incoming>c1</bpmn:incoming>'
        "<bpmn:outgoing>c2</bpmn:outgoing><bpmn:script>note = 1</bpmn:script></bpmn:scriptTask>",
    )
    engine.deployments.deploy([("c.bpmn", xml.encode())])
    instance = engine.runtime.start(key="compensation_event_subprocess", variables={"undone": []})
    assert open_tasks(engine, instance.id) == ["Review"]
    assert compensated(engine, instance.id) == ["BookFlight", "BookHotel", "Booking"]
    assert engine.runtime.variables(instance.id)["undone"] == ["flight", "hotel"]


def test_a_subprocess_with_a_compensation_boundary_event_and_event_subprocess_is_refused(
    engine: Engine,
) -> None:
    xml = conformance_file("compensation_event_subprocess").replace(
        '<bpmn:intermediateThrowEvent id="Undo">',
        '<bpmn:boundaryEvent id="BookingUndo" attachedToRef="Booking"><bpmn:compensateEventDefinition />'
        '</bpmn:boundaryEvent><bpmn:scriptTask id="UndoBooking" isForCompensation="true" '
        'scriptFormat="python"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
        '<bpmn:intermediateThrowEvent id="Undo">',
    )
    xml = xml.replace(
        "  </bpmn:process>",
        '<bpmn:association id="A9" sourceRef="BookingUndo" targetRef="UndoBooking" /></bpmn:process>',
    )
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy([("c.bpmn", xml.encode())])
    [problem] = err.value.problems
    assert "keep one of the two" in problem.message
