"""Task-list latency: a group inbox page (candidate group, 50 rows) with 1,000 and 100,000 open tasks.

Seeding: the first ``small`` tasks come from real ``runtime.start`` calls (so every row is exactly
what the engine writes), then their candidate group is rewritten round-robin to one of four groups
(``sales`` gets 1/4). That database is cloned, and the clone grows to ``large`` tasks by copying its
instances, open tasks and candidate rows in bulk with ``INSERT ... SELECT`` (ids suffixed ``-c<k>``),
keeping the same group mix and timestamps. Queries then alternate between the two databases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from bench.common import PROCESS_KEY, percentile
from engine import Engine, TaskQuery
from engine.db.models import HumanTask, ProcessInstance, TaskCandidate

GROUPS = ("sales", "finance", "warehouse", "support")
QUERY = TaskQuery(candidate_group="sales", max_results=50)

# Columns whose value is (or refers to) an id that must be new in each copy.
_ID_COLUMNS = {
    ProcessInstance.__tablename__: ("id",),
    HumanTask.__tablename__: ("id", "instance_id"),
    TaskCandidate.__tablename__: ("task_id",),
}
_TABLES = (ProcessInstance.__table__, HumanTask.__table__, TaskCandidate.__table__)


@dataclass
class Latency:
    open_tasks: int
    sales_tasks: int
    samples_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 95)

    def as_dict(self) -> dict[str, Any]:
        return {
            "open_tasks": self.open_tasks,
            "open_sales_tasks": self.sales_tasks,
            "queries": len(self.samples_ms),
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "max_ms": round(max(self.samples_ms), 3),
        }


def seed_through_engine(engine: Engine, count: int) -> float:
    """``count`` instances started by the engine, each waiting in its user task; returns seconds."""
    t0 = time.perf_counter()
    for i in range(count):
        engine.runtime.start(key=PROCESS_KEY, variables={"n": i})
    with engine.database.engine.begin() as conn:
        task_ids = conn.execute(
            text("SELECT task_id FROM task_candidates ORDER BY created_at, task_id")
        ).scalars().all()
        conn.execute(
            text("UPDATE task_candidates SET identity = :group WHERE task_id = :task_id"),
            [{"group": GROUPS[i % len(GROUPS)], "task_id": tid} for i, tid in enumerate(task_ids)],
        )
    return time.perf_counter() - t0


def copy_in_bulk(engine: Engine, copies: int) -> float:
    """Add ``copies`` copies of every instance, open task and candidate row; returns seconds."""
    t0 = time.perf_counter()
    with engine.database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_copies (k INTEGER PRIMARY KEY)"))
        numbers = [{"k": k} for k in range(1, copies + 1)]
        conn.execute(text("INSERT INTO bench_copies (k) VALUES (:k)"), numbers)
        for table in _TABLES:
            columns = [c.name for c in table.columns]
            ids = _ID_COLUMNS[table.name]
            select_list = ", ".join(
                f"s.\"{c}\" || '-c' || CAST(c.k AS VARCHAR(8))" if c in ids else f's."{c}"' for c in columns
            )
            column_list = ", ".join(f'"{c}"' for c in columns)
            conn.execute(
                text(
                    f'INSERT INTO {table.name} ({column_list}) SELECT {select_list} '
                    f"FROM {table.name} s CROSS JOIN bench_copies c"
                )
            )
        conn.execute(text("DROP TABLE bench_copies"))
    return time.perf_counter() - t0


def checkpoint(engine: Engine) -> None:
    """Fold SQLite's WAL into the main file, so that the file alone is a complete copy."""
    if engine.database.is_sqlite:
        with engine.database.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def vacuum_analyze(engine: Engine, settle_s: float = 30.0) -> float:
    """PostgreSQL: VACUUM ANALYZE, then wait for autovacuum workers on this database to finish.

    Right after a bulk load autovacuum would otherwise run beside the timed queries on a 2-core
    machine; a database in steady state has its statistics and visibility map up to date."""
    t0 = time.perf_counter()
    with engine.database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            busy = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'autovacuum worker'"
                )
            ).scalar()
            if not busy:
                break
            time.sleep(0.5)
    return time.perf_counter() - t0


def counts(engine: Engine) -> tuple[int, int]:
    return engine.tasks.count(TaskQuery()), engine.tasks.count(TaskQuery(candidate_group="sales"))


def measure_interleaved(
    engines: dict[str, Engine], *, queries: int, rounds: int = 4, warmup: int = 20
) -> dict[str, Latency]:
    """``queries`` timed inbox queries on each database, alternating between them in ``rounds`` blocks
    so that noise on a shared machine (other processes, the server on the same cores) hits all alike."""
    results = {name: Latency(*counts(engine)) for name, engine in engines.items()}
    for engine in engines.values():
        for _ in range(warmup):
            engine.tasks.list(QUERY)
    per_round = [queries // rounds + (1 if r < queries % rounds else 0) for r in range(rounds)]
    for block in per_round:
        for name, engine in engines.items():
            samples = results[name].samples_ms
            for _ in range(block):
                t0 = time.perf_counter()
                rows = engine.tasks.list(QUERY)
                samples.append((time.perf_counter() - t0) * 1000)
            expected = min(50, results[name].sales_tasks)
            if len(rows) != expected or any(r.candidate_groups != ("sales",) for r in rows):
                raise RuntimeError(f"the task list on {name} returned the wrong rows")
    return results


def capture(engine: Engine) -> list[tuple[str, Any]]:
    """The statements (and parameters) one inbox query sends: the page, then its candidates."""
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, params))

    event.listen(engine.database.engine, "before_cursor_execute", record)
    try:
        engine.tasks.list(QUERY)
    finally:
        event.remove(engine.database.engine, "before_cursor_execute", record)
    return captured


def plan(engine: Engine, captured: list[tuple[str, Any]]) -> list[str]:
    """The database's plan for the page query, as the engine sends it."""
    statement, params = next((s, p) for s, p in captured if "JOIN task_candidates" in s)
    prefix = "EXPLAIN QUERY PLAN " if engine.database.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    with engine.database.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    if engine.database.is_sqlite:
        return [str(row[-1]) for row in rows]
    return [str(row[0]) for row in rows]


def sql_only_p50_ms(engine: Engine, captured: list[tuple[str, Any]], queries: int) -> float:
    """p50 of the same statements sent through the driver and fetched as tuples, without the ORM."""
    samples = []
    with engine.database.engine.connect() as conn:
        for n in range(queries + 20):
            t0 = time.perf_counter()
            for statement, params in captured:
                conn.exec_driver_sql(statement, params).all()
            if n >= 20:
                samples.append((time.perf_counter() - t0) * 1000)
            conn.rollback()
    return percentile(samples, 50)


def database_size_mb(engine: Engine) -> float:
    if engine.database.is_sqlite:
        path = Path(str(make_url(engine.database.url).database))
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return size / 1e6
    with engine.database.engine.connect() as conn:
        return float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0) / 1e6
