"""Multi-instance call activities: one child instance per item, as Camunda 7 runs them."""

from __future__ import annotations

from typing import Any

import pytest

from engine import DeploymentError, Engine, FakeClock, TaskQuery
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry
from tests.engine.test_call_activities import (
    ERROR,
    TIMER_BOUNDARY,
    child_process,
    complete,
    deploy,
    failing_child,
    open_tasks,
    parent_process,
    rejecting_child,
    run_jobs,
)
from tests.helpers import ADMIN

ITEM_IN = '<camunda:in source="item" target="item"/>'
LAST_OUT = '<camunda:out source="result" target="last"/>'
ERROR_BOUNDARY = """<bpmn:boundaryEvent id="Caught" attachedToRef="Call"><bpmn:outgoing>x1</bpmn:outgoing>
      <bpmn:errorEventDefinition errorRef="Err" /></bpmn:boundaryEvent>
    <bpmn:userTask id="Handle"><bpmn:incoming>x1</bpmn:incoming></bpmn:userTask>
    <bpmn:sequenceFlow id="x1" sourceRef="Caught" targetRef="Handle" />"""


def loop(sequential: bool = False, condition: str | None = None, cardinality: str | None = None) -> str:
    """A Camunda 7 multi-instance marker over ``${items}`` (element variable ``item``), or a count."""
    inner = f"<bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>" if cardinality else ""
    if condition:
        inner += f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>"
    over = "" if cardinality else ' camunda:collection="${items}" camunda:elementVariable="item"'
    return (
        f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}"{over}>'
        f"{inner}</bpmn:multiInstanceLoopCharacteristics>"
    )


def mi_parent(marker: str, mappings: str = ITEM_IN, boundary: str = "") -> bytes:
    """start -> multi-instance call activity `Call` of `child` -> user task `After` -> end."""
    xml = parent_process('calledElement="child"', mappings, boundary).replace(
        b"</bpmn:callActivity>", marker.encode() + b"</bpmn:callActivity>", 1
    )
    return xml.replace(b'<bpmn:process id="parent"', ERROR.encode() + b'<bpmn:process id="parent"')


def children(engine: Engine, parent_id: str, *, active_only: bool = False) -> list[Any]:
    """The parent's children, in the order of their items."""
    found = engine.runtime.list(super_instance_id=parent_id, active_only=active_only)
    return sorted(found, key=lambda c: engine.runtime.variables(c.id).get("item", 0))


def call_rows(engine: Engine, parent_id: str) -> list[Any]:
    """History of `Call`: the multi-instance body, then one row per instance."""
    rows = [a for a in engine.history.activities(instance_id=parent_id) if a.activity_id == "Call"]
    return sorted(rows, key=lambda a: a.activity_type != "multiInstanceBody")


@pytest.mark.parametrize(
    ("mappings", "everything"),
    [
        (f'{ITEM_IN}{LAST_OUT}<camunda:out variables="all"/>', False),
        (f'<camunda:in variables="all"/><camunda:out variables="all"/>{LAST_OUT}', True),
    ],
    ids=["in-source", "in-all"],
)
def test_a_parallel_multi_instance_call_starts_a_child_per_item_and_waits_for_all(
    engine: Engine, mappings: str, everything: bool
) -> None:
    deploy(
        engine, ("c.bpmn", child_process(body="result = item * 10")), ("p.bpmn", mi_parent(loop(), mappings))
    )
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3, 4]})
    # Every child starts in the step that reached the activity, each seeing its own item.
    kids = children(engine, parent.id)
    assert [c.state for c in kids] == ["ACTIVE"] * 4
    seen = [engine.runtime.variables(c.id) for c in kids]
    assert [(v["item"], v["result"]) for v in seen] == [(1, 10), (2, 20), (3, 30), (4, 40)]
    # variables="all" passes the element variable and the process's variables too.
    assert all(("items" in v) is everything for v in seen)
    for kid in (kids[2], kids[0], kids[3]):
        complete(engine, kid.id, "Work", {f"done_{engine.runtime.variables(kid.id)['item']}": True})
        run_jobs(engine)
        assert open_tasks(engine, parent.id) == []  # not before every child ended
    complete(engine, kids[1].id, "Work", {"done_2": True})
    run_jobs(engine)
    assert open_tasks(engine, parent.id) == ["After"]
    variables = engine.runtime.variables(parent.id)
    # Every child's out-mappings reach the process: distinct names collect, the later write wins.
    assert [variables[f"done_{i}"] for i in (1, 2, 3, 4)] == [True] * 4
    assert variables["last"] == 20
    assert "item" not in variables and "loopCounter" not in variables
    body, *instances = call_rows(engine, parent.id)
    assert body.activity_type == "multiInstanceBody" and body.ended_at is not None
    assert len(instances) == 4 and all(r.ended_at is not None and not r.canceled for r in instances)
    # Each instance's history row names the child it started.
    called = engine.history.called_instances([r.id for r in instances])
    assert sorted(called.values()) == sorted(c.id for c in kids)


