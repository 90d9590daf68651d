"""External-task round trips per second through the real Camunda client, against a Flowdesk server.

``python -m bench.external_tasks [--instances N] [--no-postgres]``. For each database (SQLite file,
and PostgreSQL when it answers), a ``flowdesk serve --no-worker`` process is started on a free port
over a fresh database holding N instances of start -> external task (topic ``bench``) -> end; then
this process drives the unchanged PyPI client ``camunda-external-task-client-python3``
(``ExternalTaskClient.fetch_and_lock`` then ``complete``) until every instance has ended.

A round trip is one task fetched, locked and completed: two HTTP requests, each authenticated, and
one persisted engine step. Two runs per database: one task per fetch (``maxTasks=1``, the latency
bound a single-threaded worker sees) and batches of 10. The baseline in the same run is the
server's cheapest authenticated request (``GET /engine-rest/version``), so the ratio says how many
of those one round trip costs. Figures go to stdout and bench/results/external_tasks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from camunda.client.external_task_client import ExternalTaskClient

from bench.common import BENCH_DIR, DEFAULT_PG_URL, PostgresServer, one_service_task
from engine import Database, Engine
from engine.handlers import HandlerRegistry

RESULTS = BENCH_DIR / "results" / "external_tasks.json"
USER, PASSWORD = "bench-worker", "bench-worker-password"
TOPIC = "bench"
BATCHES = (1, 10)

PROCESS = one_service_task("bench_external", f'camunda:type="external" camunda:topic="{TOPIC}"')


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, instances: int) -> None:
    """Schema, the bench user, the process and ``instances`` waiting external tasks."""
    engine = Engine(Database(url), handlers=HandlerRegistry())
    try:
        engine.identity.add_user(USER, PASSWORD, ["warehouse"])
        engine.deployments.deploy([("bench_external.bpmn", PROCESS)])
        for _ in range(instances):
            engine.runtime.start(key="bench_external")
    finally:
        engine.close()


@contextmanager
def server(url: str, log_path: Path) -> Any:
    port = free_port()
    command = [sys.executable, "-m", "webui.cli", "serve", "--no-worker", "--port", str(port), "--db", url]
    with log_path.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
    base = f"http://127.0.0.1:{port}/engine-rest"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/version", auth=(USER, PASSWORD), timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def baseline_rate(base: str, requests_count: int = 300) -> float:
    """Authenticated ``GET /version`` requests per second: the cheapest thing the server answers."""
    http = requests.Session()
    http.auth = (USER, PASSWORD)
    for _ in range(20):
        http.get(f"{base}/version", timeout=10).raise_for_status()
    started = time.perf_counter()
    for _ in range(requests_count):
        http.get(f"{base}/version", timeout=10).raise_for_status()
    return requests_count / (time.perf_counter() - started)


def round_trips(base: str, count: int, batch: int) -> dict[str, Any]:
    config = {
        "auth_basic": {"username": USER, "password": PASSWORD},
        "maxTasks": batch,
        "lockDuration": 60_000,
        "asyncResponseTimeout": 0,
        "isDebug": False,
    }
    client = ExternalTaskClient(f"bench-{batch}", base, config)
    done = 0
    started = time.perf_counter()
    while done < count:
        tasks = client.fetch_and_lock(TOPIC)
        if not tasks:
            raise RuntimeError(f"no task to fetch after {done} of {count}: the run lost tasks")
        for task in tasks:
            if client.complete(task["id"], {"handled": True}) is not True:
                raise RuntimeError(f"completing {task['id']} failed")
        done += len(tasks)
    elapsed = time.perf_counter() - started
    return {
        "max_tasks": batch,
        "round_trips": done,
        "seconds": round(elapsed, 3),
        "round_trips_per_second": round(done / elapsed, 1),
        "ms_per_round_trip": round(elapsed / done * 1000, 2),
    }


def remaining(url: str) -> int:
    engine = Engine(Database(url), handlers=HandlerRegistry(), migrate=False)
    try:
        return engine.runtime.count(process_key="bench_external")
    finally:
        engine.close()


def run_backend(name: str, url: str, per_batch: int, tmp: Path) -> dict[str, Any]:
    log(f"{name}: {per_batch * len(BATCHES)} instances")
    prepare(url, per_batch * len(BATCHES))
    with server(url, tmp / f"server-{name}.log") as base:
        baseline = baseline_rate(base)
        runs = [round_trips(base, per_batch, batch) for batch in BATCHES]
    left = remaining(url)
    if left:
        raise RuntimeError(f"{name}: {left} instances did not end")
    for run in runs:
        run["ratio_to_version_requests"] = round(run["round_trips_per_second"] / baseline, 3)
    return {"version_requests_per_second": round(baseline, 1), "runs": runs, "instances_left": left}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.external_tasks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--instances", type=int, default=300, help="round trips per run (300)")
    parser.add_argument("--pg-url", default=os.environ.get("FLOWDESK_BENCH_POSTGRES_URL", DEFAULT_PG_URL))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "command": "python -m bench.external_tasks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "client": "camunda-external-task-client-python3 (ExternalTaskClient.fetch_and_lock + complete)",
        "backends": {},
    }
    pg = PostgresServer(args.pg_url)
    with tempfile.TemporaryDirectory(prefix="flowdesk_ext_bench_") as tmp_name:
        tmp = Path(tmp_name)
        results["backends"]["sqlite"] = run_backend(
            "sqlite", f"sqlite:///{tmp / 'bench.sqlite'}", args.instances, tmp
        )
        if not args.no_postgres:
            problem = pg.check()
            if problem:
                log(f"PostgreSQL skipped: {problem}")
            else:
                try:
                    url = pg.create("external")
                    results["backends"]["postgresql"] = run_backend("postgresql", url, args.instances, tmp)
                finally:
                    pg.drop_all()
    print(f"{'backend':<11} {'maxTasks':>8} {'round trips/s':>14} {'ms each':>8} {'x GET /version':>15}")
    for name, backend in results["backends"].items():
        for run in backend["runs"]:
            print(
                f"{name:<11} {run['max_tasks']:>8} {run['round_trips_per_second']:>14.1f} "
                f"{run['ms_per_round_trip']:>8.2f} {run['ratio_to_version_requests']:>15.3f}"
            )
        print(f"{name:<11} {'':>8} {backend['version_requests_per_second']:>14.1f}  (GET /version per s)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
