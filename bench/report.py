"""The README's benchmark table, from the figures the benchmarks wrote to bench/results/.

``python -m bench.report`` prints Markdown: one row per target, with the command that measured it,
when, and the figures. The README's Benchmarks section is this output, pasted; rerun the
benchmarks and this command to refresh it.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import BENCH_DIR

RESULTS = BENCH_DIR / "results"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _met(flag: bool) -> str:
    return "met" if flag else "**missed**"


def _lifecycle(d: dict[str, Any]) -> list[str]:
    runs = d["lifecycle"]["runs"]
    raw, sqlite = runs["raw"], runs["sqlite"]
    rows = [
        f"| Lifecycle (start, 10 scripts, user task, end), SQLite vs raw SpiffWorkflow in memory | >= 0.5x "
        f"| {sqlite['instances_per_second']} vs {raw['instances_per_second']} inst/s = "
        f"**{sqlite['ratio_to_raw']}x** (raw + sandbox + JSON save/load, no database: "
        f"{runs['raw_sandbox_json']['ratio_to_raw']}x)"
        f" | {_met(sqlite['ratio_to_raw'] >= 0.5)} | `{d['command']}` |"
    ]
    if "postgresql" in runs:
        pg = runs["postgresql"]
        rows.append(
            f"| Lifecycle, PostgreSQL vs raw | (none) | {pg['instances_per_second']} inst/s = "
            f"{pg['ratio_to_raw']}x | | `{d['command']}` |"
        )
    for backend, t in d["tasklist"]["backends"].items():
        rows.append(
            f"| Task list p95 (`candidateGroup`, 50 rows), 100,000 vs 1,000 open tasks, {backend} | <= 2x "
            f"| {t['large']['p95_ms']} vs {t['small']['p95_ms']} ms = {t['p95_ratio_large_to_small']}x "
            f"| {_met(t['target']['met'])} | `{d['command']}` |"
        )
    return rows


def _straight_diagnostics(d: dict[str, Any]) -> str:
    if "cpu_ratio" not in d:
        return ""
    return (
        f" (per CPU second {d['cpu_ratio']}x; raw completing each task within the same pass: "
        f"{d['raw_in_pass_instances_per_second']} inst/s, Flowdesk {d['ratio_to_raw_in_pass']}x of it)"
    )


def rows() -> list[str]:
    out: list[str] = []
    if (d := _load("latest")) is not None:
        out += _lifecycle(d)
    if (d := _load("persistence_floor")) is not None:
        runs = d["runs"]
        levels = ", ".join(f"{name} {runs[name]['ratio_to_raw']}x" for name in ("state", "tasks", "history"))
        out.append(
            "| Persistence floor: the lifecycle with hand-written SQLAlchemy Core, by bookkeeping kept "
            f"(state only; + task rows; + history) | (diagnostic) | {levels} | | `{d['command'].strip()}` |"
        )
    if (d := _load("straight_through")) is not None:
        out.append(
            f"| Straight-through (10 in-process no-op service tasks), SQLite vs raw | >= 0.5x "
            f"| {d['flowdesk_sqlite_instances_per_second']} vs {d['raw_instances_per_second']} inst/s = "
            f"**{d['ratio']}x**{_straight_diagnostics(d)} | {_met(d['target_met'])} "
            f"| `{d['command'].strip()}` |"
        )
    if (d := _load("jobs")) is not None:
        one, two = d["runs"][0], d["runs"][1]
        out.append(
            f"| Async jobs (handler waits 20 ms), 2 vs 1 worker processes, PostgreSQL | >= 1.6x "
            f"| {two['jobs_per_second']} vs {one['jobs_per_second']} jobs/s = {d['ratio']}x "
            f"| {_met(d['met'])} | `{d['command']}` |"
        )
    if (d := _load("external_tasks")) is not None:
        for backend, b in d["backends"].items():
            figures = ", ".join(
                f"maxTasks {r['max_tasks']}: {r['round_trips_per_second']}/s" for r in b["runs"]
            )
            out.append(
                f"| External-task round trips (fetchAndLock + complete) through the real Python client, "
                f"{backend} | (none) | {figures} | | `{d['command'].strip()}` |"
            )
    if (d := _load("long_loops")) is not None:
        p = d["pruned"]
        late = next(k for k in p if k.startswith("step_ms_at_") and k != "step_ms_at_10")
        out.append(
            f"| Gateway loop: step at iteration {late.rsplit('_', 1)[1]} vs iteration 10 | <= 2x "
            f"| {p[late]} vs {p['step_ms_at_10']} ms = {p['ratio']}x (unpruned: {d['unpruned']['ratio']}x "
            f"by iteration 200) | {_met(d['target']['met'])} | `{d['command'].strip()}` |"
        )
    if (d := _load("multi_instance")) is not None:
        small, large = d["sizes"]
        labels = {
            "straight_script": "script tasks, straight through",
            "straight_service": "in-process service tasks, straight through",
            "user_tasks": "user tasks, completing every item (one engine call each)",
        }
        for name, label in labels.items():
            r = d["runs"][name]
            extra = ""
            if name == "user_tasks":
                extra = (
                    f" (state load/save: {r[f'state_load_save_share_{large}']:.0%} of the "
                    f"{large}-item time)"
                )
            out.append(
                f"| Parallel multi-instance of {label}: {large} vs {small} items | <= 15x "
                f"| {r[f'ms_{large}']} vs {r[f'ms_{small}']} ms = {r['ratio']}x{extra} "
                f"| {_met(d['target']['met'][name])} | `{d['command'].strip()}` |"
            )
    if (d := _load("pages")) is not None:
        out.append(
            f"| Task-list page p95 (server time), 100,000 vs 1,000 open tasks | <= 2x "
            f"| {d['large']['p95_ms']} vs {d['small']['p95_ms']} ms = {d['p95_ratio_large_to_small']}x "
            f"| {_met(d['target']['met'])} | `{d['command']}` |"
        )
    return out


def main() -> None:
    print("| What | Target | Measured | | Command |")
    print("|---|---|---|---|---|")
    for row in rows():
        print(row)


if __name__ == "__main__":
    main()
