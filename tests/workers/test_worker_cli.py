"""`flowdesk worker` and the worker in `flowdesk serve`, as real processes: they run jobs, stop cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine import Database, Engine
from tests.engine.test_service_tasks_inline import open_activities, service_process
from tests.workers import effect_handlers
from tests.workers.processes import ASYNC_BINDING, ROOT, WorkerProcess, handler_calls, wait_until


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = Engine(Database(f"sqlite:///{tmp_path / 'cli.sqlite'}"), handlers=effect_handlers.registry())
    with engine.database.engine.begin() as conn:
        effect_handlers.create_effects_table(conn)
    engine.deployments.deploy([("svc.bpmn", service_process(ASYNC_BINDING))])
    yield engine
    engine.close()


def effects(engine: Engine) -> list[str]:
    with engine.database.engine.connect() as conn:
        return list(conn.scalars(text("SELECT instance_id FROM effects")))


def test_sigterm_lets_the_running_job_finish_then_the_worker_exits(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    instance = sqlite_engine.runtime.start(key="p", variables={"sleep": 1.5})
    worker = WorkerProcess(sqlite_engine.database.url, tmp_path)
    try:
        wait_until(lambda: len(handler_calls(tmp_path)) == 1, timeout=30, explain=worker.log)
        assert worker.stop() == 0, worker.log()  # SIGTERM while the handler sleeps
    finally:
        worker.kill()
    assert effects(sqlite_engine) == [instance.id]  # the job finished and committed
    assert open_activities(sqlite_engine, instance.id) == ["After"]
    assert "SIGTERM: stopping after the running jobs" in worker.log()
    assert "stopped; jobs: {'completed': 1}" in worker.log()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(db_url: str, folder: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, int]:
    port = free_port()
    log = folder / f"serve-{port}.log"
    env = {**os.environ, "FLOWDESK_HANDLER_MODULES": "tests.workers.effect_handlers"}
    with open(log, "w") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "webui.cli", "serve", "--db", db_url, "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return popen, log, port


def answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/engine-rest/version", timeout=1)
    except urllib.error.HTTPError:
        return True  # any HTTP answer will do
    except OSError:
        return False
    return True


def test_serve_runs_jobs_in_its_worker_thread_and_stops_cleanly(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    instance = sqlite_engine.runtime.start(key="p")
    popen, log, port = serve(sqlite_engine.database.url, tmp_path)
    try:
        wait_until(lambda: effects(sqlite_engine) == [instance.id], timeout=30, explain=log.read_text)
        wait_until(lambda: answers(port), timeout=10, explain=log.read_text)
        popen.send_signal(signal.SIGTERM)
        assert popen.wait(30) == 0, log.read_text()
    finally:
        popen.kill()
        popen.wait()
    output = log.read_text()
    assert "Job worker: " in output and "Job worker stopped; jobs: {'completed': 1}" in output
    assert open_activities(sqlite_engine, instance.id) == ["After"]


def test_serve_with_no_worker_leaves_jobs_to_worker_processes(sqlite_engine: Engine, tmp_path: Path) -> None:
    sqlite_engine.runtime.start(key="p")
    popen, log, port = serve(sqlite_engine.database.url, tmp_path, "--no-worker")
    try:
        wait_until(lambda: answers(port), timeout=30, explain=log.read_text)
        time.sleep(0.5)
        assert len(sqlite_engine.jobs.list()) == 1
        popen.send_signal(signal.SIGINT)
        assert popen.wait(30) == 0, log.read_text()
    finally:
        popen.kill()
        popen.wait()
    assert "Job worker" not in log.read_text()
    assert effects(sqlite_engine) == []
