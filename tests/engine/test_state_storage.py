"""An instance's workflow between operations: kept in memory at its committed revision, and stored
as a head plus one row per task, of which a step writes only those it changed.

(engine.live_instances, engine.spiff.state_text, engine.state_store.) Besides these tests, every test
of the suite runs with ``Runner.verify_state`` on (tests/conftest.py): each stored state, read back
from the database, is compared with a full dump of the workflow, and each workflow reused from
memory with what the database holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Insert, event, func, select, update

from engine import Database, Engine, TaskQuery
from engine.db.models import InstanceTaskState, ProcessInstance
from engine.exceptions import ProcessError
from engine.spiff.serialization import workflow_to_json
from engine.steps import StepWriter
from tests.helpers import SALES, camunda_process

ITEMS = camunda_process(
    """
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Check" name="Check" camunda:candidateGroups="sales">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" camunda:elementVariable="item" />
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Check" />
    <bpmn:sequenceFlow id="f2" sourceRef="Check" targetRef="end" />
    """,
    process_id="items",
)


def start(engine: Engine, n: int) -> tuple[str, list[str]]:
    engine.deployments.deploy([("items.bpmn", ITEMS)])
    instance = engine.runtime.start(key="items", variables={"items": list(range(n))})
    tasks = engine.tasks.list(TaskQuery(instance_id=instance.id, max_results=n + 1))
    assert len(tasks) == n
    return instance.id, [t.id for t in tasks]


@contextmanager
def rows_written(engine: Engine) -> Iterator[list[dict[str, Any]]]:
    """The task rows inserted while inside, as the statements' parameters."""
    written: list[dict[str, Any]] = []

    def seen(_conn: Any, clause: Any, multiparams: Any, params: Any, _options: Any) -> None:
        if isinstance(clause, Insert) and clause.table.name == "instance_task_states":
            for batch in multiparams:
                written.extend(batch if isinstance(batch, list) else [batch])

    event.listen(engine.database.engine, "before_execute", seen)
    try:
        yield written
    finally:
        event.remove(engine.database.engine, "before_execute", seen)


def stored_rows(engine: Engine, instance_id: str) -> int:
    with engine.database.read() as session:
        query = (
            select(func.count())
            .select_from(InstanceTaskState)
            .where(InstanceTaskState.instance_id == instance_id)
        )
        return int(session.scalar(query) or 0)


def head(engine: Engine, instance_id: str) -> str:
    with engine.database.read() as session:
        text = session.scalar(select(ProcessInstance.workflow).where(ProcessInstance.id == instance_id))
    assert text is not None
    return text


def test_a_completion_writes_only_the_rows_of_the_tasks_it_changed(engine: Engine) -> None:
    instance_id, task_ids = start(engine, 50)
    tasks_stored = stored_rows(engine, instance_id)
    assert tasks_stored > 50  # one row per task: the 50 items and the tasks around them

    with rows_written(engine) as written:
        engine.tasks.complete(task_ids[0], {}, actor=SALES)

    # The completed item, and the multi-instance activity that counts it; nothing else.
    assert len(written) == 2
    assert task_ids[0] in {row["task_id"] for row in written}
    assert stored_rows(engine, instance_id) == tasks_stored
    # The head holds no task: it stays small however many items there are.
    assert json.loads(head(engine, instance_id))["format"] == 2 and len(head(engine, instance_id)) < 2_000
    assert engine.live.hits >= 1


def test_another_process_change_is_seen_and_the_kept_workflow_is_not_reused(
    engine: Engine, db_url: str
) -> None:
    instance_id, task_ids = start(engine, 3)
    other = Engine(Database(db_url), migrate=False)
    try:
        engine.tasks.complete(task_ids[0], {"seen_by": "first"}, actor=SALES)
        hits, misses = engine.live.hits, engine.live.misses
        other.tasks.complete(task_ids[1], {}, actor=SALES)  # bumps the revision behind our back
        engine.tasks.complete(task_ids[2], {}, actor=SALES)
        assert engine.live.misses == misses + 1 and engine.live.hits == hits
    finally:
        other.close()
    info = engine.runtime.get(instance_id)
    assert info.state == "COMPLETED"
    done = [a for a in engine.history.activities(instance_id=instance_id) if a.activity_id == "Check"]
    assert sum(1 for a in done if a.ended_at is not None and not a.canceled) == 4  # the body and 3 items


