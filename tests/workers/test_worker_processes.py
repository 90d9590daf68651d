"""Worker processes on PostgreSQL: they share the jobs, each runs once, a dead one's job is taken over.

These start real ``python -m webui.cli worker`` processes; select them with ``-m worker_processes``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import Engine
from tests.engine.test_service_tasks_inline import open_activities, service_process
from tests.workers.processes import ASYNC_BINDING, handler_calls, wait_until, worker_processes

pytestmark = [pytest.mark.postgres, pytest.mark.worker_processes]

JOBS = 1000


def scalar(engine: Engine, sql: str) -> int:
    with engine.database.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_four_workers_run_a_thousand_jobs_each_exactly_once(
    pg_engine: Engine, postgres_server_url: str, tmp_path: Path
) -> None:
    pg_engine.deployments.deploy([("svc.bpmn", service_process(ASYNC_BINDING))])
    instance_ids = {pg_engine.runtime.start(key="p").id for _ in range(JOBS)}
    assert scalar(pg_engine, "SELECT count(*) FROM jobs") == JOBS
    assert scalar(pg_engine, "SELECT count(*) FROM human_tasks") == 0  # all wait for a worker

    with worker_processes(postgres_server_url, tmp_path, 4) as workers:
        started = time.monotonic()
        wait_until(
            lambda: scalar(pg_engine, "SELECT count(*) FROM jobs") == 0,
            timeout=90,
            explain=lambda: "\n".join(w.log()[-3000:] for w in workers),
        )
        elapsed = time.monotonic() - started
        exit_codes = [w.stop() for w in workers]
    assert exit_codes == [0, 0, 0, 0], [w.log()[-3000:] for w in workers]
    for worker in workers:
        assert "stopped; jobs:" in worker.log()
        assert "Traceback" not in worker.log(), worker.log()

    with pg_engine.database.engine.connect() as conn:
        effects = conn.execute(text("SELECT idempotency_key, instance_id, pid FROM effects")).all()
        after = set(conn.scalars(text("SELECT instance_id FROM human_tasks WHERE activity_id = 'After'")))
    keys = [key for key, _, _ in effects]
    assert len(keys) == len(set(keys)) == JOBS
    assert {instance for _, instance, _ in effects} == instance_ids  # none lost
    assert sorted(handler_calls(tmp_path)) == sorted(keys)  # no handler ran twice, even uncommitted
    assert after == instance_ids  # every instance went on to its user task
    assert scalar(pg_engine, "SELECT count(*) FROM human_tasks") == JOBS
    assert scalar(pg_engine, "SELECT count(*) FROM jobs") == 0
    busy = {pid for _, _, pid in effects}
    assert len(busy) >= 2, f"one worker ran every job: the others never got one ({elapsed:.1f} s)"


def test_a_killed_workers_job_is_taken_over_once_its_lock_expires(
    pg_engine: Engine, postgres_server_url: str, tmp_path: Path
) -> None:
    pg_engine.deployments.deploy([("svc.bpmn", service_process(ASYNC_BINDING))])
    stall = tmp_path / "stalled"
    instance = pg_engine.runtime.start(key="p", variables={"stall": str(stall)})

    with worker_processes(postgres_server_url, tmp_path, 1, "--lock-seconds", "2") as [first]:
        # The handler wrote its effect and hangs inside the transaction.
        wait_until(stall.exists, timeout=30, explain=first.log)
        assert int(stall.read_text()) == first.pid
        with worker_processes(postgres_server_url, tmp_path, 1, "--lock-seconds", "2") as [second]:
            second.wait_ready()
            time.sleep(3)  # longer than the lock: the first worker renews it while alive
            [job] = pg_engine.jobs.list()
            assert job.locked_by is not None and job.locked_by.split(":")[1] == str(first.pid)
            assert scalar(pg_engine, "SELECT count(*) FROM effects") == 0  # not committed

            first.kill()  # SIGKILL: no clean-up, the open transaction is simply gone
            killed = time.monotonic()
            wait_until(
                lambda: scalar(pg_engine, "SELECT count(*) FROM jobs") == 0,
                timeout=30,
                explain=lambda: first.log() + second.log(),
            )
            taken_over = time.monotonic() - killed
            assert second.stop() == 0, second.log()

    with pg_engine.database.engine.connect() as conn:
        effects = conn.execute(text("SELECT idempotency_key, instance_id, pid FROM effects")).all()
    [(key, instance_id, pid)] = effects  # exactly once: the killed worker's insert never committed
    assert (instance_id, pid) == (instance.id, second.pid)
    assert handler_calls(tmp_path) == [key, key]  # called twice, committed once
    assert open_activities(pg_engine, instance.id) == ["After"]
    assert pg_engine.runtime.variables(instance.id)["recordedBy"] == second.pid
    assert taken_over < 2 + 5, f"taken over {taken_over:.1f} s after the kill; the lock was 2 s"
