"""Call activities: the child is an instance of its own, linked to its parent, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from engine import Database, DeploymentError, Engine, FakeClock, TaskQuery
from engine.db.models import JobKind
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from tests.engine.test_error_event_subprocesses import event_subprocess
from tests.helpers import ADMIN, camunda_process

ERROR = '<bpmn:error id="Err" name="Rejected" errorCode="REJECTED" />'
# An interrupting one-hour timer on `Call`, leading to user task `Chase`.
TIMER_BOUNDARY = """<bpmn:boundaryEvent id="Late" attachedToRef="Call"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Chase"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="x1" sourceRef="Late" targetRef="Chase" />"""


def child_process(key: str = "child", body: str = "", wait: bool = True, tag: str | None = None) -> bytes:
    """start -> script `body` -> user task `Work` (if ``wait``) -> end."""
    script = body or "done = True"
    work = (
        '<bpmn:userTask id="Work" camunda:candidateGroups="finance"><bpmn:incoming>c2</bpmn:incoming>'
        "<bpmn:outgoing>c3</bpmn:outgoing></bpmn:userTask>"
        '<bpmn:sequenceFlow id="c3" sourceRef="Work" targetRef="e" />'
        if wait
        else '<bpmn:sequenceFlow id="c3" sourceRef="Calc" targetRef="e" />'
    )
    xml = camunda_process(
        f"""
    <bpmn:startEvent id="s"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Calc" scriptFormat="python"><bpmn:incoming>c1</bpmn:incoming>
      <bpmn:outgoing>c2</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    {work}
    <bpmn:endEvent id="e"><bpmn:incoming>c3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="s" targetRef="Calc" />
    {'<bpmn:sequenceFlow id="c2" sourceRef="Calc" targetRef="Work" />' if wait else ""}""",
        key,
    )
    if tag is not None:
        xml = xml.replace(f'id="{key}"'.encode(), f'id="{key}" camunda:versionTag="{tag}"'.encode(), 1)
    return xml


def parent_process(call: str, mappings: str = "", boundary: str = "", key: str = "parent") -> bytes:
    """start -> call activity `Call` (attributes ``call``) -> user task `After` -> end."""
    return camunda_process(
        f"""
    <bpmn:startEvent id="s"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="Call" {call}><bpmn:extensionElements>{mappings}</bpmn:extensionElements>
      <bpmn:incoming>p1</bpmn:incoming><bpmn:outgoing>p2</bpmn:outgoing></bpmn:callActivity>
    {boundary}
    <bpmn:userTask id="After"><bpmn:incoming>p2</bpmn:incoming>
      <bpmn:outgoing>p3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>p3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="s" targetRef="Call" />
    <bpmn:sequenceFlow id="p2" sourceRef="Call" targetRef="After" />
    <bpmn:sequenceFlow id="p3" sourceRef="After" targetRef="e" />""",
        key,
    )


