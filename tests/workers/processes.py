"""Real ``flowdesk worker`` processes for tests: start, wait for, stop, and read their logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.workers.effect_handlers import CALLS_DIR_SETTING

ROOT = Path(__file__).resolve().parents[2]
ASYNC_BINDING = 'camunda:class="effects.record" camunda:asyncBefore="true"'


class WorkerProcess:
    """One ``python -m webui.cli worker`` subprocess; its log goes to a file under ``folder``."""

    def __init__(self, db_url: str, folder: Path, *args: str) -> None:
        self.log_path = folder / f"worker-{time.monotonic_ns()}.log"
        env = {
            **os.environ,
            "FLOWDESK_HANDLER_MODULES": "tests.workers.effect_handlers",
            CALLS_DIR_SETTING: str(folder),
        }
        with open(self.log_path, "w") as log:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "webui.cli",
                    "worker",
                    "--db",
                    db_url,
                    "--poll-interval",
                    "0.2",
                    *args,
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(lambda: "slot(s)" in self.log() or self.popen.poll() is not None, timeout, self.log)
        assert self.popen.poll() is None, f"the worker exited at start:\n{self.log()}"

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit code (the worker finishes its running jobs first)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


@contextmanager
def worker_processes(db_url: str, folder: Path, count: int, *args: str) -> Iterator[list[WorkerProcess]]:
    """``count`` workers; SIGKILLed at the end unless the test stopped them."""
    workers = [WorkerProcess(db_url, folder, *args) for _ in range(count)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.kill()


def wait_until(condition: Callable[[], bool], timeout: float, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s\n{explain()}")
        time.sleep(0.05)


def handler_calls(folder: Path) -> list[str]:
    """The idempotency keys of every handler call, committed or not, across processes."""
    return [line for path in sorted(folder.glob("calls-*.txt")) for line in path.read_text().splitlines()]
