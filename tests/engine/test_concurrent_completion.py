"""Two people complete the same task at the same moment: exactly one wins, nothing is lost."""

from __future__ import annotations

import threading

from engine import ConcurrentModification, Database, Engine, TaskNotFound, TaskQuery
from tests.helpers import SALES, bpmn


def race(engines: list[Engine], task_id: str) -> list[str]:
    """Complete ``task_id`` from every engine at once; the outcome of each, in no particular order."""
    barrier = threading.Barrier(len(engines))
    outcomes: list[str] = []

    def complete(eng: Engine, approved: bool) -> None:
        barrier.wait()
        try:
            eng.tasks.complete(task_id, {"approved": approved}, actor=SALES)
            outcomes.append("ok")
        except (TaskNotFound, ConcurrentModification) as err:
            outcomes.append(type(err).__name__)

    threads = [threading.Thread(target=complete, args=(eng, i % 2 == 0)) for i, eng in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_concurrent_completions_of_one_task(engine: Engine, db_url: str) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn")])
    # Two engines on one database, as two server processes would be.
    other = Engine(Database(db_url), migrate=False)
    try:
        for _ in range(20):
            instance = engine.runtime.start(key="order_approval", variables={"customer": "A", "amount": 2000})
            [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
            outcomes = race([engine, other], task.id)
            assert outcomes.count("ok") == 1 and len(outcomes) == 2, outcomes
            # Exactly one path was taken: either the invoice task opened, or the instance ended rejected.
            history = [a.activity_id for a in engine.history.activities(instance_id=instance.id)]
            assert history.count("Task_review") == 1
            assert history.count("Gateway_decision") == 1
            assert ("Task_invoice" in history) != ("EndEvent_rejected" in history)
            ops = [o.operation for o in engine.history.operations(instance_id=instance.id)]
            assert ops.count("Complete") == 1
    finally:
        other.close()