def parallel_parent() -> bytes:
    """start -> fork -> (call activity `Call` | user task `Side`) -> join -> `After` -> end."""
    return camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>p1</bpmn:incoming><bpmn:outgoing>a1</bpmn:outgoing>
      <bpmn:outgoing>b1</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:callActivity id="Call" calledElement="child"><bpmn:extensionElements>
      <camunda:out source="total" target="total"/></bpmn:extensionElements>
      <bpmn:incoming>a1</bpmn:incoming><bpmn:outgoing>a2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:userTask id="Side"><bpmn:incoming>b1</bpmn:incoming>
      <bpmn:outgoing>b2</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>a2</bpmn:incoming><bpmn:incoming>b2</bpmn:incoming>
      <bpmn:outgoing>p2</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="After"><bpmn:incoming>p2</bpmn:incoming>
      <bpmn:outgoing>p3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>p3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="s" targetRef="Fork" />
    <bpmn:sequenceFlow id="a1" sourceRef="Fork" targetRef="Call" />
    <bpmn:sequenceFlow id="b1" sourceRef="Fork" targetRef="Side" />
    <bpmn:sequenceFlow id="a2" sourceRef="Call" targetRef="Join" />
    <bpmn:sequenceFlow id="b2" sourceRef="Side" targetRef="Join" />
    <bpmn:sequenceFlow id="p2" sourceRef="Join" targetRef="After" />
    <bpmn:sequenceFlow id="p3" sourceRef="After" targetRef="e" />""",
        "parent",
    )


def deploy(engine: Engine, *files: tuple[str, bytes]) -> None:
    engine.deployments.deploy(list(files))


def only_child(engine: Engine, parent_id: str) -> Any:
    [child] = engine.runtime.list(super_instance_id=parent_id, active_only=False)
    return child


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return sorted(t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance_id)))


def complete(
    engine: Engine, instance_id: str, activity_id: str, values: dict[str, Any] | None = None
) -> None:
    [task] = [
        t for t in engine.tasks.list(TaskQuery(instance_id=instance_id)) if t.activity_id == activity_id
    ]
    engine.tasks.complete(task.id, values or {}, actor=ADMIN)


def run_jobs(engine: Engine) -> int:
    ran = 0
    while jobs := engine.jobs.acquire("w", kind=JobKind.HANDLER):
        assert engine.jobs.run(jobs[0].id, "w") == "completed", engine.jobs.get(jobs[0].id).error_message
        ran += 1
    return ran


# -- which definition -----------------------------------------------------------------------------


def test_latest_binding_takes_the_newest_version_and_version_binding_a_fixed_one(engine: Engine) -> None:
    deploy(engine, ("c1.bpmn", child_process(body="v = 1")))
    deploy(engine, ("c2.bpmn", child_process(body="v = 2")))
    latest = parent_process('calledElement="child"', '<camunda:out source="v" target="v"/>', key="latest")
    fixed = parent_process(
        'calledElement="child" camunda:calledElementBinding="version" camunda:calledElementVersion="1"',
        '<camunda:out source="v" target="v"/>',
        key="fixed",
    )
    deploy(engine, ("latest.bpmn", latest), ("fixed.bpmn", fixed))
    for key, version in (("latest", 2), ("fixed", 1)):
        parent = engine.runtime.start(key=key)
        child = only_child(engine, parent.id)
        assert engine.definitions.get(child.definition_id).version == version
        complete(engine, child.id, "Work")
        run_jobs(engine)
        assert engine.runtime.variables(parent.id)["v"] == version


def test_version_tag_and_deployment_bindings_and_an_el_called_element(engine: Engine) -> None:
    deploy(engine, ("c1.bpmn", child_process(body="v = 1", tag="stable")))
    by_tag = parent_process(
        'calledElement="${which}" camunda:calledElementBinding="versionTag" '
        'camunda:calledElementVersionTag="stable"',
        '<camunda:in source="which" target="which"/><camunda:out source="v" target="v"/>',
        key="by_tag",
    )
    same = parent_process(
        'calledElement="child" camunda:calledElementBinding="deployment"',
        '<camunda:out source="v" target="v"/>',
        key="same",
    )
    deploy(engine, ("by_tag.bpmn", by_tag), ("same.bpmn", same), ("c2.bpmn", child_process(body="v = 2")))
    deploy(engine, ("c3.bpmn", child_process(body="v = 3")))
    assert [d.version_tag for d in engine.definitions.list(key="child")] == ["stable", None, None]
    for key, version in (("by_tag", 1), ("same", 2)):
        parent = engine.runtime.start(key=key, variables={"which": "child"})
        child = only_child(engine, parent.id)
        complete(engine, child.id, "Work")
        run_jobs(engine)
        assert engine.runtime.variables(parent.id)["v"] == version


def test_a_missing_called_definition_is_an_incident_naming_the_key_until_it_is_deployed(
    engine: Engine,
) -> None:
    deployed = engine.deployments.deploy([("parent.bpmn", parent_process('calledElement="billing"'))])
    [warning] = deployed.warnings  # deployed all the same: Camunda resolves the key at run time
    assert (warning.element_id, warning.line) == ("Call", 9)
    assert "calls process `billing`, which is not deployed (yet)" in warning.message
    parent = engine.runtime.start(key="parent")
    assert engine.runtime.get(parent.id).state == "ACTIVE"
    assert engine.runtime.list(super_instance_id=parent.id) == []
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.instance_id == parent.id and incident.activity_id == "Call"
    assert "calls process `billing`" in (incident.error_message or "")
    assert "no such process definition is deployed" in (incident.error_message or "")
    assert engine.deployments.deploy([("billing.bpmn", child_process("billing"))]).warnings == []
    again = engine.deployments.deploy([("again.bpmn", parent_process('calledElement="billing"'))])
    assert again.warnings == []
    engine.jobs.set_retries(incident.id, 1)
    run_jobs(engine)
    assert engine.jobs.list() == []
    assert only_child(engine, parent.id).process_key == "billing"


# -- variables --------------------------------------------------------------------------------------


def test_without_mappings_nothing_goes_in_or_comes_back(engine: Engine) -> None:
    # A Camunda 7 file (it uses camunda: attributes); a plain BPMN file passes everything (spiff semantic).
    call = 'calledElement="child" camunda:calledElementBinding="latest"'
    deploy(engine, ("c.bpmn", child_process(body="secret = 1")), ("p.bpmn", parent_process(call)))
    parent = engine.runtime.start(key="parent", variables={"amount": 5}, business_key="B-1")
    child = only_child(engine, parent.id)
    assert child.business_key is None
    assert engine.runtime.variables(child.id) == {"secret": 1}
    complete(engine, child.id, "Work")
    run_jobs(engine)
    assert engine.runtime.variables(parent.id) == {"amount": 5}
    assert open_tasks(engine, parent.id) == ["After"]


def test_every_form_of_in_and_out_mapping(engine: Engine) -> None:
    mappings = """
      <camunda:in source="amount" target="net" />
      <camunda:in source="absent" target="nothing" />
      <camunda:in sourceExpression="${amount * 2}" target="doubled" />
      <camunda:in businessKey="#{execution.processBusinessKey}" />
      <camunda:out source="total" target="grandTotal" />
      <camunda:out sourceExpression="${total &gt; 100}" target="big" />"""
    child = child_process(body="total = net + doubled")
    deploy(engine, ("c.bpmn", child), ("p.bpmn", parent_process('calledElement="child"', mappings)))
    parent = engine.runtime.start(key="parent", variables={"amount": 40, "other": "x"}, business_key="B-1")
    called = only_child(engine, parent.id)
    assert called.business_key == "B-1"
    assert engine.runtime.variables(called.id) == {"net": 40, "nothing": None, "doubled": 80, "total": 120}
    complete(engine, called.id, "Work")
    run_jobs(engine)
    assert engine.runtime.variables(parent.id) == {"amount": 40, "other": "x", "grandTotal": 120, "big": True}


def test_variables_all_in_and_out(engine: Engine) -> None:
    mappings = '<camunda:in variables="all" /><camunda:out variables="all" />'
    deploy(
        engine,
        ("c.bpmn", child_process(body="total = amount + 1")),
        ("p.bpmn", parent_process('calledElement="child"', mappings)),
    )
    parent = engine.runtime.start(key="parent", variables={"amount": 1, "note": "n"})
    called = only_child(engine, parent.id)
    assert engine.runtime.variables(called.id) == {"amount": 1, "note": "n", "total": 2}
    complete(engine, called.id, "Work", {"approved": True})
    run_jobs(engine)
    assert engine.runtime.variables(parent.id) == {"amount": 1, "note": "n", "total": 2, "approved": True}


# -- waiting, resuming, ending -----------------------------------------------------------------------


def test_a_child_without_wait_state_ends_in_the_parents_step_and_the_parent_goes_on(engine: Engine) -> None:
    deploy(
        engine,
        ("c.bpmn", child_process(body="total = 7", wait=False)),
        ("p.bpmn", parent_process('calledElement="child"', '<camunda:out source="total" target="total"/>')),
    )
    parent = engine.runtime.start(key="parent")
    assert open_tasks(engine, parent.id) == ["After"]
    assert engine.runtime.variables(parent.id) == {"total": 7}
    assert only_child(engine, parent.id).state == "COMPLETED"
    assert engine.jobs.list() == []


def test_the_parent_waits_and_a_concurrent_change_of_the_parent_is_not_lost(engine: Engine) -> None:
    """The child's end is applied by a job that locks the parent: a parallel branch changed meanwhile."""
    parallel = parallel_parent()
    deploy(engine, ("c.bpmn", child_process(body="total = 3")), ("p.bpmn", parallel))
    parent = engine.runtime.start(key="parent")
    child = only_child(engine, parent.id)
    assert open_tasks(engine, parent.id) == ["Side"]
    complete(engine, child.id, "Work")  # the child ends; its job for the parent waits
    assert engine.runtime.open_activities(parent.id) == ["Call", "Side"]
    complete(engine, parent.id, "Side", {"side": "done"})  # the parent changes before the job runs
    assert run_jobs(engine) == 1
    assert open_tasks(engine, parent.id) == ["After"]
    assert engine.runtime.variables(parent.id) == {"side": "done", "total": 3}


