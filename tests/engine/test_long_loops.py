"""Long-running loops: thousands of iterations complete, with history intact and a bounded state.

Unpruned, SpiffWorkflow's task tree grows one level per task and its iterator stops at depth
1,000: a gateway loop stalls after ~333 iterations with no error and no READY task.
"""

from __future__ import annotations

from engine import Engine, TaskQuery
from tests.helpers import SALES, bpmn, stored_state


def open_activities(engine: Engine, instance_id: str) -> list[str]:
    return engine.runtime.open_activities(instance_id)


def stored_state_size(engine: Engine, instance_id: str) -> int:
    return len(stored_state(engine, instance_id))


def test_a_gateway_loop_of_5000_iterations_runs_to_the_end(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("counting_loop.bpmn")])
    instance = engine.runtime.start(key="counting_loop", variables={"rounds": 5000})

    assert instance.error_message is None
    assert open_activities(engine, instance.id) == ["Review"]
    assert engine.runtime.variables(instance.id)["i"] == 5000
    # Pruning drops finished tasks from the state, never from history.
    counted = engine.history.activities(instance_id=instance.id, activity_id="Count", finished=True)
    assert len(counted) == 5000
    assert stored_state_size(engine, instance.id) < 20_000

    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    engine.tasks.complete(task.id, {}, actor=SALES)
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_parallel_branches_inside_a_long_loop_still_join(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("forking_loop.bpmn")])
    instance = engine.runtime.start(key="forking_loop", variables={"rounds": 400})

    assert instance.error_message is None
    assert open_activities(engine, instance.id) == ["Review"]
    variables = engine.runtime.variables(instance.id)
    assert (variables["i"], variables["left"], variables["right"]) == (400, 400, 400)
    joined = engine.history.activities(instance_id=instance.id, activity_id="Count", finished=True)
    assert len(joined) == 400  # each round's join fired exactly once
    assert len(engine.history.activities(instance_id=instance.id, activity_id="Left")) == 400
    assert len(engine.history.activities(instance_id=instance.id, activity_id="Right")) == 400


def test_a_loop_through_a_user_task_keeps_its_stored_state_bounded(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("review_loop.bpmn")])
    instance = engine.runtime.start(key="review_loop", variables={"rounds": 120})
    sizes: dict[int, int] = {}
    for done in range(120):
        [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
        assert task.activity_id == "Work"
        engine.tasks.complete(task.id, {"note": f"round {done}"}, actor=SALES)
        sizes[done + 1] = stored_state_size(engine, instance.id)
        if done + 1 < 120:
            assert engine.runtime.variables(instance.id)["i"] == done + 1

    info = engine.runtime.get(instance.id)
    assert info.state == "COMPLETED", info.error_message
    assert engine.runtime.variables(instance.id)["note"] == "round 119"
    # Every save/load round trip in between ran on a pruned tree: the state stopped growing.
    assert max(sizes[r] for r in range(60, 120)) < 1.5 * max(sizes[r] for r in range(10, 30))
    works = engine.history.tasks(instance_id=instance.id)
    assert len(works) == 120 and all(t.ended_at is not None for t in works)
