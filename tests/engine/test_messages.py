"""Messages and signals: Camunda 7 correlation to waiting instances and start events."""

from __future__ import annotations

import threading

import pytest

from engine import Engine, FakeClock, InvalidRequest, TaskQuery
from engine.messages import MessageCorrelationError
from tests.engine.test_timers import open_tasks, timer, user_task


def definitions(body: str, process_id: str = "p", events: str = "") -> bytes:
    """A Camunda 7 file: one process around ``body``, and ``events`` (bpmn:message / bpmn:signal)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs" targetNamespace="http://flowdesk.example/test">
  {events}
  <bpmn:process id="{process_id}" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>
""".encode()


PAYMENT = '<bpmn:message id="Msg_paid" name="payment_received" />'
CANCEL = '<bpmn:message id="Msg_cancel" name="cancel_order" />'
ORDER = '<bpmn:message id="Msg_order" name="order_placed" />'
ALARM = '<bpmn:signal id="Sig_alarm" name="alarm" />'


def message_catch(ref: str = "Msg_paid") -> str:
    return f'<bpmn:messageEventDefinition messageRef="{ref}" />'


def flow(flow_id: str, source: str, target: str) -> str:
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'


def waiting_process(element: str = "intermediateCatchEvent", definition: str = message_catch()) -> bytes:
    """start -> `wait` (a message catch event or receive task) -> user task `After` -> end."""
    if element == "receiveTask":
        wait = '<bpmn:receiveTask id="wait" messageRef="Msg_paid">'
        close = "</bpmn:receiveTask>"
    else:
        wait, close = f'<bpmn:{element} id="wait">', f"{definition}</bpmn:{element}>"
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {wait}<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>{close}
    {user_task("After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "wait")}{flow("f2", "wait", "After")}{flow("f3", "After", "end")}""",
        events=PAYMENT + ALARM,
    )


def test_message_reaches_the_instance_with_its_business_key(engine: Engine) -> None:
    engine.deployments.deploy([("m.bpmn", waiting_process())])
    first = engine.runtime.start(key="p", business_key="ORD-1")
    second = engine.runtime.start(key="p", business_key="ORD-2")
    [result] = engine.messages.correlate("payment_received", business_key="ORD-2", variables={"paid": 120})
    assert (result.result_type, result.instance.id, result.activity_id) == ("Execution", second.id, "wait")
    assert open_tasks(engine, second.id) == ["After"]
    assert engine.runtime.variables(second.id)["paid"] == 120
    assert engine.runtime.open_activities(first.id) == ["wait"]


@pytest.mark.parametrize("element", ["receiveTask", "intermediateCatchEvent"])
def test_no_match_is_an_error_naming_what_was_looked_for(engine: Engine, element: str) -> None:
    engine.deployments.deploy([("m.bpmn", waiting_process(element))])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    with pytest.raises(MessageCorrelationError) as caught:
        engine.messages.correlate("payment_received", business_key="ORD-9")
    assert "'payment_received'" in caught.value.message and "'ORD-9'" in caught.value.message
    assert engine.runtime.open_activities(instance.id) == ["wait"]
    engine.messages.correlate("payment_received", business_key="ORD-1")
    assert open_tasks(engine, instance.id) == ["After"]


def test_two_matches_need_all_and_correlation_keys_narrow_down(engine: Engine) -> None:
    engine.deployments.deploy([("m.bpmn", waiting_process())])
    a = engine.runtime.start(key="p", variables={"orderId": "A"})
    b = engine.runtime.start(key="p", variables={"orderId": "B"})
    c = engine.runtime.start(key="p", variables={"orderId": "C"})
    with pytest.raises(MessageCorrelationError, match="3 waiting process instances match"):
        engine.messages.correlate("payment_received")
    [result] = engine.messages.correlate("payment_received", correlation_keys={"orderId": "B"})
    assert result.instance.id == b.id
    results = engine.messages.correlate("payment_received", all=True)
    assert sorted(r.instance.id for r in results) == sorted([a.id, c.id])
    with pytest.raises(MessageCorrelationError):
        engine.messages.correlate("payment_received", process_instance_id=a.id)


def test_message_start_event_starts_an_instance_with_business_key_and_variables(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="placed"><bpmn:outgoing>f1</bpmn:outgoing>{message_catch("Msg_order")}
    </bpmn:startEvent>
    {user_task("Review", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "placed", "Review")}{flow("f2", "Review", "end")}"""
    engine.deployments.deploy([("s.bpmn", definitions(body, "orders", ORDER))])
    [result] = engine.messages.correlate("order_placed", business_key="ORD-7", variables={"amount": 5})
    assert result.result_type == "ProcessDefinition"
    assert result.instance.business_key == "ORD-7"
    assert open_tasks(engine, result.instance.id) == ["Review"]
    assert engine.runtime.variables(result.instance.id)["amount"] == 5


def boundary_process(interrupting: bool) -> bytes:
    """user task `Pack` with a message boundary `cancelled` (cancel_order) -> user task `Refund`."""
    cancel = "true" if interrupting else "false"
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Pack", "f1", "f2")}
    <bpmn:boundaryEvent id="cancelled" attachedToRef="Pack" cancelActivity="{cancel}">
      <bpmn:outgoing>f3</bpmn:outgoing>{message_catch("Msg_cancel")}</bpmn:boundaryEvent>
    {user_task("Refund", "f3", "f4")}
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="refunded"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Pack")}{flow("f2", "Pack", "done")}{flow("f3", "cancelled", "Refund")}
    {flow("f4", "Refund", "refunded")}""",
        events=CANCEL,
    )


def test_interrupting_message_boundary_cancels_the_task(engine: Engine) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process(interrupting=True))])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    engine.messages.correlate("cancel_order", business_key="ORD-1")
    assert open_tasks(engine, instance.id) == ["Refund"]
    pack = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "Pack"]
    assert pack[0].canceled
    with pytest.raises(MessageCorrelationError):  # the boundary went with its task
        engine.messages.correlate("cancel_order", business_key="ORD-1")


