"""User tasks take assignee, candidates, due date and priority from Camunda attributes and variables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine import Actor, Engine, Forbidden, TaskQuery
from tests.helpers import camunda_process

ASSIGNED = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Approve" name="Approve" camunda:assignee="${owner}"
        camunda:candidateUsers="kim, lee" camunda:candidateGroups="finance,${extraGroup}"
        camunda:dueDate="${deadline}" camunda:priority="${urgency}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="Check" name="Check" camunda:candidateUsers="kim" camunda:dueDate="2026-12-24T12:00:00Z"
        camunda:priority="80">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Approve" />
    <bpmn:sequenceFlow id="f2" sourceRef="Approve" targetRef="Check" />
    <bpmn:sequenceFlow id="f3" sourceRef="Check" targetRef="end" />""")


def test_assignment_attributes_resolve_from_variables(engine: Engine) -> None:
    engine.deployments.deploy([("assign.bpmn", ASSIGNED)])
    deadline = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    instance = engine.runtime.start(
        key="p", variables={"owner": "olga", "extraGroup": "legal", "deadline": deadline, "urgency": 90}
    )
    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert task.assignee == "olga"
    assert task.candidate_users == ("kim", "lee")
    assert task.candidate_groups == ("finance", "legal")
    assert task.due_at == deadline
    assert task.priority == 90
    assert engine.tasks.list(TaskQuery(assignee="olga")) == [task]
    # Assigned tasks are not in the group queue unless asked for.
    assert engine.tasks.list(TaskQuery(candidate_group="finance")) == []
    assert engine.tasks.list(TaskQuery(candidate_group="finance", include_assigned=True)) == [task]
    assert engine.tasks.list(actor=Actor("olga")) == [task]
    # A candidate still sees a task someone else holds, but may not complete it.
    assert engine.tasks.list(actor=Actor("kim")) == [task]
    assert engine.tasks.list(actor=Actor("nobody")) == []
    with pytest.raises(Forbidden):
        engine.tasks.complete(task.id, {}, actor=Actor("kim"))


def test_literal_due_date_and_priority_and_candidate_user_queue(engine: Engine) -> None:
    engine.deployments.deploy([("assign.bpmn", ASSIGNED)])
    engine.identity.add_user("kim", "pw", ["sales"])
    instance = engine.runtime.start(
        key="p", variables={"owner": "olga", "extraGroup": "legal", "deadline": None, "urgency": "high"}
    )
    [first] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert first.due_at is None and first.priority == 50  # an unusable value falls back to the default
    engine.tasks.complete(first.id, {}, actor=Actor("olga"))
    [check] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert check.assignee is None
    assert check.due_at == datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    assert check.priority == 80
    assert engine.tasks.list(TaskQuery(candidate_user="kim")) == [check]
    engine.tasks.claim(check.id, "kim", actor=Actor("kim", frozenset({"sales"})))
    assert engine.tasks.get(check.id).assignee == "kim"
    engine.tasks.unclaim(check.id, actor=Actor("kim", frozenset({"sales"})))
    assert engine.tasks.get(check.id).assignee is None
    ops = [o.operation for o in engine.history.operations(instance_id=instance.id)]
    assert ops == ["Start", "Complete", "Claim", "Unclaim"]


def test_paging_and_sorting(engine: Engine) -> None:
    engine.deployments.deploy([("assign.bpmn", ASSIGNED)])
    for urgency in (10, 30, 20):
        engine.runtime.start(
            key="p", variables={"owner": "olga", "extraGroup": "x", "deadline": None, "urgency": urgency}
        )
    from engine.tasks import SortBy

    by_priority = engine.tasks.list(TaskQuery(sort_by=SortBy.PRIORITY, descending=True))
    assert [t.priority for t in by_priority] == [30, 20, 10]
    page = engine.tasks.list(TaskQuery(sort_by=SortBy.PRIORITY, first=1, max_results=1))
    assert [t.priority for t in page] == [20]
    assert engine.tasks.count(TaskQuery()) == 3
