"""Timers: intermediate catches, boundaries, timer start events, fired by the FakeClock and workers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine import DeploymentError, Engine, FakeClock, TaskQuery
from engine.db import Database
from engine.testing import ProcessTest
from engine.worker import Worker
from tests.helpers import camunda_process
from tests.workers.processes import wait_until


def timer(kind: str, value: str) -> str:
    return f"<bpmn:timerEventDefinition><bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition>"


def user_task(task_id: str, incoming: str, outgoing: str) -> str:
    # camunda:candidateGroups makes the file Camunda 7 dialect (declaring the namespace is not enough).
    return (
        f'<bpmn:userTask id="{task_id}" camunda:candidateGroups="ops"><bpmn:incoming>{incoming}'
        f"</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:userTask>"
    )


def wait_process(kind: str = "timeDuration", value: str = "PT1H") -> bytes:
    """start -> timer catch `wait` -> user task `After` -> end."""
    return camunda_process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>{timer(kind, value)}</bpmn:intermediateCatchEvent>
    {user_task("After", "f2", "f3")}
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="end" />"""
    )


def boundary_process(
    value: str, *, interrupting: bool, kind: str = "timeDuration", activity: str = ""
) -> bytes:
    """start -> `Approve` (a user task, or ``activity``) with boundary timer `late` -> `Chase`."""
    cancel = "true" if interrupting else "false"
    return camunda_process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {activity or user_task("Approve", "f1", "f2")}
    <bpmn:boundaryEvent id="late" attachedToRef="Approve" cancelActivity="{cancel}">
      <bpmn:outgoing>f3</bpmn:outgoing>{timer(kind, value)}</bpmn:boundaryEvent>
    {user_task("Chase", "f3", "f4")}
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="chased"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="late" targetRef="Chase" />
    <bpmn:sequenceFlow id="f4" sourceRef="Chase" targetRef="chased" />"""
    )


def start_timer_process(kind: str, value: str, process_id: str = "report") -> bytes:
    """timer start `every` -> user task `Report` -> end."""
    return camunda_process(
        f"""
    <bpmn:startEvent id="every"><bpmn:outgoing>f1</bpmn:outgoing>{timer(kind, value)}</bpmn:startEvent>
    {user_task("Report", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="every" targetRef="Report" />
    <bpmn:sequenceFlow id="f2" sourceRef="Report" targetRef="end" />""",
        process_id,
    )


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance_id))]


def test_intermediate_timer_waits_until_its_due_time_then_fires_once(
    engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process("timeDuration", "PT1H"))])
    assert engine.definitions.latest("p").dialect == "camunda7"
    instance = engine.runtime.start(key="p")
    [row] = engine.timers.list(instance_id=instance.id)
    assert (row.activity_id, row.due_at) == ("wait", clock.now + timedelta(hours=1))
    clock.advance(minutes=59)
    assert engine.timers.fire_due("w") == 0
    assert engine.runtime.open_activities(instance.id) == ["wait"]
    clock.advance(minutes=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["After"]
    assert engine.timers.list() == []
    assert engine.timers.fire_due("w") == 0
    fired = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "wait"]
    assert [(a.ended_at is not None, a.canceled) for a in fired] == [(True, False)]


def test_plain_bpmn_files_get_the_same_timers(engine: Engine, clock: FakeClock) -> None:
    plain = wait_process("timeDuration", "PT5M").replace(b' camunda:candidateGroups="ops"', b"")
    engine.deployments.deploy([("plain.bpmn", plain)])
    assert engine.definitions.latest("p").dialect == "bpmn"
    instance = engine.runtime.start(key="p")
    clock.advance(minutes=5)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["After"]


def test_time_date_and_variable_references_are_translated(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy(
        [
            ("date.bpmn", wait_process("timeDate", "2026-01-03T09:00:00Z").replace(b'id="p"', b'id="d"')),
            ("ref.bpmn", wait_process("timeDuration", "${order.wait}").replace(b'id="p"', b'id="r"')),
        ]
    )
    dated = engine.runtime.start(key="d")
    referenced = engine.runtime.start(key="r", variables={"order": {"wait": "P1D"}})
    due = {t.instance_id: t.due_at for t in engine.timers.list()}
    assert due == {
        dated.id: datetime(2026, 1, 3, 9, tzinfo=UTC),
        referenced.id: clock.now + timedelta(days=1),
    }
    clock.advance(days=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, referenced.id) == ["After"]
    assert engine.runtime.open_activities(dated.id) == ["wait"]


def test_timer_values_written_in_camunda_el(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy(
        [
            ("text.bpmn", wait_process("timeDuration", "PT${minutes}M").replace(b'id="p"', b'id="t"')),
            (
                "choice.bpmn",
                wait_process("timeDuration", "${rush ? 'PT5M' : 'PT2H'}").replace(b'id="p"', b'id="c"'),
            ),
        ]
    )
    text = engine.runtime.start(key="t", variables={"minutes": 30})
    rushed = engine.runtime.start(key="c", variables={"rush": True})
    calm = engine.runtime.start(key="c", variables={"rush": False})
    due = {t.instance_id: t.due_at for t in engine.timers.list()}
    assert due == {
        text.id: clock.now + timedelta(minutes=30),
        rushed.id: clock.now + timedelta(minutes=5),
        calm.id: clock.now + timedelta(hours=2),
    }
    clock.advance(minutes=30)
    assert engine.timers.fire_due("w") == 2
    assert (open_tasks(engine, text.id), open_tasks(engine, rushed.id)) == (["After"], ["After"])
    assert engine.runtime.open_activities(calm.id) == ["wait"]


def test_interrupting_boundary_timer_cancels_the_task(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process("PT2H", interrupting=True))])
    instance = engine.runtime.start(key="p")
    assert open_tasks(engine, instance.id) == ["Approve"]
    clock.advance(hours=2)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["Chase"]
    approve = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "Approve"]
    assert approve[0].canceled


def test_boundary_timer_goes_when_the_task_is_completed_first(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process("PT2H", interrupting=True))])
    instance = engine.runtime.start(key="p")
    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(task.id)
    assert engine.timers.list() == []
    clock.advance(hours=3)
    assert engine.timers.fire_due("w") == 0
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_non_interrupting_cycle_fires_each_repetition_and_keeps_the_task(
    engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process("R2/PT1H", interrupting=False, kind="timeCycle"))])
    instance = engine.runtime.start(key="p")
    for hour in (1, 2):
        clock.advance(hours=1)
        assert engine.timers.fire_due("w") == 1
        assert sorted(open_tasks(engine, instance.id)) == ["Approve"] + ["Chase"] * hour
    assert engine.timers.list() == []  # two repetitions, then the cycle is over
    clock.advance(hours=5)
    assert engine.timers.fire_due("w") == 0
    assert sorted(open_tasks(engine, instance.id)) == ["Approve", "Chase", "Chase"]


def test_interrupting_boundary_cycle_interrupts_at_its_first_time(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("b.bpmn", boundary_process("R3/PT1H", interrupting=True, kind="timeCycle"))])
    instance = engine.runtime.start(key="p")
    clock.advance(hours=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["Chase"]
    assert engine.timers.list() == []


def test_time_date_from_a_date_variable(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("d.bpmn", wait_process("timeDate", "${deadline}"))])
    deadline = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)
    instance = engine.runtime.start(key="p", variables={"deadline": deadline})
    assert [t.due_at for t in engine.timers.list(instance_id=instance.id)] == [deadline]


def test_timer_start_cycle_starts_instances_on_schedule(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("s.bpmn", start_timer_process("timeCycle", "R3/PT1H"))])
    [row] = engine.timers.list(process_key="report")
    assert (row.scope, row.due_at) == ("start", clock.now + timedelta(hours=1))
    assert engine.runtime.count(process_key="report") == 0
    for expected in (1, 2, 3):
        clock.advance(hours=1)
        assert engine.timers.fire_due("w") == 1
        assert engine.runtime.count(process_key="report") == expected
    assert engine.timers.list() == []
    [first, *_] = engine.runtime.list(process_key="report")
    assert open_tasks(engine, first.id) == ["Report"]


def test_new_version_replaces_the_start_timer_and_cron_is_understood(
    engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("s.bpmn", start_timer_process("timeCycle", "R/PT1H"))])
    engine.deployments.deploy([("s.bpmn", start_timer_process("timeCycle", "0 30 9 * * ?"))])
    [row] = engine.timers.list(process_key="report")
    assert row.due_at == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert row.definition_id == engine.definitions.latest("report").id
    clock.advance(hours=9, minutes=30)
    assert engine.timers.fire_due("w") == 1
    [started] = engine.runtime.list(process_key="report")
    assert started.definition_id == row.definition_id
    [row] = engine.timers.list(process_key="report")
    assert row.due_at == datetime(2026, 1, 2, 9, 30, tzinfo=UTC)


def test_timer_due_while_no_worker_ran_fires_after_a_restart(
    engine: Engine, clock: FakeClock, db_url: str
) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process("timeDuration", "PT10M"))])
    instance = engine.runtime.start(key="p")
    engine.close()
    clock.advance(hours=5)  # Flowdesk was down while the timer fell due
    restarted = Engine(Database(db_url), clock=clock, handlers=engine.handlers)
    try:
        assert Worker(restarted).run_once() == 1
        assert open_tasks(restarted, instance.id) == ["After"]
    finally:
        restarted.close()


def test_each_due_timer_fires_once_with_two_workers(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process("timeDuration", "PT1M"))])
    ids = [engine.runtime.start(key="p").id for _ in range(12)]
    clock.advance(minutes=1)
    counts: list[int] = []

    def work(name: str) -> None:
        counts.append(engine.timers.fire_due(name))

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 12
    assert all(open_tasks(engine, i) == ["After"] for i in ids)
    waits = [a for a in engine.history.activities() if a.activity_id == "wait"]
    assert len(waits) == 12 and all(a.ended_at is not None for a in waits)


def test_a_locked_timer_is_not_taken_by_another_worker(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process("timeDuration", "PT1M"))])
    engine.runtime.start(key="p")
    clock.advance(minutes=1)
    [timer_id] = engine.timers.acquire("w1")
    assert engine.timers.acquire("w2") == []
    assert engine.timers.fire(timer_id, "w2") == "skipped"
    assert engine.timers.fire(timer_id, "w1") == "fired"


def test_deleting_an_instance_removes_its_timers(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process())])
    instance = engine.runtime.start(key="p")
    engine.runtime.delete(instance.id)
    assert engine.timers.list() == []


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (wait_process("timeDuration", "PT1X"), "timeDuration `PT1X`"),
        (wait_process("timeCycle", "R3/every hour"), "timeCycle `R3/every hour`"),
        (start_timer_process("timeDate", "${when}"), "before any variable exists"),
        (wait_process("timeDuration", "${a +}"), "timer expression `${a +}`"),
        (wait_process("timeDuration", "${x.getClass()}"), "timer expression `${x.getClass()}`"),
    ],
)
def test_bad_timer_values_are_refused_at_deploy(engine: Engine, xml: bytes, expected: str) -> None:
    with pytest.raises(DeploymentError) as caught:
        engine.deployments.deploy([("bad.bpmn", xml)])
    [problem] = caught.value.problems
    assert expected in problem.message
    assert problem.element_id in ("wait", "every") and problem.line is not None


def event_subprocess_process(interrupting: bool) -> bytes:
    """start -> user task `Work` -> end, with a timer event subprocess `sla` (PT1H -> `Escalate`)."""
    return camunda_process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {user_task("Work", "f1", "f2")}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Work" />
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="end" />
    <bpmn:subProcess id="sla" triggeredByEvent="true">
      <bpmn:startEvent id="sla_start" isInterrupting="{str(interrupting).lower()}">
        <bpmn:outgoing>g1</bpmn:outgoing>{timer("timeDuration", "PT1H")}</bpmn:startEvent>
      {user_task("Escalate", "g1", "g2")}
      <bpmn:endEvent id="sla_end"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="g1" sourceRef="sla_start" targetRef="Escalate" />
      <bpmn:sequenceFlow id="g2" sourceRef="Escalate" targetRef="sla_end" />
    </bpmn:subProcess>"""
    )


def complete(engine: Engine, instance_id: str, activity_id: str) -> None:
    [task] = engine.tasks.list(TaskQuery(instance_id=instance_id, activity_id=activity_id))
    engine.tasks.complete(task.id)


def test_interrupting_timer_event_subprocess_cancels_the_main_flow(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("esp.bpmn", event_subprocess_process(interrupting=True))])
    instance = engine.runtime.start(key="p")
    clock.advance(hours=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["Escalate"]
    complete(engine, instance.id, "Escalate")
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    work = [a for a in engine.history.activities(instance_id=instance.id) if a.activity_id == "Work"]
    assert work[0].canceled


def test_non_interrupting_timer_event_subprocess_runs_beside_the_main_flow(
    engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("esp.bpmn", event_subprocess_process(interrupting=False))])
    instance = engine.runtime.start(key="p")
    clock.advance(hours=1)
    assert engine.timers.fire_due("w") == 1
    assert sorted(open_tasks(engine, instance.id)) == ["Escalate", "Work"]
    complete(engine, instance.id, "Work")
    assert engine.runtime.get(instance.id).state == "ACTIVE"  # the triggered subprocess still runs
    complete(engine, instance.id, "Escalate")
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_main_flow_ending_first_ends_the_instance_and_its_event_subprocess_timer(
    engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([("esp.bpmn", event_subprocess_process(interrupting=True))])
    instance = engine.runtime.start(key="p")
    complete(engine, instance.id, "Work")
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    assert engine.timers.list() == []


def test_timer_on_an_external_task_withdraws_its_job(engine: Engine, clock: FakeClock) -> None:
    external = (
        '<bpmn:serviceTask id="Approve" camunda:type="external" camunda:topic="erp">'
        "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>"
    )
    xml = boundary_process("PT10M", interrupting=True, activity=external)
    engine.deployments.deploy([("ext.bpmn", xml)])
    instance = engine.runtime.start(key="p")
    assert [j.activity_id for j in engine.jobs.list(instance_id=instance.id)] == ["Approve"]
    clock.advance(minutes=10)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, instance.id) == ["Chase"]
    assert engine.jobs.list(instance_id=instance.id) == []  # no worker can fetch the cancelled task


