"""Handlers for the worker tests, imported by worker processes through FLOWDESK_HANDLER_MODULES.

``effects.record`` writes its effect as a plain INSERT keyed by ``ctx.idempotency_key`` (a second
run of one activity instance would fail on the primary key), in the step's own transaction. It
also appends a line to a file per process outside any transaction, so a test can count the calls
that did not commit too. With a ``stall`` variable (a file path) the first call creates that file,
holding the pid of its process, and then hangs: a test kills that worker mid-job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from engine.handlers import HandlerContext, HandlerRegistry, handler

RECORD = "effects.record"
CALLS_DIR_SETTING = "FLOWDESK_TEST_CALLS_DIR"
STALL_SECONDS = 120  # far longer than any test waits: the test kills the process first


def create_effects_table(conn: Connection) -> None:
    conn.execute(
        text(
            "CREATE TABLE effects (idempotency_key VARCHAR(100) PRIMARY KEY, "
            "instance_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL)"
        )
    )


@handler(RECORD)
def record(ctx: HandlerContext) -> Mapping[str, Any]:
    calls_dir = os.environ.get(CALLS_DIR_SETTING)
    if calls_dir:
        # One short O_APPEND write per call: lines of concurrent threads do not interleave.
        with open(Path(calls_dir) / f"calls-{os.getpid()}.txt", "a") as calls:
            calls.write(f"{ctx.idempotency_key}\n")
    ctx.session.execute(
        text("INSERT INTO effects (idempotency_key, instance_id, pid) VALUES (:key, :instance, :pid)"),
        {"key": ctx.idempotency_key, "instance": ctx.process_instance_id, "pid": os.getpid()},
    )
    stall = ctx.variables.get("stall")
    if stall and not Path(stall).exists():
        written = Path(f"{stall}.{os.getpid()}")
        written.write_text(str(os.getpid()))
        os.replace(written, stall)  # the test never reads a half-written pid
        time.sleep(STALL_SECONDS)
    delay = ctx.variables.get("sleep")
    if delay:
        time.sleep(float(delay))
    return {"recordedBy": os.getpid()}


def registry() -> HandlerRegistry:
    """These handlers in a registry of their own, for an engine in the test process."""
    handlers = HandlerRegistry()
    handlers.register(RECORD, record)
    return handlers