def test_an_uncaught_error_end_event_in_the_child_reaches_the_error_boundary_at_once(engine: Engine) -> None:
    child = camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="Fail"><bpmn:incoming>c1</bpmn:incoming>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="s" targetRef="Fail" />""",
        "child",
    ).replace(b'<bpmn:process id="child"', ERROR.encode() + b'<bpmn:process id="child"')
    boundary = """<bpmn:boundaryEvent id="Caught" attachedToRef="Call"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>
    <bpmn:userTask id="Handle"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="x1" sourceRef="Caught" targetRef="Handle" />"""
    parent = parent_process('calledElement="child"', boundary=boundary).replace(
        b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"'
    )
    deploy(engine, ("c.bpmn", child), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    assert open_tasks(engine, started.id) == ["Handle"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=started.id)}
    assert activities["Call"].canceled and activities["Caught"].ended_at is not None


def failing_child() -> bytes:
    """start -> user task `Work` -> error end event REJECTED."""
    return camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Work"><bpmn:incoming>c1</bpmn:incoming>
      <bpmn:outgoing>c2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Fail"><bpmn:incoming>c2</bpmn:incoming>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="s" targetRef="Work" />
    <bpmn:sequenceFlow id="c2" sourceRef="Work" targetRef="Fail" />""",
        "child",
    ).replace(b'<bpmn:process id="child"', ERROR.encode() + b'<bpmn:process id="child"')


