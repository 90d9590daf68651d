"""Event subprocesses started by an error or an escalation (tests/conformance/bpmn/), end to end."""

from __future__ import annotations

import pytest

from engine import Engine
from tests.conformance.test_elements import complete, deploy, open_tasks, state


@pytest.mark.parametrize(
    ("stock", "paid", "first", "then"),
    [
        (5, True, ["Pack"], ["Ship"]),
        (0, True, ["Backorder"], ["Ship"]),  # Fulfilment's own event subprocess; Pack is cancelled
        (5, False, ["Pack"], ["Investigate"]),  # thrown in the process: the catch-all takes it
    ],
    ids=["in-stock-and-paid", "out-of-stock", "not-paid"],
)
def test_error_event_subprocesses_catch_the_errors_of_their_scope(
    engine: Engine, stock: int, paid: bool, first: list[str], then: list[str]
) -> None:
    deploy(engine, "error_event_subprocess")
    variables = {"stock": stock, "quantity": 2, "paid": paid}
    instance = engine.runtime.start(key="error_event_subprocess", variables=variables)
    assert open_tasks(engine, instance.id) == first
    complete(engine, instance.id, first[0])
    assert open_tasks(engine, instance.id) == then
    complete(engine, instance.id, then[0])
    assert state(engine, instance.id) == "COMPLETED"
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=instance.id)}
    assert activities["Pack"].canceled is (stock == 0)
    assert ("Ship" in activities) is paid


def test_escalation_event_subprocesses_interrupt_or_run_beside(engine: Engine) -> None:
    deploy(engine, "escalation_event_subprocess")
    big = engine.runtime.start(
        key="escalation_event_subprocess", variables={"amount": 20_000, "fraud": False}
    )
    complete(engine, big.id, "Review")
    assert open_tasks(engine, big.id) == ["Approve", "Archive", "InformManager"]  # non-interrupting
    for activity in ("InformManager", "Approve", "Archive"):
        complete(engine, big.id, activity)
    assert state(engine, big.id) == "COMPLETED"

    fraud = engine.runtime.start(key="escalation_event_subprocess", variables={"amount": 50, "fraud": True})
    complete(engine, fraud.id, "Review")
    assert open_tasks(engine, fraud.id) == ["Block"]  # interrupting: Archive is cancelled
    activities = {a.activity_id: a for a in engine.history.activities(instance_id=fraud.id)}
    assert activities["Archive"].canceled
    complete(engine, fraud.id, "Block")
    assert state(engine, fraud.id) == "COMPLETED"