def test_a_step_that_fails_after_changing_the_workflow_leaves_nothing_behind(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id, task_ids = start(engine, 2)
    original = StepWriter.operation
    crashes = {"left": 1}

    def crash_once(self: StepWriter, *args: Any, **kwargs: Any) -> None:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("the process died mid-step")
        original(self, *args, **kwargs)

    monkeypatch.setattr(StepWriter, "operation", crash_once)
    with pytest.raises(RuntimeError, match="died mid-step"):
        engine.tasks.complete(task_ids[0], {}, actor=SALES)

    # The completion rolled back: the task is open again, and the workflow it had changed in
    # memory was not kept, so the next operation loads what the database holds.
    assert {t.id for t in engine.tasks.list(TaskQuery(instance_id=instance_id))} == set(task_ids)
    misses = engine.live.misses
    engine.tasks.complete(task_ids[0], {}, actor=SALES)
    engine.tasks.complete(task_ids[1], {}, actor=SALES)
    assert engine.live.misses == misses + 1
    assert engine.runtime.get(instance_id).state == "COMPLETED"


def test_an_instance_stored_whole_before_task_rows_existed_still_runs(engine: Engine) -> None:
    instance_id, task_ids = start(engine, 3)
    # Store it as Flowdesk did before migration 0005: the whole state in one text, no task rows.
    with engine.database.write() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        loaded, runner = engine.runtime.loader.load(session, instance)
        whole = workflow_to_json(loaded.family, runner.workflow)
    with engine.database.write() as session:
        session.execute(
            update(ProcessInstance).where(ProcessInstance.id == instance_id).values(workflow=whole)
        )
        session.execute(
            InstanceTaskState.__table__.delete().where(InstanceTaskState.instance_id == instance_id)
        )
    engine.live.clear()
    assert json.loads(head(engine, instance_id))["format"] == 1 and stored_rows(engine, instance_id) == 0

    engine.tasks.complete(task_ids[0], {}, actor=SALES)

    assert json.loads(head(engine, instance_id))["format"] == 2 and stored_rows(engine, instance_id) > 3
    engine.tasks.complete(task_ids[1], {}, actor=SALES)
    engine.tasks.complete(task_ids[2], {}, actor=SALES)
    assert engine.runtime.get(instance_id).state == "COMPLETED"


def test_with_nothing_kept_in_memory_every_operation_loads_and_all_still_works(tmp_path: Path) -> None:
    engine = Engine(Database(f"sqlite:///{tmp_path / 'cold.sqlite'}"), live_tasks=0)
    try:
        instance_id, task_ids = start(engine, 4)
        for task_id in task_ids:
            engine.tasks.complete(task_id, {}, actor=SALES)
        assert engine.live.hits == 0 and len(engine.live) == 0
        assert engine.runtime.get(instance_id).state == "COMPLETED"
    finally:
        engine.close()


def test_reading_an_instance_hands_its_workflow_back_for_the_next_operation(engine: Engine) -> None:
    instance_id, task_ids = start(engine, 2)
    engine.live.clear()
    assert engine.runtime.variables(instance_id)["items"] == [0, 1]  # a read loads it from the database
    misses, hits = engine.live.misses, engine.live.hits
    engine.tasks.complete(task_ids[0], {}, actor=SALES)
    assert (engine.live.misses, engine.live.hits) == (misses, hits + 1)


def test_a_damaged_task_row_is_a_clear_error_and_nothing_changes(engine: Engine) -> None:
    instance_id, task_ids = start(engine, 2)
    with engine.database.write() as session:
        session.execute(
            update(InstanceTaskState).where(InstanceTaskState.instance_id == instance_id).values(body="{oops")
        )
    engine.live.clear()
    with pytest.raises(ProcessError, match="stored state of the instance is damaged"):
        engine.tasks.complete(task_ids[0], {}, actor=SALES)
    assert {t.id for t in engine.tasks.list(TaskQuery(instance_id=instance_id))} == set(task_ids)