def test_non_interrupting_message_boundary_keeps_the_task(engine: Engine) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process(interrupting=False))])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    engine.messages.correlate("cancel_order", business_key="ORD-1")
    assert sorted(open_tasks(engine, instance.id)) == ["Pack", "Refund"]


def gateway_process() -> bytes:
    """event-based gateway: message payment_received -> `Ship`, or timer P7D -> `Dun`."""
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:eventBasedGateway id="gw"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="paid"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f4</bpmn:outgoing>{message_catch()}</bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="overdue"><bpmn:incoming>f3</bpmn:incoming>
      <bpmn:outgoing>f5</bpmn:outgoing>{timer("timeDuration", "P7D")}</bpmn:intermediateCatchEvent>
    {user_task("Ship", "f4", "f6")}{user_task("Dun", "f5", "f7")}
    <bpmn:endEvent id="e1"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "gw")}{flow("f2", "gw", "paid")}{flow("f3", "gw", "overdue")}
    {flow("f4", "paid", "Ship")}{flow("f5", "overdue", "Dun")}{flow("f6", "Ship", "e1")}
    {flow("f7", "Dun", "e2")}""",
        events=PAYMENT,
    )


def test_event_based_gateway_takes_the_message_or_the_timer(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("g.bpmn", gateway_process())])
    paid = engine.runtime.start(key="p", business_key="ORD-1")
    late = engine.runtime.start(key="p", business_key="ORD-2")
    assert len(engine.timers.list()) == 2
    engine.messages.correlate("payment_received", business_key="ORD-1")
    assert open_tasks(engine, paid.id) == ["Ship"]
    assert [t.instance_id for t in engine.timers.list()] == [late.id]  # its timer went with it
    clock.advance(days=7)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, late.id) == ["Dun"]
    with pytest.raises(MessageCorrelationError):  # the message wait went with the timer's path
        engine.messages.correlate("payment_received", business_key="ORD-2")


def message_subprocess(ref: str, inner: str, interrupting: bool = True, definition: str = "") -> str:
    """An event subprocess `esp` started by message ``ref`` (or ``definition``) -> ``inner`` -> end."""
    flag = "" if interrupting else ' isInterrupting="false"'
    catch = definition or message_catch(ref)
    return f"""
    <bpmn:subProcess id="esp" triggeredByEvent="true">
      <bpmn:startEvent id="esp_start"{flag}><bpmn:outgoing>g1</bpmn:outgoing>{catch}
      </bpmn:startEvent>
      {user_task(inner, "g1", "g2")}
      <bpmn:endEvent id="esp_end"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      {flow("g1", "esp_start", inner)}{flow("g2", inner, "esp_end")}
    </bpmn:subProcess>"""


def test_message_event_subprocess_cancels_the_order_at_any_point(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Approve", "f1", "f2")}{user_task("Ship", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Approve")}{flow("f2", "Approve", "Ship")}{flow("f3", "Ship", "end")}
    {message_subprocess("Msg_cancel", "Release")}"""
    engine.deployments.deploy([("c.bpmn", definitions(body, events=CANCEL))])
    early = engine.runtime.start(key="p", business_key="ORD-1")
    later = engine.runtime.start(key="p", business_key="ORD-2")
    [task] = engine.tasks.list(TaskQuery(instance_id=later.id))
    engine.tasks.complete(task.id)
    assert open_tasks(engine, later.id) == ["Ship"]
    for order, instance in (("ORD-1", early), ("ORD-2", later)):
        engine.messages.correlate("cancel_order", business_key=order, variables={"reason": "customer"})
        assert open_tasks(engine, instance.id) == ["Release"]
    with pytest.raises(MessageCorrelationError):  # the interrupted order waits for nothing else
        engine.messages.correlate("cancel_order", business_key="ORD-1")
    [release] = engine.tasks.list(TaskQuery(instance_id=early.id))
    engine.tasks.complete(release.id)
    assert engine.runtime.get(early.id).state == "COMPLETED"
    assert engine.runtime.variables(early.id)["reason"] == "customer"


