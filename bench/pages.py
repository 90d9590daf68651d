"""Page timings: server time of the "Group tasks" page with 1,000 and 100,000 open tasks.

``python -m bench.pages`` (``--quick`` for a smoke run). Seeding reuses bench/tasklist.py: 1,000
instances started through the engine (candidate groups round-robin over four groups, 1/4 ``sales``),
the SQLite file copied, and the copy grown to 100,000 open tasks in bulk. A ``sales`` user then asks
for ``GET /tasks?view=group`` through Flask's test client: the whole page as the server renders it
(session lookup, both counts, 20 rows, business keys, the process filter, the template), without
the network. Requests alternate between the two databases in blocks, so machine noise hits both
alike. Target: p95(100k) / p95(1k) <= 2. Figures go to stdout and bench/results/pages.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from bench import tasklist
from bench.common import BENCH_DIR, bpmn_file, percentile
from engine import Database, Engine
from webui import create_app

TARGET = 2.0
PAGE = "/tasks?view=group"
ROWS_PER_PAGE = 20
_ROW = re.compile(r'data-task-id="')


def _client(engine: Engine) -> FlaskClient:
    client = create_app(engine, {"TESTING": True, "FLOWDESK_PAGE_SIZE": ROWS_PER_PAGE}).test_client()
    with client.session_transaction() as session:
        session["user"] = "sales"  # logged in, as the login page would leave it
    return client


def _get(client: FlaskClient) -> str:
    response = client.get(PAGE)
    if response.status_code != 200:
        raise RuntimeError(f"GET {PAGE} answered {response.status_code}")
    return response.text


def measure(
    clients: dict[str, FlaskClient], requests: int, rounds: int = 4, warmup: int = 10
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for client in clients.values():
        for _ in range(warmup):
            _get(client)
    per_round = [requests // rounds + (1 if r < requests % rounds else 0) for r in range(rounds)]
    for block in per_round:
        for name, client in clients.items():
            for _ in range(block):
                t0 = time.perf_counter()
                html = _get(client)
                samples[name].append((time.perf_counter() - t0) * 1000)
            if len(_ROW.findall(html)) != ROWS_PER_PAGE:
                raise RuntimeError(f"the page on {name} does not show {ROWS_PER_PAGE} tasks")
    return samples


def run(small: int, large: int, requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="flowdesk-bench-pages-") as folder:
        tmp = Path(folder)
        small_file, large_file = tmp / "small.sqlite", tmp / "large.sqlite"
        seeder = Engine(Database(f"sqlite:///{small_file}"))
        try:
            seeder.deployments.deploy([bpmn_file()])
            seeder.identity.add_user("sales", "sales-bench-pw", ["sales"])
            print(f"seeding {small} open tasks through the engine", file=sys.stderr)
            seeded_s = tasklist.seed_through_engine(seeder, small)
            tasklist.checkpoint(seeder)
        finally:
            seeder.close()
        shutil.copyfile(small_file, large_file)
        engines = {
            "small": Engine(Database(f"sqlite:///{small_file}")),
            "large": Engine(Database(f"sqlite:///{large_file}")),
        }
        try:
            print(f"growing the copy to {large} open tasks in bulk", file=sys.stderr)
            copied_s = tasklist.copy_in_bulk(engines["large"], large // small - 1)
            print(f"{requests} requests of {PAGE} on each size, interleaved", file=sys.stderr)
            samples = measure({name: _client(engine) for name, engine in engines.items()}, requests)
            sizes = {
                name: {
                    "open_tasks": tasklist.counts(engine)[0],
                    "open_sales_tasks": tasklist.counts(engine)[1],
                    "requests": len(samples[name]),
                    "p50_ms": round(percentile(samples[name], 50), 3),
                    "p95_ms": round(percentile(samples[name], 95), 3),
                    "max_ms": round(max(samples[name]), 3),
                }
                for name, engine in engines.items()
            }
        finally:
            for engine in engines.values():
                engine.close()
    ratio = sizes["large"]["p95_ms"] / sizes["small"]["p95_ms"]
    return {
        "command": " ".join(["python -m bench.pages", *sys.argv[1:]]),
        "page": f"GET {PAGE} as user 'sales' (group 'sales'), {ROWS_PER_PAGE} rows per page, SQLite",
        "seed_through_engine_s": round(seeded_s, 2),
        "bulk_copy_s": round(copied_s, 2),
        **sizes,
        "p95_ratio_large_to_small": round(ratio, 3),
        "target": {"rule": f"p95(large) / p95(small) <= {TARGET}", "met": ratio <= TARGET},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small-tasks", type=int, default=1_000)
    parser.add_argument("--large-tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100 and 2,000 tasks, 40 requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.small_tasks, args.large_tasks, args.requests = 100, 2_000, 40
    result = run(args.small_tasks, args.large_tasks, args.requests)
    for name in ("small", "large"):
        s = result[name]
        print(
            f"{s['open_tasks']:>7} open tasks ({s['open_sales_tasks']} for sales): "
            f"p50 {s['p50_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms, max {s['max_ms']:.2f} ms"
        )
    met = "met" if result["target"]["met"] else "NOT met"
    print(f"p95 ratio large/small: {result['p95_ratio_large_to_small']:.2f} (target <= {TARGET}: {met})")
    if not args.quick:
        out = BENCH_DIR / "results" / "pages.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"written to {out.relative_to(BENCH_DIR.parent)}")
    return 0 if result["target"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
