"""Asynchronous job throughput with 1 and 2 ``flowdesk worker`` processes on PostgreSQL.

``python -m bench.bench_jobs``; ``--quick`` for a smoke run. Every job runs a handler that waits
20 ms on I/O (``time.sleep(0.02)``); each worker process runs one job at a time (concurrency 1).
Target: 2 worker processes >= 1.6x the jobs/s of one.

How it is measured: for each worker count, a database of our own gets N instances of
start -> service task (asyncBefore) -> end, so N jobs wait before any worker runs; then the worker
processes start. The rate is taken from the history's completion times between the 10th and the
90th percentile of jobs, so process start-up, the first job's definition parse, and the tail when
one worker has found the last job do not count. Figures go to stdout as a table and to
bench/results/jobs.json with machine information.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import BENCH_DIR, DEFAULT_PG_URL, PostgresServer, one_service_task
from engine import Database, Engine
from engine.handlers import HandlerContext, HandlerRegistry, handler

HANDLER = "bench.io_wait"
IO_WAIT_SECONDS = 0.02
TARGET_RATIO = 1.6
WORKER_COUNTS = (1, 2)
RESULTS = BENCH_DIR / "results" / "jobs.json"
WINDOW = (0.10, 0.90)  # the share of completions the rate is taken between
WORKER_COMMAND = [sys.executable, "-m", "webui.cli", "worker"]

PROCESS = one_service_task("bench_jobs", f'camunda:class="{HANDLER}" camunda:asyncBefore="true"')


def io_wait(ctx: HandlerContext) -> None:
    """The benchmark's handler: 20 ms waiting on I/O, as a call to another system would."""
    time.sleep(IO_WAIT_SECONDS)


if __name__ != "__main__":
    # Worker processes import this module through FLOWDESK_HANDLER_MODULES; the benchmark's own
    # engine gets the handler from registry() instead.
    handler(HANDLER)(io_wait)


def registry() -> HandlerRegistry:
    handlers = HandlerRegistry()
    handlers.register(HANDLER, io_wait)
    return handlers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_jobs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs per run (400; --quick: 100)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 jobs")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FLOWDESK_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="an existing database on the server; the benchmark creates and drops its own beside it",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="do not ANALYZE the jobs table after creating the jobs (the planner then works from "
        "statistics of an empty table)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file ({RESULTS})")
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (100 if args.quick else 400)
    if args.jobs < 20:
        parser.error("--jobs must be at least 20")
    return args


# -- one run ----------------------------------------------------------------------------------------


def prepare(url: str, jobs: int, analyze: bool) -> None:
    """Migrate, deploy, and start ``jobs`` instances: ``jobs`` handler jobs wait."""
    engine = Engine(Database(url), handlers=registry())
    try:
        engine.deployments.deploy([("bench_jobs.bpmn", PROCESS)])
        for _ in range(jobs):
            engine.runtime.start(key="bench_jobs")
        if analyze:
            with engine.database.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        engine.close()