def test_a_child_error_climbs_to_the_boundary_of_an_embedded_subprocess_around_the_call(
    engine: Engine,
) -> None:
    parent = camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="Billing"><bpmn:incoming>p1</bpmn:incoming><bpmn:outgoing>p2</bpmn:outgoing>
      <bpmn:startEvent id="bs"><bpmn:outgoing>b1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:callActivity id="Call" calledElement="child" camunda:calledElementBinding="latest">
        <bpmn:incoming>b1</bpmn:incoming><bpmn:outgoing>b2</bpmn:outgoing></bpmn:callActivity>
      <bpmn:endEvent id="be"><bpmn:incoming>b2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="b1" sourceRef="bs" targetRef="Call" />
      <bpmn:sequenceFlow id="b2" sourceRef="Call" targetRef="be" />
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="Caught" attachedToRef="Billing"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>
    <bpmn:userTask id="Handle"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>p2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="s" targetRef="Billing" />
    <bpmn:sequenceFlow id="p2" sourceRef="Billing" targetRef="e" />
    <bpmn:sequenceFlow id="x1" sourceRef="Caught" targetRef="Handle" />""",
        "parent",
    ).replace(b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"')
    deploy(engine, ("c.bpmn", failing_child()), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    complete(engine, child.id, "Work")
    run_jobs(engine)
    assert open_tasks(engine, started.id) == ["Handle"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=started.id)}
    assert activities["Call"].canceled and activities["Billing"].canceled
    assert all(a.ended_at is not None for a in activities.values() if a.activity_id != "Handle")


def test_a_child_error_nobody_catches_ends_the_child_and_the_parent_goes_on(engine: Engine) -> None:
    parent = parent_process('calledElement="child"').replace(
        b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"'
    )
    deploy(engine, ("c.bpmn", failing_child()), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    complete(engine, child.id, "Work")
    run_jobs(engine)
    # As in Camunda 7: an error end event nothing catches behaves as a none end event.
    assert engine.runtime.get(child.id).state == "COMPLETED"
    assert open_tasks(engine, started.id) == ["After"]


def rejecting_child(wait: bool, asynchronous: bool = False) -> bytes:
    """start -> (user task `Work`) -> service task `Check` (handler `check`) -> end."""
    later = ' camunda:asyncBefore="true"' if asynchronous else ""
    first = "Work" if wait else "Check"
    work = (
        '<bpmn:userTask id="Work"><bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c0</bpmn:outgoing>'
        '</bpmn:userTask><bpmn:sequenceFlow id="c0" sourceRef="Work" targetRef="Check" />'
    )
    return camunda_process(
        f"""
    <bpmn:startEvent id="s"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    {work if wait else ""}
    <bpmn:serviceTask id="Check" camunda:delegateExpression="${{check}}"{later}>
      <bpmn:incoming>{"c0" if wait else "c1"}</bpmn:incoming>
      <bpmn:outgoing>c2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="ce"><bpmn:incoming>c2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="s" targetRef="{first}" />
    <bpmn:sequenceFlow id="c2" sourceRef="Check" targetRef="ce" />""",
        "child",
    )


@pytest.mark.parametrize(
    ("wait", "asynchronous"),
    [(False, False), (True, False), (False, True)],
    ids=["in-the-parents-step", "in-a-later-step", "in-a-job"],
)
def test_a_handlers_bpmn_error_in_the_child_reaches_the_call_activitys_boundary(
    engine: Engine, handlers: HandlerRegistry, wait: bool, asynchronous: bool
) -> None:
    def check(ctx: HandlerContext) -> None:
        raise BpmnError("REJECTED", "credit refused")

    handlers.register("check", check)
    boundary = """<bpmn:boundaryEvent id="Caught" attachedToRef="Call"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>
    <bpmn:userTask id="Handle"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="x1" sourceRef="Caught" targetRef="Handle" />"""
    parent = parent_process('calledElement="child"', boundary=boundary).replace(
        b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"'
    )
    deploy(engine, ("c.bpmn", rejecting_child(wait, asynchronous)), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    if wait:
        complete(engine, child.id, "Work")
    while jobs := engine.jobs.acquire("w", kind=JobKind.HANDLER):
        engine.jobs.run(jobs[0].id, "w")  # the child's job fails with the error; the parent's catches it
    assert open_tasks(engine, started.id) == ["Handle"]
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"
    assert engine.jobs.list() == []  # the child's incident went with it


def test_a_handlers_bpmn_error_nobody_catches_stays_an_incident_of_the_child(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    def check(ctx: HandlerContext) -> None:
        raise BpmnError("REJECTED", "credit refused")

    handlers.register("check", check)
    deploy(engine, ("c.bpmn", rejecting_child(True)), ("p.bpmn", parent_process('calledElement="child"')))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    complete(engine, child.id, "Work")
    run_jobs(engine)  # the parent's job finds no catcher
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.instance_id == child.id and "REJECTED" in (incident.error_message or "")
    assert engine.runtime.open_activities(started.id) == ["Call"]


def test_an_interrupting_timer_boundary_on_the_call_activity_cancels_the_child(
    engine: Engine, clock: FakeClock
) -> None:
    deploy(
        engine,
        ("c.bpmn", child_process()),
        ("p.bpmn", parent_process('calledElement="child"', boundary=TIMER_BOUNDARY)),
    )
    parent = engine.runtime.start(key="parent")
    child = only_child(engine, parent.id)
    assert open_tasks(engine, child.id) == ["Work"]
    clock.advance(hours=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, parent.id) == ["Chase"]
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"
    assert open_tasks(engine, child.id) == []
    [work] = [t for t in engine.history.tasks(instance_id=child.id)]
    assert work.delete_reason == "deleted"


def test_an_interrupting_message_boundary_cancels_the_child_and_its_own_child(engine: Engine) -> None:
    boundary = """<bpmn:boundaryEvent id="Stop" attachedToRef="Call"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="Msg" /></bpmn:boundaryEvent>
    <bpmn:userTask id="Stopped"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="x1" sourceRef="Stop" targetRef="Stopped" />"""
    parent = parent_process('calledElement="middle"', boundary=boundary).replace(
        b'<bpmn:process id="parent"', b'<bpmn:message id="Msg" name="stop" /><bpmn:process id="parent"'
    )
    middle = parent_process('calledElement="child"', key="middle")
    deploy(engine, ("c.bpmn", child_process()), ("m.bpmn", middle), ("p.bpmn", parent))
    top = engine.runtime.start(key="parent", business_key="B-9")
    mid = only_child(engine, top.id)
    leaf = only_child(engine, mid.id)
    assert leaf.root_instance_id == top.id
    engine.messages.correlate("stop", business_key="B-9")
    assert open_tasks(engine, top.id) == ["Stopped"]
    assert [engine.runtime.get(i.id).state for i in (mid, leaf)] == ["EXTERNALLY_TERMINATED"] * 2


def test_deleting_the_parent_cancels_the_child(engine: Engine) -> None:
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", parent_process('calledElement="child"')))
    parent = engine.runtime.start(key="parent")
    child = only_child(engine, parent.id)
    engine.runtime.delete(parent.id, actor=ADMIN)
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"
    assert engine.tasks.list(TaskQuery()) == []


def test_deleting_the_child_alone_is_an_incident_on_the_parent(engine: Engine) -> None:
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", parent_process('calledElement="child"')))
    parent = engine.runtime.start(key="parent")
    child = only_child(engine, parent.id)
    engine.runtime.delete(child.id, actor=ADMIN)
    [incident] = engine.jobs.list(incidents_only=True)
    assert incident.instance_id == parent.id and incident.activity_id == "Call"
    assert f"the called instance {child.id}" in (incident.error_message or "")
    engine.jobs.set_retries(incident.id, 1)  # retrying cannot help: it fails the same way
    [job] = engine.jobs.acquire("w", kind=JobKind.HANDLER)
    assert engine.jobs.run(job.id, "w") == "failed"
    assert engine.runtime.open_activities(parent.id) == ["Call"]


@pytest.mark.parametrize("dialect", ["spiff", "plain"])
def test_spiff_and_plain_call_activities_pass_every_variable_in_and_out(engine: Engine, dialect: str) -> None:
    ns = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"' if dialect == "spiff" else ""
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {ns} id="d" targetNamespace="t">
  <bpmn:process id="parent" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="Call" calledElement="child"><bpmn:incoming>p1</bpmn:incoming>
      <bpmn:outgoing>p2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:userTask id="After"><bpmn:incoming>p2</bpmn:incoming>
      <bpmn:outgoing>p3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e"><bpmn:incoming>p3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="s" targetRef="Call" />
    <bpmn:sequenceFlow id="p2" sourceRef="Call" targetRef="After" />
    <bpmn:sequenceFlow id="p3" sourceRef="After" targetRef="e" />
  </bpmn:process>
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="cs"><bpmn:outgoing>c1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Calc"><bpmn:incoming>c1</bpmn:incoming><bpmn:outgoing>c2</bpmn:outgoing>
      <bpmn:script>total = amount * 3</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="Work"><bpmn:incoming>c2</bpmn:incoming>
      <bpmn:outgoing>c3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="ce"><bpmn:incoming>c3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="c1" sourceRef="cs" targetRef="Calc" />
    <bpmn:sequenceFlow id="c2" sourceRef="Calc" targetRef="Work" />
    <bpmn:sequenceFlow id="c3" sourceRef="Work" targetRef="ce" />
  </bpmn:process>
</bpmn:definitions>"""
    if dialect == "spiff":
        doc = doc.replace(
            '<bpmn:userTask id="Work">',
            '<bpmn:userTask id="Work"><bpmn:extensionElements><spiffworkflow:instructionsForEndUser>'
            "Check</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>",
        )
    deploy(engine, ("both.bpmn", doc.encode()))
    parent = engine.runtime.start(key="parent", variables={"amount": 2})
    child = only_child(engine, parent.id)
    assert engine.runtime.variables(child.id) == {"amount": 2, "total": 6}
    complete(engine, child.id, "Work", {"checked": True})
    run_jobs(engine)
    assert open_tasks(engine, parent.id) == ["After"]
    assert engine.runtime.variables(parent.id) == {"amount": 2, "total": 6, "checked": True}


