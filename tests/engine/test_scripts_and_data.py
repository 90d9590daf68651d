"""Sandboxed scripts; failures recorded on the instance; awkward values stored deliberately."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine import Engine, InvalidRequest, TaskQuery
from tests.helpers import bpmn, script_process


def start(engine: Engine, script: str, **variables: object) -> str:
    engine.deployments.deploy([("s.bpmn", script_process(script))])
    return engine.runtime.start(key="p", variables=variables).id


def test_a_forbidden_attribute_reached_at_run_time_is_recorded_on_the_instance(engine: Engine) -> None:
    instance_id = start(engine, "name = '__cl' + 'ass__'\nleak = getattr(amount, name)", amount=1)
    info = engine.runtime.get(instance_id)
    assert info.state == "ACTIVE"
    assert info.error_activity_id == "Script"
    assert info.error_message and "__class__" in info.error_message
    assert "leak" not in engine.runtime.variables(instance_id)
    assert engine.tasks.list(TaskQuery(instance_id=instance_id)) == []  # the flow stopped at the script
    incidents = [o for o in engine.history.operations(instance_id=instance_id) if o.operation == "Incident"]
    assert incidents and incidents[0].detail and incidents[0].detail["activityId"] == "Script"


def test_a_failing_script_records_the_error(engine: Engine) -> None:
    instance_id = start(engine, "total = price * quantity")
    info = engine.runtime.get(instance_id)
    assert info.error_activity_id == "Script"
    assert info.error_message and "price" in info.error_message


def test_decimal_and_dates_survive_storage(engine: Engine) -> None:
    instance_id = start(
        engine,
        "net = price * 2\nwhen = due + timedelta(days=1)",
        price=Decimal("10.05"),
        due=date(2026, 12, 31),
    )
    variables = engine.runtime.variables(instance_id)
    assert variables["net"] == Decimal("20.10")
    assert variables["when"] == date(2027, 1, 1)
    history = {v.name: v.value for v in engine.history.variables(instance_id)}
    assert history["price"] == Decimal("10.05")


def test_unstorable_start_values_are_refused_before_anything_runs(engine: Engine) -> None:
    engine.deployments.deploy([("s.bpmn", script_process("x = 1"))])
    with pytest.raises(InvalidRequest) as err:
        engine.runtime.start(key="p", variables={"blob": b"\x00\x01"})
    assert "blob" in err.value.message
    with pytest.raises(InvalidRequest):
        engine.runtime.start(key="p", variables={"__class__": 1})
    assert engine.runtime.list() == []


def test_datetime_variables_round_trip(engine: Engine) -> None:
    moment = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    instance_id = start(engine, "later = moment + timedelta(hours=2)", moment=moment)
    assert engine.runtime.variables(instance_id)["later"] == datetime(2026, 11, 22, 11, 30, tzinfo=UTC)


def test_lanes_give_candidate_groups_and_parallel_branches_join(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("lanes_parallel.bpmn")])
    instance = engine.runtime.start(key="lanes_parallel")
    tasks = {t.activity_id: t for t in engine.tasks.list(TaskQuery(instance_id=instance.id))}
    assert tasks["Task_quote"].candidate_groups == ("sales",)
    assert tasks["Task_pick"].candidate_groups == ("warehouse",)
    engine.tasks.complete(tasks["Task_quote"].id, {"quoted": True})
    assert engine.runtime.get(instance.id).state == "ACTIVE"
    engine.tasks.complete(tasks["Task_pick"].id, {"picked": True})
    assert engine.runtime.get(instance.id).state == "COMPLETED"
    assert engine.runtime.variables(instance.id)["done"] is True