def start_worker(url: str, log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FLOWDESK_HANDLER_MODULES": "bench.bench_jobs"}
    with open(log_path, "w") as out:
        return subprocess.Popen(
            [*WORKER_COMMAND, "--db", url, "--concurrency", "1", "--poll-interval", "0.2"],
            cwd=BENCH_DIR.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def cpu_times() -> tuple[int, int]:
    """(all, idle) clock ticks of every CPU since boot; (0, 0) where /proc/stat is missing."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    return sum(values), values[3] + values[4]  # idle + iowait


def busy_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[0] - before[0]
    return round(100 * (1 - (after[1] - before[1]) / total), 1) if total else None


def run(url: str, workers: int, jobs: int, folder: Path) -> dict[str, Any]:
    logs = [folder / f"worker-{workers}-{n}.log" for n in range(workers)]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    procs = [start_worker(url, path) for path in logs]
    cpu_before = cpu_times()
    started = time.perf_counter()
    deadline = started + 60 + jobs * 0.5
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            while conn.execute(text("SELECT count(*) FROM jobs")).scalar_one():
                conn.rollback()
                if time.perf_counter() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError(
                        f"the jobs were not done (a worker exited or {deadline - started:.0f} s passed):\n"
                        + "\n".join(path.read_text()[-2000:] for path in logs)
                    )
                time.sleep(0.05)
        wall = time.perf_counter() - started
        busy = busy_percent(cpu_before, cpu_times())
        codes = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            codes.append(proc.wait(60))
        with database.engine.connect() as conn:
            ended = list(
                conn.scalars(
                    text(
                        "SELECT ended_at FROM history_activities "
                        "WHERE activity_id = 'Svc' AND ended_at IS NOT NULL ORDER BY ended_at"
                    )
                )
            )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        database.dispose()
    if len(ended) != jobs:
        raise RuntimeError(f"{len(ended)} of {jobs} jobs completed")
    first, last = math.floor(WINDOW[0] * jobs), math.ceil(WINDOW[1] * jobs) - 1
    seconds = (ended[last] - ended[first]).total_seconds()
    rate = (last - first) / seconds
    per_worker = [_completed(path) for path in logs]
    return {
        "workers": workers,
        "jobs": jobs,
        "jobs_per_second": round(rate, 1),
        "window": f"completions {first + 1}..{last + 1} of {jobs}",
        "window_seconds": round(seconds, 3),
        "all_jobs_per_second": round((jobs - 1) / (ended[-1] - ended[0]).total_seconds(), 1),
        "wall_seconds_including_start_up": round(wall, 2),
        "ms_per_job_per_worker": round(1000 * workers / rate, 1),
        "overhead_ms_per_job_beyond_the_wait": round(1000 * workers / rate - IO_WAIT_SECONDS * 1000, 1),
        "jobs_by_worker": per_worker,
        "exit_codes": codes,
        # Of every CPU, from the workers' start to the last job (this machine may run other work).
        "cpu_busy_percent": busy,
        "load_average_before": round(load_before, 2) if load_before is not None else None,
    }


def _completed(log_path: Path) -> int | None:
    """Jobs a worker says it completed, from its last log line."""
    found = re.search(r"stopped; jobs: (\{.*\})", log_path.read_text())
    if found is None:
        return None
    return int(ast.literal_eval(found.group(1)).get("completed", 0))


# -- report -----------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [list(map(str, headers)), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            r["workers"],
            r["jobs"],
            r["jobs_per_second"],
            r["all_jobs_per_second"],
            r["ms_per_job_per_worker"],
            r["overhead_ms_per_job_beyond_the_wait"],
            " / ".join(str(n) for n in r["jobs_by_worker"]),
            r["cpu_busy_percent"],
            r["load_average_before"],
        ]
        for r in results["runs"]
    ]
    ratio = results["ratio"]
    lines = [
        "Asynchronous jobs on PostgreSQL: handler waits 20 ms on I/O, concurrency 1 per worker process",
        "",
        table(
            [
                "workers",
                "jobs",
                "jobs/s (10-90%)",
                "jobs/s (all)",
                "ms/job/worker",
                "overhead ms/job",
                "jobs by worker",
                "CPU busy %",
                "load before",
            ],
            rows,
        ),
        "",
        f"2 workers / 1 worker: {ratio:.2f}x  (target >= {TARGET_RATIO}x: "
        f"{'met' if results['met'] else 'MISSED'})",
    ]
    lines += [f"note: {note}" for note in results["notes"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.run import machine_info  # the shared machine description of bench/results

    args = parse_args(argv)
    server = PostgresServer(args.pg_url)
    problem = server.check()
    if problem is not None:
        print(f"PostgreSQL at {args.pg_url} does not answer ({problem}); nothing measured", file=sys.stderr)
        return 2
    notes = [
        f"{os.cpu_count()} CPU(s) shared by the worker processes, PostgreSQL and this script",
        "the jobs table was ANALYZEd after the jobs were created"
        if not args.no_analyze
        else "the jobs table was not ANALYZEd: the planner used the statistics of an empty table",
    ]
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="flowdesk-bench-jobs-") as tmp:
            for workers in WORKER_COUNTS:
                url = server.create(f"jobs{workers}")
                log(f"{workers} worker(s): starting {args.jobs} instances")
                prepare(url, args.jobs, analyze=not args.no_analyze)
                log(f"{workers} worker(s): running {args.jobs} jobs")
                result = run(url, workers, args.jobs, Path(tmp))
                log(f"{workers} worker(s): {result['jobs_per_second']} jobs/s")
                runs.append(result)
        version = server.version()
    finally:
        server.drop_all()
    ratio = runs[1]["jobs_per_second"] / runs[0]["jobs_per_second"]
    if any((r["load_average_before"] or 0) >= 0.5 for r in runs):
        notes.append(
            "the machine was not idle before a run (load average >= 0.5): other work shared the CPUs, "
            "so the figures are lower bounds; run again on a quiet machine"
        )
    results: dict[str, Any] = {
        "command": "python -m bench.bench_jobs" + (" " + " ".join(argv) if argv else ""),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "jobs": args.jobs,
            "io_wait_seconds": IO_WAIT_SECONDS,
            "concurrency_per_worker": 1,
            "analyze": not args.no_analyze,
            "window": list(WINDOW),
        },
        "machine": machine_info(version),
        "runs": runs,
        "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
        "notes": notes,
    }
    print(report(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"figures written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