def test_an_event_subprocess_without_wait_states_interrupts_and_sees_the_variables_of_now(
    engine: Engine,
) -> None:
    # It runs to its end in the step the message starts it, deciding on a variable the main flow
    # set after the instance began.
    decided = "${execution.getVariable('approved') == true}"
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Approve", "f1", "f2")}{user_task("Ship", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Approve")}{flow("f2", "Approve", "Ship")}{flow("f3", "Ship", "end")}
    <bpmn:subProcess id="esp" triggeredByEvent="true">
      <bpmn:startEvent id="esp_start"><bpmn:outgoing>g1</bpmn:outgoing>{message_catch("Msg_cancel")}
      </bpmn:startEvent>
      <bpmn:exclusiveGateway id="gw" default="g3"><bpmn:incoming>g1</bpmn:incoming>
        <bpmn:outgoing>g2</bpmn:outgoing><bpmn:outgoing>g3</bpmn:outgoing></bpmn:exclusiveGateway>
      <bpmn:endEvent id="undo_approval"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:endEvent id="nothing_to_undo"><bpmn:incoming>g3</bpmn:incoming></bpmn:endEvent>
      {flow("g1", "esp_start", "gw")}{flow("g3", "gw", "nothing_to_undo")}
      <bpmn:sequenceFlow id="g2" sourceRef="gw" targetRef="undo_approval">
        <bpmn:conditionExpression>{decided}</bpmn:conditionExpression></bpmn:sequenceFlow>
    </bpmn:subProcess>"""
    engine.deployments.deploy([("c.bpmn", definitions(body, events=CANCEL))])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(task.id, {"approved": True})
    assert open_tasks(engine, instance.id) == ["Ship"]

    engine.messages.correlate("cancel_order", business_key="ORD-1", variables={"reason": "customer"})

    assert engine.runtime.get(instance.id).state == "COMPLETED"
    assert open_tasks(engine, instance.id) == []
    ended = [a.activity_id for a in engine.history.activities(instance_id=instance.id) if a.ended_at]
    assert "undo_approval" in ended and "nothing_to_undo" not in ended
    ship = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "Ship"]
    assert [a.canceled for a in ship] == [True]
    assert engine.runtime.variables(instance.id)["reason"] == "customer"


def test_signal_reaches_every_waiting_catch_and_signal_start(engine: Engine) -> None:
    start = f"""
    <bpmn:startEvent id="alarmed"><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:startEvent>
    {user_task("Respond", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "alarmed", "Respond")}{flow("f2", "Respond", "end")}"""
    engine.deployments.deploy(
        [
            ("w.bpmn", waiting_process(definition='<bpmn:signalEventDefinition signalRef="Sig_alarm" />')),
            ("s.bpmn", definitions(start, "responder", ALARM)),
        ]
    )
    waiting = [engine.runtime.start(key="p").id for _ in range(2)]
    results = engine.messages.signal("alarm", variables={"level": 3})
    assert sorted(r.result_type for r in results) == ["Execution", "Execution", "ProcessDefinition"]
    assert all(open_tasks(engine, i) == ["After"] for i in waiting)
    [responder] = engine.runtime.list(process_key="responder")
    assert engine.runtime.variables(responder.id)["level"] == 3
    again = engine.messages.signal("alarm")  # nobody waits any more; the start event still starts
    assert [r.result_type for r in again] == ["ProcessDefinition"]


def test_starting_a_message_started_process_directly_says_how_to_start_it(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="placed"><bpmn:outgoing>f1</bpmn:outgoing>{message_catch("Msg_order")}
    </bpmn:startEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "placed", "end")}"""
    engine.deployments.deploy([("s.bpmn", definitions(body, "orders", ORDER))])
    with pytest.raises(InvalidRequest, match="order_placed"):
        engine.runtime.start(key="orders")
    assert engine.runtime.count(process_key="orders") == 0


