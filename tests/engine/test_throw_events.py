"""Signals and messages thrown by processes: delivered by workers after the throwing step commits."""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError, Engine, TaskQuery
from engine.db.models import JobKind
from engine.handlers import HandlerContext, HandlerRegistry
from engine.throws import MAX_CHAIN
from engine.worker import Worker
from tests.engine.test_messages import ALARM, ORDER, PAYMENT, definitions, flow, waiting_process
from tests.engine.test_timers import open_tasks, user_task


def run_worker(engine: Engine) -> int:
    """Run jobs (and deliveries) until none is due; how many rounds ran something."""
    worker = Worker(engine, "w")
    rounds = 0
    while worker.run_once():
        rounds += 1
        assert rounds < 100, "the worker never ran out of jobs"
    return rounds


def event_jobs(engine: Engine) -> list[Any]:
    return [j for j in engine.jobs.list() if j.kind == JobKind.EVENT.value]


def thrower(definition: str, process_id: str = "thrower", events: str = ALARM, end: bool = False) -> bytes:
    """start -> `throw` (an intermediate throw event, or the end event) -> user task `Done` -> end."""
    if end:
        body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="throw"><bpmn:incoming>f1</bpmn:incoming>{definition}</bpmn:endEvent>
    {flow("f1", "start", "throw")}"""
    else:
        body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateThrowEvent id="throw"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>{definition}</bpmn:intermediateThrowEvent>
    {user_task("Done", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "throw")}{flow("f2", "throw", "Done")}{flow("f3", "Done", "end")}"""
    return definitions(body, process_id, events)


SIGNAL_WITH_LEVEL = """<bpmn:signalEventDefinition signalRef="Sig_alarm"><bpmn:extensionElements>
      <camunda:in source="level" target="level" />
      <camunda:in sourceExpression="${level * 10}" target="score" />
      </bpmn:extensionElements></bpmn:signalEventDefinition>"""


def signal_started(process_id: str = "on_alarm") -> bytes:
    body = f"""
    <bpmn:startEvent id="heard"><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:startEvent>
    {user_task("React", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "heard", "React")}{flow("f2", "React", "end")}"""
    return definitions(body, process_id, ALARM)


def test_a_thrown_signal_reaches_every_waiting_catch_and_signal_start_after_the_step_commits(
    engine: Engine,
) -> None:
    signal_catch = '<bpmn:signalEventDefinition signalRef="Sig_alarm" />'
    engine.deployments.deploy(
        [
            ("w.bpmn", waiting_process(definition=signal_catch)),
            ("s.bpmn", signal_started()),
            ("t.bpmn", thrower(SIGNAL_WITH_LEVEL)),
        ]
    )
    waiters = [engine.runtime.start(key="p", business_key=f"W-{n}") for n in range(2)]
    thrown = engine.runtime.start(key="thrower", variables={"level": 3, "secret": "x"})
    assert open_tasks(engine, thrown.id) == ["Done"]  # the thrower went on at once
    [job] = event_jobs(engine)
    assert (job.instance_id, job.activity_id, job.topic) == (thrown.id, "throw", "alarm")
    assert all(engine.runtime.open_activities(w.id) == ["wait"] for w in waiters)  # not yet delivered

    run_worker(engine)
    for waiter in waiters:
        assert open_tasks(engine, waiter.id) == ["After"]
        variables = engine.runtime.variables(waiter.id)
        assert (variables["level"], variables["score"]) == (3, 30)
        assert "secret" not in variables  # only what camunda:in passes goes along
    [started] = engine.runtime.list(process_key="on_alarm")
    assert open_tasks(engine, started.id) == ["React"]
    assert engine.runtime.variables(started.id)["level"] == 3
    assert event_jobs(engine) == []
    kinds = {a.activity_id: a.activity_type for a in engine.history.activities(instance_id=thrown.id)}
    assert kinds["throw"] == "intermediateThrowEvent"