def test_deploy_names_call_activities_that_cannot_run(engine: Engine) -> None:
    bad = [
        ('camunda:calledElementBinding="latest"', "", "has no calledElement"),
        ('calledElement="c" camunda:calledElementBinding="newest"', "", "is not one of latest"),
        (
            'calledElement="c" camunda:calledElementBinding="version"',
            "",
            "needs camunda:calledElementVersion",
        ),
        ('calledElement="c"', '<camunda:in source="x" />', "camunda:in needs source"),
        ('calledElement="c"', '<camunda:out sourceExpression="${x +}" target="y" />', "sourceExpression"),
    ]
    for call, mappings, message in bad:
        with pytest.raises(DeploymentError) as err:
            deploy(engine, ("p.bpmn", parent_process(call, mappings)))
        [problem] = err.value.problems
        assert problem.element_id == "Call" and message in problem.message, problem.message


def test_a_terminate_end_event_in_the_parent_cancels_the_running_child(engine: Engine) -> None:
    parent = camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>p1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>p1</bpmn:incoming><bpmn:outgoing>a1</bpmn:outgoing>
      <bpmn:outgoing>b1</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:callActivity id="Call" calledElement="child" camunda:calledElementBinding="latest">
      <bpmn:incoming>a1</bpmn:incoming><bpmn:outgoing>a2</bpmn:outgoing></bpmn:callActivity>
    <bpmn:endEvent id="Done"><bpmn:incoming>a2</bpmn:incoming></bpmn:endEvent>
    <bpmn:userTask id="Abort"><bpmn:incoming>b1</bpmn:incoming>
      <bpmn:outgoing>b2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="Stop"><bpmn:incoming>b2</bpmn:incoming>
      <bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:sequenceFlow id="p1" sourceRef="s" targetRef="Fork" />
    <bpmn:sequenceFlow id="a1" sourceRef="Fork" targetRef="Call" />
    <bpmn:sequenceFlow id="b1" sourceRef="Fork" targetRef="Abort" />
    <bpmn:sequenceFlow id="a2" sourceRef="Call" targetRef="Done" />
    <bpmn:sequenceFlow id="b2" sourceRef="Abort" targetRef="Stop" />""",
        "parent",
    )
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    complete(engine, started.id, "Abort")
    assert engine.runtime.get(started.id).state == "COMPLETED"
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"
    assert engine.tasks.list(TaskQuery()) == []


def test_an_interrupting_event_subprocess_of_the_parent_cancels_the_child(engine: Engine) -> None:
    event_subprocess = """
    <bpmn:subProcess id="OnCancel" triggeredByEvent="true">
      <bpmn:startEvent id="CancelStart" isInterrupting="true"><bpmn:outgoing>e1</bpmn:outgoing>
        <bpmn:messageEventDefinition messageRef="Msg" /></bpmn:startEvent>
      <bpmn:userTask id="Cancelled"><bpmn:incoming>e1</bpmn:incoming><bpmn:outgoing>e2</bpmn:outgoing>
      </bpmn:userTask>
      <bpmn:endEvent id="CancelEnd"><bpmn:incoming>e2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="e1" sourceRef="CancelStart" targetRef="Cancelled" />
      <bpmn:sequenceFlow id="e2" sourceRef="Cancelled" targetRef="CancelEnd" />
    </bpmn:subProcess>"""
    parent = parent_process('calledElement="child"', boundary=event_subprocess).replace(
        b'<bpmn:process id="parent"', b'<bpmn:message id="Msg" name="cancel" /><bpmn:process id="parent"'
    )
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent", business_key="B-2")
    child = only_child(engine, started.id)
    engine.messages.correlate("cancel", business_key="B-2")
    assert open_tasks(engine, started.id) == ["Cancelled"]
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"


# The parent's event subprocess `OnError`: its error start catches REJECTED -> user task `Handle`.
ERROR_EVENT_SUBPROCESS = event_subprocess("OnError", "Handle", '<bpmn:errorEventDefinition errorRef="Err" />')


def test_a_child_error_reaches_an_error_event_subprocess_of_the_parent(engine: Engine) -> None:
    # The parent waits beside the call (`Side`): the error event subprocess interrupts both.
    parent = (
        parallel_parent()
        .replace(b"</bpmn:process>", ERROR_EVENT_SUBPROCESS.encode() + b"</bpmn:process>")
        .replace(b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"')
    )
    deploy(engine, ("c.bpmn", failing_child()), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    assert open_tasks(engine, started.id) == ["Side"]
    complete(engine, child.id, "Work")
    run_jobs(engine)
    assert open_tasks(engine, started.id) == ["Handle"]
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=started.id)}
    assert activities["Call"].canceled and activities["Side"].canceled
    assert engine.runtime.get(child.id).state == "COMPLETED"  # its error end event ended it
    complete(engine, started.id, "Handle")
    assert engine.runtime.get(started.id).state == "COMPLETED"


@pytest.mark.parametrize("wait", [False, True], ids=["in-the-parents-step", "in-a-later-step"])
def test_a_handlers_bpmn_error_in_the_child_reaches_an_error_event_subprocess_of_the_parent(
    engine: Engine, handlers: HandlerRegistry, wait: bool
) -> None:
    def check(ctx: HandlerContext) -> None:
        raise BpmnError("REJECTED", "credit refused")

    handlers.register("check", check)
    parent = parent_process('calledElement="child"', boundary=ERROR_EVENT_SUBPROCESS).replace(
        b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"'
    )
    deploy(engine, ("c.bpmn", rejecting_child(wait)), ("p.bpmn", parent))
    started = engine.runtime.start(key="parent")
    child = only_child(engine, started.id)
    if wait:
        complete(engine, child.id, "Work")
    while jobs := engine.jobs.acquire("w", kind=JobKind.HANDLER):
        engine.jobs.run(jobs[0].id, "w")
    assert open_tasks(engine, started.id) == ["Handle"]
    assert engine.runtime.get(child.id).state == "EXTERNALLY_TERMINATED"
    assert engine.jobs.list() == []  # the child's incident went with it


def race(*actions: Callable[[], object]) -> list[BaseException]:
    """Run ``actions`` at the same moment, each in a thread; what they raised."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as err:  # reported by the caller
            errors.append(err)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def end_child(engine: Engine, child_id: str) -> None:
    complete(engine, child_id, "Work")
    run_jobs(engine)


def test_a_child_ending_while_its_parent_changes_loses_nothing(engine: Engine, db_url: str) -> None:
    """Two engines on one database, as two servers: the child's end and a parent change race."""
    deploy(engine, ("c.bpmn", child_process(body="total = 3")), ("p.bpmn", parallel_parent()))
    other = Engine(Database(db_url), migrate=False)
    try:
        for _ in range(5):
            parent = engine.runtime.start(key="parent")
            child = only_child(engine, parent.id)
            errors = race(
                partial(end_child, other, child.id),
                partial(complete, engine, parent.id, "Side", {"side": 1}),
            )
            assert not errors, errors
            run_jobs(engine)
            assert open_tasks(engine, parent.id) == ["After"]
            assert engine.runtime.variables(parent.id) == {"side": 1, "total": 3}
    finally:
        other.close()