def test_the_worker_thread_fires_timers(engine: Engine, clock: FakeClock) -> None:
    engine.deployments.deploy([("wait.bpmn", wait_process("timeDuration", "PT1H"))])
    instance = engine.runtime.start(key="p")
    worker = Worker(engine, "w1", poll_interval=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,), daemon=True)
    thread.start()
    try:
        clock.advance(hours=1)
        wait_until(lambda: open_tasks(engine, instance.id) == ["After"], timeout=20)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_spiffworkflow_files_keep_python_timer_expressions(engine: Engine, clock: FakeClock) -> None:
    xml = wait_process("timeDuration", '"PT" + str(minutes) + "M"').replace(
        b' camunda:candidateGroups="ops">',
        b"><bpmn:extensionElements><spiffworkflow:instructionsForEndUser>Go"
        b"</spiffworkflow:instructionsForEndUser></bpmn:extensionElements>",
    )
    spiff_ns = b'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
    xml = xml.replace(b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', spiff_ns)
    engine.deployments.deploy([("spiff.bpmn", xml)])
    assert engine.definitions.latest("p").dialect == "spiff"
    instance = engine.runtime.start(key="p", variables={"minutes": 15})
    [row] = engine.timers.list(instance_id=instance.id)
    assert row.due_at == clock.now + timedelta(minutes=15)
    clock.advance(minutes=15)
    assert engine.timers.fire_due("w") == 1
    assert engine.runtime.open_activities(instance.id) == ["After"]


def test_process_test_fires_timers_and_delivers_messages(tmp_path: Path) -> None:
    from tests.engine.test_messages import gateway_process

    (tmp_path / "gateway.bpmn").write_bytes(gateway_process())
    with ProcessTest(tmp_path, tmp_path / "gateway.bpmn") as pt:
        paid = pt.start("p", business_key="ORD-1")
        late = pt.start("p", business_key="ORD-2")
        [result] = pt.correlate("payment_received", business_key="ORD-1")
        assert result.instance.id == paid.id and paid.open_tasks == ["Ship"]
        pt.clock.advance(days=7)
        assert pt.fire_timers() == 1
        assert late.open_tasks == ["Dun"]
