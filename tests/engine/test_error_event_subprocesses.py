"""Event subprocesses started by an error or an escalation, caught innermost first as in Camunda 7."""

from __future__ import annotations

import pytest

from engine import Engine, TaskQuery
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from tests.engine.test_messages import definitions, flow
from tests.engine.test_timers import open_tasks, user_task

ERRORS = (
    '<bpmn:error id="Err_credit" name="Credit refused" errorCode="CREDIT" />'
    '<bpmn:error id="Err_other" name="Other" errorCode="OTHER" />'
    '<bpmn:escalation id="Esc_vip" name="VIP" escalationCode="VIP" />'
)


def event_subprocess(esp_id: str, task: str, definition: str, interrupting: bool = True) -> str:
    """An event subprocess `esp_id`: its start (``definition``) -> user task ``task`` -> end."""
    flag = "" if interrupting else ' isInterrupting="false"'
    return f"""
    <bpmn:subProcess id="{esp_id}" triggeredByEvent="true">
      <bpmn:startEvent id="{esp_id}_start"{flag}><bpmn:outgoing>{esp_id}_1</bpmn:outgoing>
        {definition}</bpmn:startEvent>
      {user_task(task, f"{esp_id}_1", f"{esp_id}_2")}
      <bpmn:endEvent id="{esp_id}_end"><bpmn:incoming>{esp_id}_2</bpmn:incoming></bpmn:endEvent>
      {flow(f"{esp_id}_1", f"{esp_id}_start", task)}{flow(f"{esp_id}_2", task, f"{esp_id}_end")}
    </bpmn:subProcess>"""


def error(ref: str | None = "Err_credit") -> str:
    return f'<bpmn:errorEventDefinition errorRef="{ref}" />' if ref else "<bpmn:errorEventDefinition />"


def escalation(ref: str | None = "Esc_vip") -> str:
    attr = f' escalationRef="{ref}"' if ref else ""
    return f"<bpmn:escalationEventDefinition{attr} />"