def test_a_signal_thrown_reaches_the_throwing_instance_s_own_catcher(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="fork"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:intermediateCatchEvent id="hear"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:intermediateCatchEvent>
    {user_task("Heard", "f4", "f5")}
    <bpmn:endEvent id="end1"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    {user_task("Raise", "f3", "f6")}
    <bpmn:endEvent id="shout"><bpmn:incoming>f6</bpmn:incoming>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:endEvent>
    {flow("f1", "start", "fork")}{flow("f2", "fork", "hear")}{flow("f3", "fork", "Raise")}
    {flow("f4", "hear", "Heard")}{flow("f5", "Heard", "end1")}{flow("f6", "Raise", "shout")}"""
    engine.deployments.deploy([("own.bpmn", definitions(body, "own", ALARM))])
    instance = engine.runtime.start(key="own")
    [raise_task] = engine.tasks.list(TaskQuery(instance_id=instance.id, activity_id="Raise"))
    engine.tasks.complete(raise_task.id, {})
    assert engine.runtime.open_activities(instance.id) == ["hear"]
    run_worker(engine)
    assert open_tasks(engine, instance.id) == ["Heard"]


def test_a_process_started_by_the_signal_it_throws_stops_after_a_bounded_chain(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="heard"><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:startEvent>
    <bpmn:endEvent id="again"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:signalEventDefinition signalRef="Sig_alarm" /></bpmn:endEvent>
    {flow("f1", "heard", "again")}"""
    engine.deployments.deploy([("echo.bpmn", definitions(body, "echo", ALARM))])
    engine.messages.signal("alarm")
    run_worker(engine)
    assert engine.runtime.count(process_key="echo", active_only=False) == MAX_CHAIN + 1
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.kind == JobKind.EVENT.value and "chain" in (incident.error_message or "")


MESSAGE_HANDLER = (
    '<bpmn:messageEventDefinition messageRef="Msg_paid" camunda:delegateExpression="${mail.send}" />'
)


def test_a_message_throw_event_with_a_delegate_expression_runs_its_handler_with_mappings(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    seen: list[dict[str, Any]] = []

    def send(ctx: HandlerContext) -> dict[str, Any]:
        seen.append(dict(ctx.inputs))
        return {"mail_id": f"M-{ctx.inputs['to']}"}

    handlers.register("mail.send", send)

    io = """<bpmn:extensionElements><camunda:inputOutput>
      <camunda:inputParameter name="to">${customer}</camunda:inputParameter>
      <camunda:outputParameter name="sent_as">${mail_id}</camunda:outputParameter>
      </camunda:inputOutput></bpmn:extensionElements>"""
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateThrowEvent id="notify">{io}<bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>{MESSAGE_HANDLER}</bpmn:intermediateThrowEvent>
    {user_task("Done", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "notify")}{flow("f2", "notify", "Done")}{flow("f3", "Done", "end")}"""
    engine.deployments.deploy([("send.bpmn", definitions(body, "send", PAYMENT))])
    instance = engine.runtime.start(key="send", variables={"customer": "acme"})
    assert seen == [{"to": "acme"}]
    assert open_tasks(engine, instance.id) == ["Done"]
    assert engine.runtime.variables(instance.id)["sent_as"] == "M-acme"
    assert event_jobs(engine) == []  # the handler sent it; Flowdesk correlates nothing


def test_a_message_end_event_with_an_external_topic_waits_for_an_external_worker(engine: Engine) -> None:
    definition = (
        '<bpmn:messageEventDefinition messageRef="Msg_paid" camunda:type="external" camunda:topic="notify" />'
    )
    engine.deployments.deploy([("ext.bpmn", thrower(definition, "ext", PAYMENT, end=True))])
    instance = engine.runtime.start(key="ext")
    assert engine.runtime.open_activities(instance.id) == ["throw"]
    [task] = engine.jobs.acquire("remote", kind=JobKind.EXTERNAL, topics=["notify"])
    engine.jobs.complete(task.id, "remote", {"receipt": "R1"})
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_an_unknown_handler_on_a_message_throw_event_is_a_deploy_error(engine: Engine) -> None:
    with pytest.raises(DeploymentError) as caught:
        engine.deployments.deploy([("send.bpmn", thrower(MESSAGE_HANDLER, "send", PAYMENT))])
    [problem] = caught.value.problems
    assert problem.element_id == "throw" and "mail.send" in problem.message


def message_thrower(ref: str = "Msg_paid", end: bool = False, process_id: str = "thrower") -> bytes:
    definition = f"""<bpmn:messageEventDefinition messageRef="{ref}"><bpmn:extensionElements>
      <camunda:in source="amount" target="paid" /></bpmn:extensionElements></bpmn:messageEventDefinition>"""
    return thrower(definition, process_id, PAYMENT + ORDER, end=end)


def test_a_message_without_implementation_is_correlated_by_the_thrower_s_business_key(engine: Engine) -> None:
    engine.deployments.deploy([("w.bpmn", waiting_process()), ("t.bpmn", message_thrower())])
    first = engine.runtime.start(key="p", business_key="ORD-1")
    second = engine.runtime.start(key="p", business_key="ORD-2")
    engine.runtime.start(key="thrower", business_key="ORD-2", variables={"amount": 120})
    run_worker(engine)
    assert open_tasks(engine, second.id) == ["After"]
    assert engine.runtime.variables(second.id)["paid"] == 120
    assert engine.runtime.open_activities(first.id) == ["wait"]


def test_a_thrown_message_starts_a_process_with_the_thrower_s_business_key(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="placed"><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Msg_order" /></bpmn:startEvent>
    {user_task("Fulfil", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "placed", "Fulfil")}{flow("f2", "Fulfil", "end")}"""
    engine.deployments.deploy(
        [("o.bpmn", definitions(body, "orders", ORDER)), ("t.bpmn", message_thrower("Msg_order", end=True))]
    )
    engine.runtime.start(key="thrower", business_key="ORD-7", variables={"amount": 5})
    run_worker(engine)
    [order] = engine.runtime.list(process_key="orders")
    assert order.business_key == "ORD-7" and engine.runtime.variables(order.id)["paid"] == 5
    assert open_tasks(engine, order.id) == ["Fulfil"]


def test_a_thrown_message_nobody_waits_for_is_retried_then_an_incident(engine: Engine, clock: Any) -> None:
    engine.deployments.deploy([("t.bpmn", message_thrower())])
    engine.runtime.start(key="thrower", business_key="ORD-1", variables={"amount": 1})
    run_worker(engine)
    [job] = event_jobs(engine)
    assert job.retries == 2 and "Cannot correlate message 'payment_received'" in (job.error_message or "")
    # The receiver arrives before the retry: the retry delivers it.
    engine.deployments.deploy([("w.bpmn", waiting_process())])
    waiter = engine.runtime.start(key="p", business_key="ORD-1")
    clock.advance(seconds=60)
    run_worker(engine)
    assert open_tasks(engine, waiter.id) == ["After"]
    assert event_jobs(engine) == []


def test_a_thrown_message_that_never_matches_ends_as_an_incident(engine: Engine, clock: Any) -> None:
    engine.deployments.deploy([("t.bpmn", message_thrower())])
    engine.runtime.start(key="thrower", business_key="ORD-1", variables={"amount": 1})
    for _ in range(4):
        run_worker(engine)
        clock.advance(minutes=5)
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.kind == JobKind.EVENT.value and "payment_received" in (incident.error_message or "")


@pytest.mark.parametrize("definition", ["<bpmn:messageEventDefinition />", "<bpmn:signalEventDefinition />"])
def test_a_throw_event_naming_no_message_or_signal_is_refused_at_deploy(
    engine: Engine, definition: str
) -> None:
    with pytest.raises(DeploymentError) as caught:
        engine.deployments.deploy([("t.bpmn", thrower(definition, end=True))])
    [problem] = caught.value.problems
    assert problem.element_id == "throw" and "names no" in problem.message
    assert ("messageRef" in problem.message) is ("message" in definition)


def zeebe_file(body: str, events: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="defs" targetNamespace="http://flowdesk.example/c8">
  {events}
  <bpmn:process id="c8" isExecutable="true">{body}</bpmn:process>
</bpmn:definitions>""".encode()


def test_camunda_8_message_throw_with_a_job_type_is_a_handler_and_without_one_correlates(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    calls: list[Any] = []
    handlers.register("notify-customer", lambda ctx: calls.append(dict(ctx.inputs)) or {"notified": True})
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateThrowEvent id="notify"><bpmn:extensionElements>
        <zeebe:taskDefinition type="notify-customer" />
        <zeebe:ioMapping><zeebe:input source="=order.customer" target="to" /></zeebe:ioMapping>
      </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Msg_paid" /></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="paid"><bpmn:extensionElements>
        <zeebe:ioMapping><zeebe:input source="=order.total * 2" target="paid" /></zeebe:ioMapping>
      </bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:messageEventDefinition messageRef="Msg_paid" /></bpmn:endEvent>
    {flow("f1", "start", "notify")}{flow("f2", "notify", "paid")}"""
    engine.deployments.deploy([("w.bpmn", waiting_process()), ("c8.bpmn", zeebe_file(body, PAYMENT))])
    waiter = engine.runtime.start(key="p", business_key="B-1")
    sender = engine.runtime.start(
        key="c8", business_key="B-1", variables={"order": {"customer": "ann", "total": 21}}
    )
    assert calls == [{"to": "ann"}]
    assert engine.runtime.get(sender.id).state == "COMPLETED"
    run_worker(engine)
    assert open_tasks(engine, waiter.id) == ["After"]
    assert engine.runtime.variables(waiter.id)["paid"] == 42


def spiff_file(body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs"
    targetNamespace="http://flowdesk.example/spiff">
  {PAYMENT}
  {body}
</bpmn:definitions>""".encode()


def test_a_spiffworkflow_message_throw_sends_its_payload_expression(engine: Engine) -> None:
    sender = f"""<bpmn:process id="sender" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="send"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:messageEventDefinition messageRef="Msg_paid"><bpmn:extensionElements>
        <spiffworkflow:messagePayload>{{'amount': amount * 2}}</spiffworkflow:messagePayload>
      </bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:endEvent>
    {flow("f1", "start", "send")}
  </bpmn:process>
  <bpmn:process id="receiver" isExecutable="true">
    <bpmn:startEvent id="r_start"><bpmn:outgoing>r1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>r1</bpmn:incoming><bpmn:outgoing>r2</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Msg_paid"><bpmn:extensionElements>
        <spiffworkflow:messageVariable>payment</spiffworkflow:messageVariable>
      </bpmn:extensionElements></bpmn:messageEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:manualTask id="After"><bpmn:incoming>r2</bpmn:incoming><bpmn:outgoing>r3</bpmn:outgoing>
      </bpmn:manualTask>
    <bpmn:endEvent id="r_end"><bpmn:incoming>r3</bpmn:incoming></bpmn:endEvent>
    {flow("r1", "r_start", "wait")}{flow("r2", "wait", "After")}{flow("r3", "After", "r_end")}
  </bpmn:process>"""
    engine.deployments.deploy([("spiff.bpmn", spiff_file(sender))])
    assert engine.definitions.latest("sender").dialect == "spiff"
    receiver = engine.runtime.start(key="receiver", business_key="K")
    engine.runtime.start(key="sender", business_key="K", variables={"amount": 21})
    run_worker(engine)
    variables = engine.runtime.variables(receiver.id)
    assert variables["payment"] == {"amount": 42}


def test_a_send_task_without_implementation_correlates_its_message(engine: Engine) -> None:
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sendTask id="tell" messageRef="Msg_paid"><bpmn:extensionElements>
        <camunda:in source="amount" target="paid" /></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:sendTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "tell")}{flow("f2", "tell", "end")}"""
    teller_file = definitions(body, "teller", PAYMENT)
    engine.deployments.deploy([("w.bpmn", waiting_process()), ("s.bpmn", teller_file)])
    waiter = engine.runtime.start(key="p", business_key="T-1")
    teller = engine.runtime.start(key="teller", business_key="T-1", variables={"amount": 8})
    assert engine.runtime.get(teller.id).state == "COMPLETED"
    run_worker(engine)
    assert engine.runtime.variables(waiter.id)["paid"] == 8
    kinds = {a.activity_id: a.activity_type for a in engine.history.activities(instance_id=teller.id)}
    assert kinds["tell"] == "sendTask"


def test_a_camunda_8_send_task_with_a_job_type_runs_its_handler(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    calls: list[Any] = []
    handlers.register("send-mail", lambda ctx: calls.append(ctx.activity_id) or {"mailed": True})
    body = f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sendTask id="mail"><bpmn:extensionElements><zeebe:taskDefinition type="send-mail" />
      </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:sendTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "mail")}{flow("f2", "mail", "end")}"""
    engine.deployments.deploy([("c8.bpmn", zeebe_file(body, ""))])
    instance = engine.runtime.start(key="c8")
    assert calls == ["mail"]
    assert engine.runtime.variables(instance.id)["mailed"] is True