def test_a_sequential_multi_instance_call_runs_one_child_at_a_time(engine: Engine) -> None:
    mappings = (
        f'{ITEM_IN}<camunda:in source="total" target="total"/><camunda:out source="total" target="total"/>'
    )
    deploy(
        engine,
        ("c.bpmn", child_process(body="total = total + item")),
        ("p.bpmn", mi_parent(loop(sequential=True), mappings)),
    )
    parent = engine.runtime.start(key="parent", variables={"items": [5, 7, 11], "total": 0})
    for number, item in enumerate([5, 7, 11]):
        [running] = children(engine, parent.id, active_only=True)
        # Each child sees its item and what the child before it handed back.
        assert engine.runtime.variables(running.id) == {"item": item, "total": sum([5, 7, 11][: number + 1])}
        assert len(children(engine, parent.id)) == number + 1  # the next one is not started yet
        complete(engine, running.id, "Work")
        run_jobs(engine)
    assert open_tasks(engine, parent.id) == ["After"]
    assert engine.runtime.variables(parent.id)["total"] == 23
    assert len(call_rows(engine, parent.id)) == 1 + 3


@pytest.mark.parametrize("sequential", [False, True], ids=["parallel", "sequential"])
def test_loop_cardinality_starts_that_many_children_each_with_its_loop_counter(
    engine: Engine, sequential: bool
) -> None:
    mappings = '<camunda:in source="loopCounter" target="n"/><camunda:out source="n" target="lastN"/>'
    deploy(
        engine,
        ("c.bpmn", child_process(body="n = n + 100", wait=False)),
        ("p.bpmn", mi_parent(loop(sequential, cardinality="${copies}"), mappings)),
    )
    parent = engine.runtime.start(key="parent", variables={"copies": 3})
    # Children without a wait state end in the parent's step: the parent goes on at once.
    assert open_tasks(engine, parent.id) == ["After"]
    kids = engine.runtime.list(super_instance_id=parent.id, active_only=False)
    assert sorted(engine.runtime.variables(c.id)["n"] for c in kids) == [100, 101, 102]
    assert all(c.state == "COMPLETED" for c in kids)
    assert engine.runtime.variables(parent.id)["lastN"] == 102  # the last child to end wrote last


def test_a_completion_condition_cancels_the_children_still_running(engine: Engine) -> None:
    marker = loop(condition="${nrOfCompletedInstances >= 2 || approved}")
    mappings = f'{ITEM_IN}<camunda:out source="approved" target="approved"/>'
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", mi_parent(marker, mappings)))
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3, 4], "approved": False})
    kids = children(engine, parent.id)
    complete(engine, kids[0].id, "Work", {"approved": False})
    run_jobs(engine)
    assert open_tasks(engine, parent.id) == []
    complete(engine, kids[3].id, "Work", {"approved": False})
    run_jobs(engine)  # two completed: the condition holds, the other two children are cancelled
    assert open_tasks(engine, parent.id) == ["After"]
    states = [engine.runtime.get(c.id).state for c in kids]
    assert states == ["COMPLETED", "EXTERNALLY_TERMINATED", "EXTERNALLY_TERMINATED", "COMPLETED"]
    assert open_tasks(engine, kids[1].id) == [] and open_tasks(engine, kids[2].id) == []
    _, *instances = call_rows(engine, parent.id)
    assert sorted(r.canceled for r in instances) == [False, False, True, True]
    assert all(r.ended_at is not None for r in instances)
    assert engine.jobs.list() == []


