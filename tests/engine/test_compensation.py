"""Compensation run by Flowdesk: failing handlers, and scopes of embedded subprocesses."""

from __future__ import annotations

from typing import Any

from engine import Engine
from engine.handlers import HandlerContext, HandlerRegistry
from engine.worker import Worker
from tests.engine.test_messages import definitions, flow
from tests.engine.test_timers import open_tasks, user_task


def compensable(task_id: str, incoming: str, outgoing: str, handler: str) -> str:
    """A service task with a compensation boundary event whose handler is the service task ``handler``."""
    return f"""
    <bpmn:serviceTask id="{task_id}" camunda:delegateExpression="${{do.{task_id}}}">
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:boundaryEvent id="{task_id}_undo" attachedToRef="{task_id}"><bpmn:compensateEventDefinition />
      </bpmn:boundaryEvent>
    <bpmn:serviceTask id="{handler}" isForCompensation="true"
      camunda:delegateExpression="${{undo.{task_id}}}" />"""


def link(task_id: str, handler: str) -> str:
    """The association of ``task_id``'s compensation boundary event to its handler (artifacts go last)."""
    return f'<bpmn:association id="{task_id}_a" sourceRef="{task_id}_undo" targetRef="{handler}" />'



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
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {compensable("A", "f1", "f2", "UndoA")}{compensable("B", "f2", "f3", "UndoB")}
    <bpmn:intermediateThrowEvent id="undo"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:compensateEventDefinition /></bpmn:intermediateThrowEvent>
    {user_task("After", "f4", "f5")}
    <bpmn:endEvent id="end"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "A")}{flow("f2", "A", "B")}{flow("f3", "B", "undo")}{flow("f4", "undo", "After")}
    {flow("f5", "After", "end")}{link("A", "UndoA")}{link("B", "UndoB")}"""
    engine.deployments.deploy([("c.bpmn", definitions(body, "comp"))])
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