def fork_with_failing_branch(throw: str, extra: str = "") -> bytes:
    """start -> fork -> (user task `Work` | user task `Check` -> ``throw`` end event) ... and ``extra``.

    `Work` goes on to `After`; the failing branch ends in an end event with ``throw``.
    """
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>a1</bpmn:outgoing>
      <bpmn:outgoing>b1</bpmn:outgoing></bpmn:parallelGateway>
    {user_task("Work", "a1", "a2")}{user_task("After", "a2", "a3")}
    <bpmn:endEvent id="end"><bpmn:incoming>a3</bpmn:incoming></bpmn:endEvent>
    {user_task("Check", "b1", "b2")}
    <bpmn:endEvent id="Fail"><bpmn:incoming>b2</bpmn:incoming>{throw}</bpmn:endEvent>
    {flow("f1", "start", "Fork")}{flow("a1", "Fork", "Work")}{flow("a2", "Work", "After")}
    {flow("a3", "After", "end")}{flow("b1", "Fork", "Check")}{flow("b2", "Check", "Fail")}
    {extra}""",
        events=ERRORS,
    )


def complete(
    engine: Engine, instance_id: str, activity_id: str, values: dict[str, object] | None = None
) -> None:
    [task] = engine.tasks.list(TaskQuery(instance_id=instance_id, activity_id=activity_id))
    engine.tasks.complete(task.id, values or {})


def state(engine: Engine, instance_id: str) -> str:
    return engine.runtime.get(instance_id).state


def test_an_error_end_event_starts_the_error_event_subprocess_and_cancels_the_rest(engine: Engine) -> None:
    xml = fork_with_failing_branch(error(), event_subprocess("OnCredit", "Handle", error()))
    engine.deployments.deploy([("e.bpmn", xml)])
    instance = engine.runtime.start(key="p", variables={"amount": 7})
    assert sorted(open_tasks(engine, instance.id)) == ["Check", "Work"]
    complete(engine, instance.id, "Check", {"reason": "limit"})
    assert open_tasks(engine, instance.id) == ["Handle"]  # Work is gone from the task list
    assert engine.runtime.variables(instance.id)["reason"] == "limit"
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Work"].canceled and activities["Work"].ended_at is not None
    assert not activities["Check"].canceled and "After" not in activities
    assert activities["OnCredit"].ended_at is None
    [work] = [t for t in engine.history.tasks(instance_id=instance.id) if t.activity_id == "Work"]
    assert (work.delete_reason, work.completed_by) == ("deleted", None) and work.ended_at is not None
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def test_an_error_event_subprocess_is_not_started_with_its_scope(engine: Engine) -> None:
    xml = fork_with_failing_branch("", event_subprocess("OnCredit", "Handle", error()))
    engine.deployments.deploy([("e.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    assert sorted(open_tasks(engine, instance.id)) == ["Check", "Work"]
    complete(engine, instance.id, "Check")
    complete(engine, instance.id, "Work")
    complete(engine, instance.id, "After")
    assert state(engine, instance.id) == "COMPLETED"
    assert "OnCredit" not in {a.activity_id for a in engine.history.activities(instance_id=instance.id)}


@pytest.mark.parametrize(
    ("thrown", "caught_by"),
    [("Err_credit", "HandleCredit"), ("Err_other", "HandleAny")],
    ids=["the-matching-code-wins", "the-catch-all-takes-the-rest"],
)
def test_error_codes_choose_the_event_subprocess(engine: Engine, thrown: str, caught_by: str) -> None:
    handlers = event_subprocess("OnCredit", "HandleCredit", error()) + event_subprocess(
        "OnAny", "HandleAny", error(None)
    )
    engine.deployments.deploy([("e.bpmn", fork_with_failing_branch(error(thrown), handlers))])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    assert open_tasks(engine, instance.id) == [caught_by]


def test_an_error_with_another_code_is_not_caught_and_ends_its_path(engine: Engine) -> None:
    xml = fork_with_failing_branch(error("Err_other"), event_subprocess("OnCredit", "Handle", error()))
    engine.deployments.deploy([("e.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    # As in Camunda 7: an error end event nothing catches behaves as a none end event.
    assert open_tasks(engine, instance.id) == ["Work"]


def service_process(boundary: str = "", extra: str = "") -> bytes:
    """start -> service task `Reserve` (handler `erp.reserve`, ``boundary``) -> `After` -> end."""
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Reserve" camunda:delegateExpression="${{erp.reserve}}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    {boundary}
    {user_task("After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Reserve")}{flow("f2", "Reserve", "After")}{flow("f3", "After", "end")}
    {extra}""",
        events=ERRORS,
    )


def rejecting(code: str) -> object:
    def reserve(ctx: HandlerContext) -> None:
        raise BpmnError(code, "refused", {"missing": 2})

    return reserve