def test_a_child_error_reaches_the_boundary_of_the_multi_instance_call_and_cancels_the_others(
    engine: Engine,
) -> None:
    deploy(engine, ("c.bpmn", failing_child()), ("p.bpmn", mi_parent(loop(), boundary=ERROR_BOUNDARY)))
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3]})
    kids = children(engine, parent.id)
    complete(engine, kids[1].id, "Work")  # the second child ends in its error end event
    run_jobs(engine)
    assert open_tasks(engine, parent.id) == ["Handle"]
    states = [engine.runtime.get(c.id).state for c in kids]
    assert states == ["EXTERNALLY_TERMINATED", "COMPLETED", "EXTERNALLY_TERMINATED"]
    assert engine.tasks.list(TaskQuery(instance_id=kids[0].id)) == []
    rows = call_rows(engine, parent.id)
    assert len(rows) == 4 and all(r.canceled and r.ended_at is not None for r in rows)


def test_a_handlers_bpmn_error_in_a_child_started_in_the_parents_step_reaches_the_boundary(
    engine: Engine, handlers: HandlerRegistry
) -> None:
    def check(ctx: HandlerContext) -> None:
        if ctx.variables["item"] == 2:
            raise BpmnError("REJECTED", "credit refused")

    handlers.register("check", check)
    deploy(
        engine,
        ("c.bpmn", rejecting_child(wait=False)),
        ("p.bpmn", mi_parent(loop(), boundary=ERROR_BOUNDARY)),
    )
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3]})
    assert open_tasks(engine, parent.id) == ["Handle"]
    kids = engine.runtime.list(super_instance_id=parent.id, active_only=False)
    assert len(kids) <= 3 and all(c.state != "ACTIVE" for c in kids)
    assert engine.jobs.list() == []


def test_an_interrupting_timer_on_a_multi_instance_call_cancels_every_child(
    engine: Engine, clock: FakeClock
) -> None:
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", mi_parent(loop(), boundary=TIMER_BOUNDARY)))
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3]})
    kids = children(engine, parent.id)
    complete(engine, kids[0].id, "Work")
    run_jobs(engine)
    clock.advance(hours=1)
    assert engine.timers.fire_due("w") == 1
    assert open_tasks(engine, parent.id) == ["Chase"]
    assert [engine.runtime.get(c.id).state for c in kids] == ["COMPLETED"] + ["EXTERNALLY_TERMINATED"] * 2
    rows = call_rows(engine, parent.id)
    assert [r.canceled for r in rows] == [True, False, True, True]
    assert all(r.ended_at is not None for r in rows)


def test_deleting_the_parent_cancels_every_child(engine: Engine) -> None:
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", mi_parent(loop())))
    parent = engine.runtime.start(key="parent", variables={"items": [1, 2, 3]})
    kids = children(engine, parent.id)
    engine.runtime.delete(parent.id, actor=ADMIN)
    assert [engine.runtime.get(c.id).state for c in kids] == ["EXTERNALLY_TERMINATED"] * 3
    assert engine.tasks.list(TaskQuery()) == []


def test_an_empty_collection_starts_no_child(engine: Engine) -> None:
    deploy(engine, ("c.bpmn", child_process()), ("p.bpmn", mi_parent(loop())))
    parent = engine.runtime.start(key="parent", variables={"items": []})
    assert open_tasks(engine, parent.id) == ["After"]
    assert engine.runtime.list(super_instance_id=parent.id, active_only=False) == []


@pytest.mark.parametrize(
    ("namespace", "called", "says"),
    [
        (
            'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
            '<zeebe:calledElement processId="child"/>',
            "Camunda 8",
        ),
        ("", "", "Camunda 7 files only"),
    ],
    ids=["camunda8", "plain"],
)
def test_multi_instance_call_activities_outside_camunda_7_files_are_refused_at_deploy(
    engine: Engine, namespace: str, called: str, says: str
) -> None:
    doc = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" {namespace}
    id="d" targetNamespace="t">
  <bpmn:process id="other" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="Call" calledElement="child">
      <bpmn:extensionElements>{called}</bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics></bpmn:callActivity>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Call" />
    <bpmn:sequenceFlow id="f2" sourceRef="Call" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""
    with pytest.raises(DeploymentError) as err:
        deploy(engine, ("other.bpmn", doc.encode()))
    [problem] = err.value.problems
    assert problem.element_id == "Call" and "multi-instance call activities" in problem.message
    assert says in problem.message
