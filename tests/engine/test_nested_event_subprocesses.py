"""Event subprocesses inside an embedded subprocess: subscribed while it runs, and only then."""

from __future__ import annotations

import pytest

from engine import Engine, FakeClock, TaskQuery
from engine.messages import MessageCorrelationError
from tests.engine.test_messages import ALARM, CANCEL, definitions, flow, message_subprocess
from tests.engine.test_timers import open_tasks, user_task


def _order(event_subprocess: str) -> str:
    """start -> Prepare -> embedded `Order` (Pack -> Ship, with ``event_subprocess``) -> After -> end."""
    return f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Prepare", "f1", "f2")}
    <bpmn:subProcess id="Order"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:startEvent id="o_start"><bpmn:outgoing>h1</bpmn:outgoing></bpmn:startEvent>
      {user_task("Pack", "h1", "h2")}{user_task("Ship", "h2", "h3")}
      <bpmn:endEvent id="o_end"><bpmn:incoming>h3</bpmn:incoming></bpmn:endEvent>
      {flow("h1", "o_start", "Pack")}{flow("h2", "Pack", "Ship")}{flow("h3", "Ship", "o_end")}
      {event_subprocess}
    </bpmn:subProcess>
    {user_task("After", "f3", "f4")}
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Prepare")}{flow("f2", "Prepare", "Order")}{flow("f3", "Order", "After")}
    {flow("f4", "After", "end")}"""


def _complete(
    engine: Engine, instance_id: str, activity_id: str, values: dict[str, object] | None = None
) -> None:
    [task] = engine.tasks.list(TaskQuery(instance_id=instance_id, activity_id=activity_id))
    engine.tasks.complete(task.id, values or {})


def _subscriptions(engine: Engine, instance_id: str) -> list[str]:
    return sorted(s.activity_id for s in engine.messages.subscriptions(instance_id=instance_id))


def test_nested_message_event_subprocess_interrupts_only_its_subprocess(engine: Engine) -> None:
    engine.deployments.deploy(
        [("o.bpmn", definitions(_order(message_subprocess("Msg_cancel", "Release")), events=CANCEL))]
    )
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    with pytest.raises(MessageCorrelationError):  # the subprocess has not started: nobody listens
        engine.messages.correlate("cancel_order", business_key="ORD-1")
    _complete(engine, instance.id, "Prepare", {"note": "fragile"})
    assert open_tasks(engine, instance.id) == ["Pack"]
    assert _subscriptions(engine, instance.id) == ["esp_start"]
    engine.messages.correlate("cancel_order", business_key="ORD-1", variables={"reason": "customer"})
    assert open_tasks(engine, instance.id) == ["Release"]  # Pack is cancelled, the process goes on
    [release] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert release.activity_id == "Release"
    variables = engine.runtime.variables(instance.id)
    assert variables["reason"] == "customer" and variables["note"] == "fragile"
    assert _subscriptions(engine, instance.id) == []  # interrupted: it cannot start again
    _complete(engine, instance.id, "Release")
    assert open_tasks(engine, instance.id) == ["After"]  # the subprocess ended, the process goes on
    _complete(engine, instance.id, "After")
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_nested_non_interrupting_event_subprocess_runs_beside_and_unsubscribes_at_the_end(
    engine: Engine,
) -> None:
    esp = message_subprocess("Msg_cancel", "Answer", interrupting=False)
    engine.deployments.deploy([("o.bpmn", definitions(_order(esp), events=CANCEL))])
    instance = engine.runtime.start(key="p", business_key="ORD-2")
    _complete(engine, instance.id, "Prepare")
    engine.messages.correlate("cancel_order", business_key="ORD-2")
    assert sorted(open_tasks(engine, instance.id)) == ["Answer", "Pack"]
    _complete(engine, instance.id, "Answer")
    _complete(engine, instance.id, "Pack")
    _complete(engine, instance.id, "Ship")
    assert open_tasks(engine, instance.id) == ["After"]
    assert _subscriptions(engine, instance.id) == []  # the subprocess ended: its event subprocess too
    with pytest.raises(MessageCorrelationError):
        engine.messages.correlate("cancel_order", business_key="ORD-2")


def test_nested_signal_event_subprocess_is_reached_by_a_broadcast(engine: Engine) -> None:
    signal = '<bpmn:signalEventDefinition signalRef="Sig_alarm" />'
    esp = message_subprocess("", "Evacuate", definition=signal)
    engine.deployments.deploy([("o.bpmn", definitions(_order(esp), events=ALARM))])
    waiting = engine.runtime.start(key="p")
    inside = engine.runtime.start(key="p")
    _complete(engine, inside.id, "Prepare")
    assert len(engine.messages.signal("alarm")) == 1  # only the instance inside the subprocess
    assert open_tasks(engine, inside.id) == ["Evacuate"]
    assert open_tasks(engine, waiting.id) == ["Prepare"]


def test_timer_event_subprocess_sees_the_variables_of_when_it_fires(engine: Engine, clock: FakeClock) -> None:
    timer = (
        "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>"
    )
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Approve", "f1", "f2")}{user_task("Ship", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Approve")}{flow("f2", "Approve", "Ship")}{flow("f3", "Ship", "end")}
    {message_subprocess("", "Escalate", definition=timer)}"""
    engine.deployments.deploy([("t.bpmn", definitions(body))])
    instance = engine.runtime.start(key="p", variables={"stage": "new"})
    _complete(engine, instance.id, "Approve", {"stage": "approved"})
    clock.advance(hours=2)
    assert engine.timers.fire_due("w") == 1
    [escalate] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert escalate.activity_id == "Escalate"
    assert engine.runtime.variables(instance.id)["stage"] == "approved"
