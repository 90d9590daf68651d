"""What parallel branches write survives their join, as with Camunda's instance-wide variables.

SpiffWorkflow alone lets the last branch to arrive overwrite the others' changes with its stale copy.
"""

from __future__ import annotations

import pytest

from engine import Engine, TaskQuery
from tests.helpers import SALES, WAREHOUSE, camunda_process

FORK = camunda_process(
    """
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Init" scriptFormat="python"><bpmn:incoming>f0</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing><bpmn:script>status = "new"
picked = 0
quoted = 0
scratch = "temporary"</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f_sales</bpmn:outgoing><bpmn:outgoing>f_stock</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Quote" camunda:candidateGroups="sales"><bpmn:incoming>f_sales</bpmn:incoming>
      <bpmn:outgoing>f_quoted</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="AfterQuote" scriptFormat="python"><bpmn:incoming>f_quoted</bpmn:incoming>
      <bpmn:outgoing>f_sales_done</bpmn:outgoing><bpmn:script>quoted = quoted + 1
status = "quoted"
del scratch</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="Pick" camunda:candidateGroups="warehouse"><bpmn:incoming>f_stock</bpmn:incoming>
      <bpmn:outgoing>f_picked</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="AfterPick" scriptFormat="python"><bpmn:incoming>f_picked</bpmn:incoming>
      <bpmn:outgoing>f_stock_done</bpmn:outgoing><bpmn:script>picked = picked + 5
carrier = "DHL"</bpmn:script></bpmn:scriptTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>f_sales_done</bpmn:incoming>
      <bpmn:incoming>f_stock_done</bpmn:incoming><bpmn:outgoing>f_after</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Ship" camunda:candidateGroups="warehouse"><bpmn:incoming>f_after</bpmn:incoming>
      <bpmn:outgoing>f_end</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>f_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="StartEvent_1" targetRef="Init" />
    <bpmn:sequenceFlow id="f1" sourceRef="Init" targetRef="Fork" />
    <bpmn:sequenceFlow id="f_sales" sourceRef="Fork" targetRef="Quote" />
    <bpmn:sequenceFlow id="f_quoted" sourceRef="Quote" targetRef="AfterQuote" />
    <bpmn:sequenceFlow id="f_sales_done" sourceRef="AfterQuote" targetRef="Join" />
    <bpmn:sequenceFlow id="f_stock" sourceRef="Fork" targetRef="Pick" />
    <bpmn:sequenceFlow id="f_picked" sourceRef="Pick" targetRef="AfterPick" />
    <bpmn:sequenceFlow id="f_stock_done" sourceRef="AfterPick" targetRef="Join" />
    <bpmn:sequenceFlow id="f_after" sourceRef="Join" targetRef="Ship" />
    <bpmn:sequenceFlow id="f_end" sourceRef="Ship" targetRef="EndEvent_1" />""",
    "fork",
)


@pytest.mark.parametrize("first", ["Quote", "Pick"])
def test_each_branch_keeps_its_changes_whichever_arrives_last(engine: Engine, first: str) -> None:
    engine.deployments.deploy([("fork.bpmn", FORK)])
    instance = engine.runtime.start(key="fork")
    tasks = {t.activity_id: t for t in engine.tasks.list(TaskQuery(instance_id=instance.id))}
    order = [first, "Pick" if first == "Quote" else "Quote"]
    actors = {"Quote": SALES, "Pick": WAREHOUSE}
    for activity in order:  # each completion is its own step: the state is saved and loaded between
        values = {f"{activity.lower()}Note": activity}
        engine.tasks.complete(tasks[activity].id, values, actor=actors[activity])

    assert engine.runtime.open_activities(instance.id) == ["Ship"]
    variables = engine.runtime.variables(instance.id)
    assert variables["quoted"] == 1  # changed in one branch only: kept whatever the order
    assert variables["picked"] == 5
    assert variables["status"] == "quoted"
    assert variables["carrier"] == "DHL"  # new in one branch
    assert variables["quoteNote"] == "Quote" and variables["pickNote"] == "Pick"
    assert "scratch" not in variables  # deleted in one branch, untouched in the other


def test_when_both_branches_set_one_variable_the_later_write_wins(engine: Engine) -> None:
    both = FORK.replace(b'carrier = "DHL"', b'status = "picked"')
    engine.deployments.deploy([("fork.bpmn", both)])
    instance = engine.runtime.start(key="fork")
    tasks = {t.activity_id: t for t in engine.tasks.list(TaskQuery(instance_id=instance.id))}
    engine.tasks.complete(tasks["Quote"].id, {}, actor=SALES)
    engine.tasks.complete(tasks["Pick"].id, {}, actor=WAREHOUSE)
    assert engine.runtime.variables(instance.id)["status"] == "picked"