def test_a_handlers_bpmn_error_starts_the_error_event_subprocess(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("erp.reserve", rejecting("CREDIT"))
    engine.deployments.deploy(
        [("s.bpmn", service_process(extra=event_subprocess("OnCredit", "Handle", error())))]
    )
    instance = engine.runtime.start(key="p")
    assert open_tasks(engine, instance.id) == ["Handle"]
    assert engine.runtime.variables(instance.id)["missing"] == 2
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Reserve"].canceled
    assert engine.jobs.list() == []


def test_a_handlers_bpmn_error_nobody_catches_is_still_an_incident(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("erp.reserve", rejecting("OTHER"))
    engine.deployments.deploy(
        [("s.bpmn", service_process(extra=event_subprocess("OnCredit", "Handle", error())))]
    )
    instance = engine.runtime.start(key="p")
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.instance_id == instance.id and "OTHER" in (incident.error_message or "")
    assert engine.runtime.open_activities(instance.id) == ["Reserve"]


def test_the_boundary_on_the_throwing_activity_comes_before_the_event_subprocess(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("erp.reserve", rejecting("CREDIT"))
    boundary = f"""<bpmn:boundaryEvent id="Refused" attachedToRef="Reserve"><bpmn:outgoing>x1</bpmn:outgoing>
      {error(None)}</bpmn:boundaryEvent>
    {user_task("ByBoundary", "x1", "x2")}
    <bpmn:endEvent id="x_end"><bpmn:incoming>x2</bpmn:incoming></bpmn:endEvent>
    {flow("x1", "Refused", "ByBoundary")}{flow("x2", "ByBoundary", "x_end")}"""
    xml = service_process(boundary, event_subprocess("OnCredit", "ByEventSubprocess", error()))
    engine.deployments.deploy([("s.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    # Even a catch-all boundary on the activity wins over a matching event subprocess around it.
    assert open_tasks(engine, instance.id) == ["ByBoundary"]


def nested(inner: str, around: str = "", boundary: str = "", reserve: bool = False) -> bytes:
    """start -> embedded `Order` (Pack [-> service task `Reserve`] -> end event ``inner``, beside
    Label; with ``around`` inside) -> After -> end."""
    pack = user_task("Pack", "h2", "h3")
    if reserve:
        pack = f"""{user_task("Pack", "h2", "h9")}{flow("h9", "Pack", "Reserve")}
      <bpmn:serviceTask id="Reserve" camunda:delegateExpression="${{erp.reserve}}">
        <bpmn:incoming>h9</bpmn:incoming><bpmn:outgoing>h3</bpmn:outgoing></bpmn:serviceTask>"""
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Order"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="o_start"><bpmn:outgoing>h1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:parallelGateway id="o_fork"><bpmn:incoming>h1</bpmn:incoming><bpmn:outgoing>h2</bpmn:outgoing>
        <bpmn:outgoing>k1</bpmn:outgoing></bpmn:parallelGateway>
      {pack}
      <bpmn:endEvent id="o_fail"><bpmn:incoming>h3</bpmn:incoming>{inner}</bpmn:endEvent>
      {user_task("Label", "k1", "k2")}
      <bpmn:endEvent id="o_end"><bpmn:incoming>k2</bpmn:incoming></bpmn:endEvent>
      {flow("h1", "o_start", "o_fork")}{flow("h2", "o_fork", "Pack")}
      {flow("h3", "Reserve" if reserve else "Pack", "o_fail")}
      {flow("k1", "o_fork", "Label")}{flow("k2", "Label", "o_end")}
      {around}
    </bpmn:subProcess>
    {boundary}
    {user_task("After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Order")}{flow("f2", "Order", "After")}{flow("f3", "After", "end")}""",
        events=ERRORS,
    )


ORDER_BOUNDARY = f"""<bpmn:boundaryEvent id="OrderFailed" attachedToRef="Order">
      <bpmn:outgoing>x1</bpmn:outgoing>{error()}</bpmn:boundaryEvent>
    {user_task("ByBoundary", "x1", "x2")}
    <bpmn:endEvent id="x_end"><bpmn:incoming>x2</bpmn:incoming></bpmn:endEvent>
    {flow("x1", "OrderFailed", "ByBoundary")}{flow("x2", "ByBoundary", "x_end")}"""


def test_an_event_subprocess_inside_the_embedded_subprocess_ends_only_that_subprocess(engine: Engine) -> None:
    xml = nested(error(), around=event_subprocess("OnCredit", "Handle", error()), boundary=ORDER_BOUNDARY)
    engine.deployments.deploy([("n.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    assert sorted(open_tasks(engine, instance.id)) == ["Label", "Pack"]
    complete(engine, instance.id, "Pack")
    # The event subprocess of the scope the error is thrown in comes before the boundary around it.
    assert open_tasks(engine, instance.id) == ["Handle"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Label"].canceled and not activities["Order"].canceled
    complete(engine, instance.id, "Handle")
    assert open_tasks(engine, instance.id) == ["After"]  # the subprocess ended, the process goes on
    complete(engine, instance.id, "After")
    assert state(engine, instance.id) == "COMPLETED"


def test_an_error_climbs_past_the_boundary_to_the_event_subprocess_of_the_process(engine: Engine) -> None:
    xml = nested(error("Err_other"), boundary=ORDER_BOUNDARY).replace(
        b"</bpmn:process>", event_subprocess("OnAny", "Handle", error(None)).encode() + b"</bpmn:process>"
    )
    engine.deployments.deploy([("n.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Pack")
    # The boundary on Order waits for another code; the process's catch-all event subprocess takes it.
    assert open_tasks(engine, instance.id) == ["Handle"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Order"].canceled and activities["Label"].canceled
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def test_a_handlers_bpmn_error_climbs_to_the_boundary_of_the_embedded_subprocess_around_it(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("erp.reserve", rejecting("CREDIT"))
    xml = nested("", boundary=ORDER_BOUNDARY, reserve=True)
    engine.deployments.deploy([("n.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Pack")
    # Nothing on Reserve catches it, nor in Order: the boundary on Order does.
    assert open_tasks(engine, instance.id) == ["ByBoundary"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Reserve"].canceled and activities["Order"].canceled and activities["Label"].canceled
    assert engine.jobs.list() == []


def test_a_handlers_bpmn_error_starts_the_event_subprocess_of_its_embedded_subprocess(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    handlers.register("erp.reserve", rejecting("CREDIT"))
    around = event_subprocess("OnCredit", "Handle", error())
    engine.deployments.deploy([("n.bpmn", nested("", around=around, boundary=ORDER_BOUNDARY, reserve=True))])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Pack")
    assert open_tasks(engine, instance.id) == ["Handle"]  # before the boundary on Order
    assert engine.runtime.variables(instance.id)["missing"] == 2
    complete(engine, instance.id, "Handle")
    assert open_tasks(engine, instance.id) == ["After"]


def test_an_interrupting_escalation_event_subprocess_cancels_its_scope(engine: Engine) -> None:
    xml = fork_with_failing_branch(escalation(), event_subprocess("OnVip", "Handle", escalation()))
    engine.deployments.deploy([("x.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    assert open_tasks(engine, instance.id) == ["Handle"]
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def escalating_process(extra: str) -> bytes:
    """start -> user task `Check` -> escalation throw `Escalate` -> user task `Work` -> end."""
    return definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Check", "f1", "f2")}
    <bpmn:intermediateThrowEvent id="Escalate"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing>{escalation()}</bpmn:intermediateThrowEvent>
    {user_task("Work", "f3", "f4")}
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Check")}{flow("f2", "Check", "Escalate")}{flow("f3", "Escalate", "Work")}
    {flow("f4", "Work", "end")}{extra}""",
        events=ERRORS,
    )


def test_a_non_interrupting_escalation_event_subprocess_runs_beside_the_scope(engine: Engine) -> None:
    xml = escalating_process(event_subprocess("OnVip", "Handle", escalation(None), interrupting=False))
    engine.deployments.deploy([("x.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check", {"customer": "ACME"})
    assert sorted(open_tasks(engine, instance.id)) == ["Handle", "Work"]
    assert engine.runtime.variables(instance.id)["customer"] == "ACME"
    complete(engine, instance.id, "Work")
    assert open_tasks(engine, instance.id) == ["Handle"]  # the main flow ended: the scope waits for it
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def test_an_interrupting_escalation_throw_does_not_go_on_past_the_throw(engine: Engine) -> None:
    xml = escalating_process(event_subprocess("OnVip", "Handle", escalation()))
    engine.deployments.deploy([("x.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    assert open_tasks(engine, instance.id) == ["Handle"]
    assert "Work" not in {a.activity_id for a in engine.history.activities(instance_id=instance.id)}
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def test_an_escalation_nobody_catches_is_ignored(engine: Engine) -> None:
    xml = escalating_process(event_subprocess("OnOther", "Handle", error()))
    engine.deployments.deploy([("x.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    assert open_tasks(engine, instance.id) == ["Work"]


DIALECT_MARKS = {
    "camunda7": ("", 'camunda:candidateGroups="ops"'),
    "bpmn": ("", ""),
    "spiff": ('xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"', ""),
    "camunda8": (
        'xmlns:modeler="http://camunda.org/schema/modeler/1.0" modeler:executionPlatform="Camunda Cloud"',
        "",
    ),
}


@pytest.mark.parametrize("dialect", list(DIALECT_MARKS))
def test_every_dialect_runs_error_and_escalation_event_subprocesses(engine: Engine, dialect: str) -> None:
    root, group = DIALECT_MARKS[dialect]
    extra = event_subprocess("OnCredit", "Handle", error()) + event_subprocess(
        "OnVip", "Answer", escalation(), interrupting=False
    )
    xml = escalating_process(extra).replace(b'camunda:candidateGroups="ops"', group.encode())
    xml = xml.replace(b'id="defs"', f'id="defs" {root}'.encode())
    if dialect == "spiff":  # a spiffworkflow extension, so the file is of that dialect
        xml = xml.replace(
            b'<bpmn:userTask id="Work" >',
            b'<bpmn:userTask id="Work" ><bpmn:extensionElements><spiffworkflow:instructionsForEndUser>'
            b"Work</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>",
        )
    # Work ends in an error end event instead of the plain end.
    xml = xml.replace(
        b'<bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming>',
        b'<bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming>' + error().encode(),
    )
    engine.deployments.deploy([("d.bpmn", xml)])
    assert engine.definitions.latest("p").dialect == dialect
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    assert sorted(open_tasks(engine, instance.id)) == ["Answer", "Work"]  # the escalation did not interrupt
    complete(engine, instance.id, "Work")
    assert open_tasks(engine, instance.id) == ["Handle"]  # the error did, Answer included
    complete(engine, instance.id, "Handle")
    assert state(engine, instance.id) == "COMPLETED"


def test_an_error_in_one_run_of_a_multi_instance_subprocess_reaches_the_boundary_on_it(
    engine: Engine,
) -> None:
    loop = (
        '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" '
        'camunda:elementVariable="item" />'
    )
    xml = nested(error(), boundary=ORDER_BOUNDARY).replace(
        b'<bpmn:subProcess id="Order"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>',
        b'<bpmn:subProcess id="Order"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
        + loop.encode(),
    )
    engine.deployments.deploy([("n.bpmn", xml)])
    instance = engine.runtime.start(key="p", variables={"items": [1, 2]})
    assert sorted(open_tasks(engine, instance.id)) == ["Label", "Label", "Pack", "Pack"]
    [pack, _] = engine.tasks.list(TaskQuery(instance_id=instance.id, activity_id="Pack"))
    engine.tasks.complete(pack.id, {})
    assert open_tasks(engine, instance.id) == ["ByBoundary"]  # every run of Order is cancelled
    history = engine.history.activities(instance_id=instance.id)
    assert [a.canceled for a in history if a.activity_id in ("Order", "Label")] == [True] * 5


@pytest.mark.parametrize("interrupting", [True, False])
def test_an_escalation_throw_inside_a_subprocess_reaches_the_boundary_on_it(
    engine: Engine, interrupting: bool
) -> None:
    cancel = "" if interrupting else ' cancelActivity="false"'
    xml = definitions(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Order"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="o_start"><bpmn:outgoing>h1</bpmn:outgoing></bpmn:startEvent>
      {user_task("Check", "h1", "h2")}
      <bpmn:intermediateThrowEvent id="Escalate"><bpmn:incoming>h2</bpmn:incoming>
        <bpmn:outgoing>h3</bpmn:outgoing>{escalation()}</bpmn:intermediateThrowEvent>
      {user_task("Work", "h3", "h4")}
      <bpmn:endEvent id="o_end"><bpmn:incoming>h4</bpmn:incoming></bpmn:endEvent>
      {flow("h1", "o_start", "Check")}{flow("h2", "Check", "Escalate")}{flow("h3", "Escalate", "Work")}
      {flow("h4", "Work", "o_end")}
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="Escalated" attachedToRef="Order"{cancel}><bpmn:outgoing>x1</bpmn:outgoing>
      {escalation()}</bpmn:boundaryEvent>
    {user_task("ByBoundary", "x1", "x2")}
    <bpmn:endEvent id="x_end"><bpmn:incoming>x2</bpmn:incoming></bpmn:endEvent>
    {user_task("After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    {flow("f1", "start", "Order")}{flow("f2", "Order", "After")}{flow("f3", "After", "end")}
    {flow("x1", "Escalated", "ByBoundary")}{flow("x2", "ByBoundary", "x_end")}""",
        events=ERRORS,
    )
    engine.deployments.deploy([("b.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Check")
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    if interrupting:
        assert open_tasks(engine, instance.id) == ["ByBoundary"]
        assert activities["Order"].canceled and "Work" not in activities
    else:
        assert sorted(open_tasks(engine, instance.id)) == ["ByBoundary", "Work"]