def test_two_concurrent_deliveries_of_one_message_consume_the_wait_once(engine: Engine) -> None:
    engine.deployments.deploy([("m.bpmn", waiting_process())])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        try:
            engine.messages.correlate("payment_received", business_key="ORD-1")
            outcomes.append("delivered")
        except MessageCorrelationError:
            outcomes.append("no match")

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["delivered", "no match"]
    assert open_tasks(engine, instance.id) == ["After"]
    waits = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "wait"]
    assert len(waits) == 1


def test_a_new_version_takes_over_the_message_start_event(engine: Engine) -> None:
    def version(task: str) -> bytes:
        body = f"""
    <bpmn:startEvent id="placed"><bpmn:outgoing>f1</bpmn:outgoing>{message_catch("Msg_order")}
    </bpmn:startEvent>
    {user_task(task, "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "placed", task)}{flow("f2", task, "end")}"""
        return definitions(body, "orders", ORDER)

    engine.deployments.deploy([("s.bpmn", version("Review"))])
    engine.deployments.deploy([("s.bpmn", version("Check"))])
    [result] = engine.messages.correlate("order_placed")
    assert result.instance.definition_id == engine.definitions.latest("orders").id
    assert open_tasks(engine, result.instance.id) == ["Check"]


def one_task(task: str) -> str:
    """start -> user task ``task`` -> end: the main flow beside an event subprocess."""
    return f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task(task, "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", task)}{flow("f2", task, "end")}"""


def test_non_interrupting_message_event_subprocess_runs_once_per_message(engine: Engine) -> None:
    body = one_task("Ship") + message_subprocess("Msg_paid", "Answer", interrupting=False)
    engine.deployments.deploy([("n.bpmn", definitions(body, events=PAYMENT))])
    instance = engine.runtime.start(key="p", business_key="ORD-1")
    for _ in range(2):
        engine.messages.correlate("payment_received", business_key="ORD-1")
    assert sorted(open_tasks(engine, instance.id)) == ["Answer", "Answer", "Ship"]
    for task in engine.tasks.list(TaskQuery(instance_id=instance.id)):
        engine.tasks.complete(task.id)
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_signal_event_subprocess_interrupts_every_waiting_instance(engine: Engine) -> None:
    signal = '<bpmn:signalEventDefinition signalRef="Sig_alarm" />'
    body = one_task("Work") + message_subprocess("", "Evacuate", definition=signal)
    engine.deployments.deploy([("a.bpmn", definitions(body, events=ALARM))])
    ids = [engine.runtime.start(key="p").id for _ in range(2)]
    assert len(engine.messages.signal("alarm")) == 2
    assert all(open_tasks(engine, i) == ["Evacuate"] for i in ids)
