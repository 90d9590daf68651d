"""Benchmarks of the engine foundation; ``python -m bench.run`` (``make bench``), ``--quick`` for a smoke run.

1. Lifecycle throughput of bench/processes/benchmark.bpmn (start -> 10 script tasks -> user task ->
   end): raw SpiffWorkflow in memory against Flowdesk persisted on SQLite and PostgreSQL.
   Target: Flowdesk on SQLite >= 0.5x the raw rate. When it misses (or with ``--profile``), one
   persisted lifecycle is profiled and the steps it spends its time in are printed.
2. Task-list latency: ``TaskQuery(candidate_group="sales", max_results=50)`` with 1,000 and
   100,000 open tasks. Target: p95(100k) / p95(1k) <= 2.

Figures go to stdout as tables and to bench/results/latest.json with machine information.
PostgreSQL: a database of our own is created on the server at ``--pg-url`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import lifecycle, tasklist
from bench.common import BENCH_DIR, DEFAULT_PG_URL, PostgresServer, bpmn_file
from engine import Database, Engine
from engine.sandbox import Sandbox
from engine.spiff.scripting import SandboxScriptEngine

LIFECYCLE_TARGET = 0.5
TASKLIST_TARGET = 2.0
RESULTS = BENCH_DIR / "results" / "latest.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=None, help="timed instances per repetition (300)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed instances first (30)")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions; the median is reported (3)")
    parser.add_argument("--small-tasks", type=int, default=1000, help="open tasks, small case (1000)")
    parser.add_argument("--large-tasks", type=int, default=None, help="open tasks, large case (100000)")
    parser.add_argument("--queries", type=int, default=200, help="timed task-list queries per case (200)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 instances, 10,000 tasks")
    parser.add_argument("--profile", action="store_true", help="profile even when the target is met")
    parser.add_argument("--profile-instances", type=int, default=None, help="lifecycles profiled (100)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("FLOWDESK_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="an existing database on the server; the benchmark creates and drops its own beside it",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only", choices=("lifecycle", "tasklist"), default=None, help="run one of the two benchmarks"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON file ({RESULTS})")
    args = parser.parse_args(argv)
    quick = args.quick
    args.instances = args.instances or (50 if quick else 300)
    args.warmup = args.warmup if args.warmup is not None else (10 if quick else 30)
    args.large_tasks = args.large_tasks or (10_000 if quick else 100_000)
    args.profile_instances = args.profile_instances or (30 if quick else 100)
    if args.large_tasks % args.small_tasks or args.large_tasks <= args.small_tasks:
        parser.error("--large-tasks must be a multiple of --small-tasks, and larger")
    return args


# -- machine ------------------------------------------------------------------------------------------


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=BENCH_DIR.parent, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.rstrip("\n")  # keep leading blanks: porcelain status columns


def machine_info(pg_version: str | None) -> dict[str, Any]:
    versions = {}
    for package in ("SpiffWorkflow", "SQLAlchemy", "psycopg", "RestrictedPython", "lxml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    status = _git("status", "--porcelain")
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
        "packages": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_worktree_dirty": bool(status) if status is not None else None,
        # Uncommitted changes outside bench/ when the figures were taken (others edit the engine).
        "git_changed_files": sorted(
            line[3:] for line in (status or "").splitlines() if not line[3:].startswith("bench/")
        ),
    }


# -- benchmarks ---------------------------------------------------------------------------------------


def new_engine(url: str) -> Engine:
    engine = Engine(Database(url))
    engine.deployments.deploy([bpmn_file()])
    return engine


def run_lifecycle(
    args: argparse.Namespace, tmp: Path, pg: PostgresServer | None, engines: list[Engine]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    spec, subprocess_specs = lifecycle.parse_raw()
    parse_ms = (time.perf_counter() - t0) * 1000
    n = args.instances
    sandboxed = SandboxScriptEngine(Sandbox())
    benches: dict[str, lifecycle.InMemoryBench | lifecycle.FlowdeskBench] = {
        "raw": lifecycle.InMemoryBench(
            "raw SpiffWorkflow, in memory", lambda i: lifecycle.raw_lifecycle(spec, subprocess_specs, i), n
        ),
        "raw_sandbox": lifecycle.InMemoryBench(
            "diagnostic: raw + Flowdesk sandbox script engine",
            lambda i: lifecycle.raw_lifecycle(spec, subprocess_specs, i, sandboxed),
            n,
        ),
        "raw_sandbox_json": lifecycle.InMemoryBench(
            "diagnostic: raw + sandbox + JSON save/load/save",
            lambda i: lifecycle.roundtrip_lifecycle(spec, subprocess_specs, i, sandboxed),
            n,
        ),
    }
    sqlite_engine = new_engine(f"sqlite:///{tmp / 'lifecycle.sqlite'}")
    engines.append(sqlite_engine)
    benches["sqlite"] = lifecycle.FlowdeskBench("Flowdesk persisted, SQLite file", sqlite_engine, n)
    pg_engine = None
    if pg is not None:
        pg_engine = new_engine(pg.create("lifecycle"))
        engines.append(pg_engine)
        benches["postgresql"] = lifecycle.FlowdeskBench("Flowdesk persisted, PostgreSQL", pg_engine, n)
    for key, bench in benches.items():
        log(f"lifecycle: warming up {key} ({args.warmup} instances)")
        bench.prepare(args.warmup)
    # Repetitions interleave the runs, so that drift on a shared machine hits every run alike.
    for rep in range(args.repeats):
        for key, bench in benches.items():
            log(f"lifecycle: repetition {rep + 1}/{args.repeats}, {key}, {n} instances")
            bench.repetition()
    runs = {key: bench.result for key, bench in benches.items()}
    statements: dict[str, Any] = {"sqlite": lifecycle.statements_of_one_lifecycle(sqlite_engine)}
    if pg_engine is not None:
        statements["postgresql"] = lifecycle.statements_of_one_lifecycle(pg_engine)
    raw_rate = runs["raw"].rate
    result: dict[str, Any] = {
        "process": "bench/processes/benchmark.bpmn: start -> 10 script tasks -> user task (sales) -> end",
        "raw_parse_once_ms": round(parse_ms, 2),
        "runs": {},
        "sql_statements_per_lifecycle": statements,
    }
    for key, run in runs.items():
        entry = {"name": run.name, **run.as_dict(), "ratio_to_raw": round(run.rate / raw_rate, 3)}
        if run.rate_without_lookup is not None:
            entry["ratio_to_raw_without_lookup"] = round(run.rate_without_lookup / raw_rate, 3)
        result["runs"][key] = entry
    ratio = runs["sqlite"].rate / raw_rate
    result["target"] = {
        "rule": f"Flowdesk persisted on SQLite >= {LIFECYCLE_TARGET}x the raw rate (lookup included)",
        "ratio": round(ratio, 3),
        "met": ratio >= LIFECYCLE_TARGET,
    }
    if args.profile or ratio < LIFECYCLE_TARGET:
        log(f"profiling {args.profile_instances} persisted lifecycles on SQLite (cProfile)")
        result["profile_sqlite"] = lifecycle.profile_lifecycles(sqlite_engine, args.profile_instances)
    return result


def run_tasklist(
    args: argparse.Namespace, tmp: Path, pg: PostgresServer | None, engines: list[Engine]
) -> dict[str, Any]:
    copies = args.large_tasks // args.small_tasks - 1
    backends = ["sqlite"] + (["postgresql"] if pg is not None else [])
    out: dict[str, Any] = {
        "query": 'engine.tasks.list(TaskQuery(candidate_group="sales", max_results=50))',
        "seeding": (
            f"{args.small_tasks} instances started with engine.runtime.start (each waits in its user task, "
            "candidate group 'sales'); then their task_candidates.identity rewritten round-robin to "
            f"{', '.join(tasklist.GROUPS)} (1/4 'sales'). That database is cloned (SQLite: file copy; "
            "PostgreSQL: CREATE DATABASE ... TEMPLATE) and the clone grown to "
            f"{args.large_tasks} open tasks with {copies} copies of every process_instances, human_tasks "
            "and task_candidates row, one INSERT ... SELECT per table (CROSS JOIN a table of copy "
            "numbers; ids suffixed '-c<k>'; workflow text, timestamps and groups copied unchanged). "
            "History tables are not copied. PostgreSQL: VACUUM ANALYZE on both databases, then a wait for "
            "autovacuum workers to finish (steady state, as autovacuum would leave it); SQLite: no ANALYZE "
            "(the engine never runs one). Timed queries alternate between the "
            "two databases in 4 blocks, so that machine noise hits both alike."
        ),
        "warmup_queries": 20,
        "backends": {},
    }
    for name in backends:
        if name == "sqlite":
            small_url = f"sqlite:///{tmp / 'tasks_small.sqlite'}"
        else:
            assert pg is not None
            small_url = pg.create("tasks_small")
        seeder = new_engine(small_url)
        log(f"task list on {name}: seeding {args.small_tasks} open tasks through the engine")
        try:
            seeded_s = tasklist.seed_through_engine(seeder, args.small_tasks)
            tasklist.checkpoint(seeder)
        finally:
            seeder.close()
        if name == "sqlite":
            large_file = tmp / "tasks_large.sqlite"
            shutil.copyfile(tmp / "tasks_small.sqlite", large_file)
            large_url = f"sqlite:///{large_file}"
        else:
            assert pg is not None
            large_url = pg.create("tasks_large", template=small_url)
        pair = {"small": Engine(Database(small_url)), "large": Engine(Database(large_url))}
        engines.extend(pair.values())
        log(f"task list on {name}: growing the clone to {args.large_tasks} open tasks in bulk")
        copied_s = tasklist.copy_in_bulk(pair["large"], copies)
        analyzed_s = None
        if name == "postgresql":
            analyzed_s = tasklist.vacuum_analyze(pair["large"])
            tasklist.vacuum_analyze(pair["small"])
        log(f"task list on {name}: {args.queries} queries on each size, interleaved")
        latency = tasklist.measure_interleaved(pair, queries=args.queries, warmup=20)
        entry: dict[str, Any] = {
            "seed_through_engine_s": round(seeded_s, 2),
            "bulk_copy_s": round(copied_s, 2),
            "vacuum_analyze_s": round(analyzed_s, 2) if analyzed_s is not None else None,
        }
        for size, engine in pair.items():
            captured = tasklist.capture(engine)
            entry[size] = {
                **latency[size].as_dict(),
                "sql_only_p50_ms": round(tasklist.sql_only_p50_ms(engine, captured, args.queries), 3),
                "statements_per_query": len(captured),
                "database_mb": round(tasklist.database_size_mb(engine), 1),
                "plan": tasklist.plan(engine, captured),
            }
        ratio = latency["large"].p95 / latency["small"].p95
        entry["p95_ratio_large_to_small"] = round(ratio, 3)
        entry["target"] = {
            "rule": f"p95(large) / p95(small) <= {TASKLIST_TARGET}",
            "met": ratio <= TASKLIST_TARGET,
        }
        out["backends"][name] = entry
    return out


# -- output -------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = right or [i > 0 for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = [
            c.rjust(w) if align[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _yes(met: bool) -> str:
    return "MET" if met else "MISSED"


def report(results: dict[str, Any]) -> str:
    out: list[str] = []
    m = results["machine"]
    out.append("Flowdesk benchmark")
    out.append(f"command: {results['command']}")
    out.append(
        f"machine: {m['cpu_count']} CPU ({m['cpu_model']}), Python {m['python']}, SQLite {m['sqlite']}, "
        f"PostgreSQL {m['postgresql'] or '(not run)'}, SpiffWorkflow {m['packages']['SpiffWorkflow']}, "
        f"SQLAlchemy {m['packages']['SQLAlchemy']}"
    )
    life = results.get("lifecycle")
    if life:
        s = results["settings"]
        out.append("")
        out.append(
            f"1. Lifecycle throughput ({life['process']}); median of {s['repeats']} x {s['instances']} "
            f"instances after {s['warmup']} warm-up; spec parsed once ({life['raw_parse_once_ms']} ms)"
        )
        rows = []
        for run in life["runs"].values():
            phases = run.get("ms_per_instance_by_phase")
            rows.append(
                [
                    run["name"],
                    f"{run['instances_per_second']:.1f}",
                    f"{run['ms_per_instance']:.2f}",
                    f"{run['ratio_to_raw']:.3f}",
                    (f"{phases['start']:.2f} / {phases['lookup']:.2f} / {phases['complete']:.2f}"
                     if phases else ""),
                    f"{run['instances_per_second_without_lookup']:.1f}" if phases else "",
                    f"{run['ratio_to_raw_without_lookup']:.3f}" if phases else "",
                ]
            )
        out.append(
            table(
                ["run", "inst/s", "ms/inst", "x raw", "ms start / lookup / complete", "inst/s w/o lookup",
                 "x raw w/o lookup"],
                rows,
            )
        )
        t = life["target"]
        out.append(f"target: {t['rule']}: {t['ratio']:.3f}x -> {_yes(t['met'])}")
        out.append("")
        out.append("SQL statements sent per lifecycle (plus one COMMIT per transaction):")
        for backend, st in life["sql_statements_per_lifecycle"].items():
            phases = ", ".join(f"{k} {v}" for k, v in st["by_phase"].items())
            out.append(f"  {backend}: {st['total']} ({phases})")
        first = next(iter(life["sql_statements_per_lifecycle"].values()))
        for phase, counter in first["statements"].items():
            listed = "; ".join(f"{k} x{v}" if v > 1 else k for k, v in counter.items())
            out.append(f"    {phase}: {listed}")
        prof = life.get("profile_sqlite")
        if prof:
            out.append("")
            out.append(
                f"Profile of {prof['lifecycles_profiled']} persisted lifecycles on SQLite (cProfile, per "
                f"lifecycle; {prof['profiled_wall_ms_per_lifecycle']:.2f} ms each under the profiler)"
            )
            out.append("Top 15 functions by cumulative time:")
            out.append(
                table(
                    ["function", "calls", "own ms", "cum ms"],
                    [
                        [e["function"], e["calls_per_lifecycle"], f"{e['own_ms_per_lifecycle']:.3f}",
                         f"{e['cumulative_ms_per_lifecycle']:.3f}"]
                        for e in prof["top15_by_cumulative"]
                    ],
                )
            )
            out.append("Engine steps (inclusive time; nested steps are indented, so they do not add up):")
            out.append(
                table(
                    ["step", "calls", "ms"],
                    [
                        [b["step"], b["calls_per_lifecycle"], f"{b['ms_per_lifecycle']:.3f}"]
                        for b in prof["steps"]
                    ],
                )
            )
            out.append("Top 10 by own time:")
            out.append(
                table(
                    ["function", "own ms"],
                    [[e["function"], f"{e['own_ms_per_lifecycle']:.3f}"] for e in prof["top10_by_own_time"]],
                )
            )
    tl = results.get("tasklist")
    if tl:
        out.append("")
        out.append(f"2. Task-list latency: {tl['query']}; {results['settings']['queries']} timed queries "
                   f"after {tl['warmup_queries']} warm-up")
        rows = []
        for backend, b in tl["backends"].items():
            for case in ("small", "large"):
                c = b[case]
                ratio = f"{b['p95_ratio_large_to_small']:.2f} ({_yes(b['target']['met'])})"
                rows.append(
                    [
                        backend,
                        f"{c['open_tasks']:,}",
                        f"{c['open_sales_tasks']:,}",
                        f"{c['p50_ms']:.2f}",
                        f"{c['p95_ms']:.2f}",
                        f"{c['sql_only_p50_ms']:.2f}",
                        ratio if case == "large" else "",
                    ]
                )
        out.append(
            table(
                ["backend", "open tasks", "sales tasks", "p50 ms", "p95 ms", "SQL only p50 ms", "p95 ratio"],
                rows,
            )
        )
        out.append(
            "(SQL only: the same statements through the driver, rows fetched as tuples, no ORM objects)"
        )
        out.append(f"target: p95(large) / p95(small) <= {TASKLIST_TARGET}")
        for backend, b in tl["backends"].items():
            out.append(
                f"  {backend}: seeded through the engine in {b['seed_through_engine_s']} s, bulk copy "
                f"{b['bulk_copy_s']} s, databases {b['small']['database_mb']} / "
                f"{b['large']['database_mb']} MB; plan at the large size:"
            )
            out.extend(f"      {line}" for line in b["large"]["plan"])
        out.append(f"seeding: {tl['seeding']}")
    notes = results.get("notes")
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]),
        "python_executable": sys.executable,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "instances": args.instances,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "small_tasks": args.small_tasks,
            "large_tasks": args.large_tasks,
            "queries": args.queries,
            "quick": args.quick,
        },
        "notes": [],
    }
    pg: PostgresServer | None = None
    pg_version = None
    if not args.no_postgres:
        pg = PostgresServer(args.pg_url)
        problem = pg.check()
        if problem:
            results["notes"].append(f"PostgreSQL not measured: {args.pg_url} does not answer ({problem})")
            log(results["notes"][-1])
            pg = None
        else:
            pg_version = pg.version()
    results["machine"] = machine_info(pg_version)
    engines: list[Engine] = []
    with tempfile.TemporaryDirectory(prefix="flowdesk_bench_") as tmpdir:
        try:
            if args.only in (None, "lifecycle"):
                results["lifecycle"] = run_lifecycle(args, Path(tmpdir), pg, engines)
            if args.only in (None, "tasklist"):
                results["tasklist"] = run_tasklist(args, Path(tmpdir), pg, engines)
        finally:
            for engine in engines:
                engine.close()
            if pg is not None:
                pg.drop_all()
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\n(run took {results['elapsed_s']} s; figures written to {args.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
