"""Shared pieces of the benchmarks: the process file, databases of our own, statistics."""

from __future__ import annotations

import math
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
BPMN_PATH = BENCH_DIR / "processes" / "benchmark.bpmn"
PROCESS_KEY = "benchmark"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def bpmn_file() -> tuple[str, bytes]:
    return BPMN_PATH.name, BPMN_PATH.read_bytes()


def one_service_task(process_id: str, binding: str) -> bytes:
    """start -> service task `Svc` with the given camunda attributes -> end, as a BPMN file."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://flowdesk.example/bench">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Svc" {binding}>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Svc" />
    <bpmn:sequenceFlow id="f2" sourceRef="Svc" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): a value that was actually measured."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class PostgresServer:
    """Creates databases of its own on the server and drops every one of them at the end."""

    admin_url: str
    prefix: str = field(default_factory=lambda: f"flowdesk_bench_{uuid.uuid4().hex[:8]}")
    created: list[str] = field(default_factory=list)

    def check(self) -> str | None:
        """None when the server answers, else why it does not."""
        try:
            engine = create_engine(self.admin_url, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
        except Exception as err:  # any failure means: no PostgreSQL figures
            return f"{type(err).__name__}: {str(err).splitlines()[0]}"
        return None

    def version(self) -> str:
        engine = create_engine(self.admin_url)
        with engine.connect() as conn:
            value = str(conn.execute(text("SHOW server_version")).scalar())
        engine.dispose()
        return value

    def create(self, suffix: str, template: str | None = None) -> str:
        """A new database (a copy of ``template``, a database url, when given); returns its url."""
        name = f"{self.prefix}_{suffix}"
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        self.created.clear()
