"""Compensation handlers that are tasks of their own: a user task and an external task, each waited for."""

from __future__ import annotations

import pytest

from engine import Engine, TaskQuery
from engine.db.models import JobKind
from engine.exceptions import TaskNotFound
from tests.conformance.test_elements import deploy, open_tasks, state
from tests.helpers import SALES, WAREHOUSE

KEY = "compensation_task_handlers"


def compensations(engine: Engine, instance_id: str) -> list[str]:
    operations = engine.history.operations(instance_id=instance_id)
    return [op.detail["activityId"] for op in operations if op.operation == "Compensate"]


def test_compensation_handler_tasks_run_most_recent_first_each_waited_for(engine: Engine) -> None:
    deploy(engine, KEY)
    instance = engine.runtime.start(key=KEY, variables={"amount": 10})
    # Unpack (a script) ran at once; Refund, an external task, is next; Release waits its turn.
    assert compensations(engine, instance.id) == ["Pack"]
    assert engine.runtime.open_activities(instance.id) == ["Undo", "Refund"]
    assert open_tasks(engine, instance.id) == []
    [refund] = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["refunds"], limit=5)
    assert refund.activity_id == "Refund"
    assert engine.jobs.variables([refund])[refund.id]["packed"] is False  # it sees what Unpack did
    engine.jobs.complete(refund.id, "w1", {"refunded": 10})
    # Then the user task, in the warehouse's inbox; the throw event still waits.
    [release] = engine.tasks.list(TaskQuery(candidate_group="warehouse"))
    assert (release.activity_id, release.name, release.instance_id) == (
        "Release",
        "Put the goods back",
        instance.id,
    )
    assert [f.id for f in release.form_fields] == ["shelf"]
    assert engine.runtime.open_activities(instance.id) == ["Undo", "Release"]
    engine.tasks.complete(release.id, {"shelf": "B7"}, actor=WAREHOUSE)
    assert open_tasks(engine, instance.id) == ["Review"]
    assert compensations(engine, instance.id) == ["Pack", "Charge", "Reserve"]  # each once
    variables = engine.runtime.variables(instance.id)
    assert (variables["packed"], variables["refunded"], variables["shelf"]) == (False, 10, "B7")
    with pytest.raises(TaskNotFound):
        engine.tasks.complete(release.id, {}, actor=WAREHOUSE)
    runs = [a.activity_id for a in engine.history.activities(instance_id=instance.id, finished=True)]
    assert sorted(runs.count(h) for h in ("Unpack", "Refund", "Release")) == [1, 1, 1]
    [review] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(review.id, {}, actor=SALES)
    assert state(engine, instance.id) == "COMPLETED"
    assert compensations(engine, instance.id) == ["Pack", "Charge", "Reserve"]


def test_compensation_event_subprocess_compensates_its_subprocess_and_undoes_inside_it(
    engine: Engine,
) -> None:
    deploy(engine, "compensation_event_subprocess")
    instance = engine.runtime.start(key="compensation_event_subprocess", variables={"undone": []})
    # Undo compensates Booking: its compensation event subprocess runs now (not when Booking ran).
    assert engine.runtime.open_activities(instance.id) == ["Undo", "OnCancel", "Notify"]
    assert compensations(engine, instance.id) == []
    [notify] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(notify.id, {"note": "sorry"}, actor=SALES)
    # OnCancel's own throw undid Booking's activities, most recent first; then Undo went on.
    assert compensations(engine, instance.id) == ["BookFlight", "BookHotel", "Booking"]
    variables = engine.runtime.variables(instance.id)
    assert (variables["hotel"], variables["flight"], variables["undone"]) == (None, None, ["flight", "hotel"])
    assert open_tasks(engine, instance.id) == ["Review"]
