"""Testing a BPMN file end to end, with chosen handlers and scripted user-task answers.

    from engine.testing import ProcessTest

    def test_hot_lead_goes_to_sales(tmp_path):
        handlers = {"crm.score_lead": score_lead}
        with ProcessTest(tmp_path, "processes/score_lead.bpmn", handlers=handlers) as pt:
            run = pt.start("score_lead", variables={"lead": LEAD}, business_key="L-1")
            assert run.open_tasks == ["sales_review"]
            run.complete("sales_review", {"accepted": True})  # validated like a person's submit
            pt.clock.advance(days=7); pt.fire_timers()  # timers due by the FakeClock
            pt.correlate("payment_received", business_key="L-1")  # as POST /engine-rest/message
            run.run_jobs()  # due handler jobs (asyncBefore, retries), in this process
            assert run.ended and run.variables["score"] == 65
            assert run.path == ["start", "score", "hot", "sales_review", "handed_over"]

Each ``ProcessTest`` is a real engine on a fresh SQLite file under ``directory``, created by the
real migrations, with the BPMN files deployed (a deploy problem raises ``DeploymentError``) and a
``FakeClock`` (``pt.clock.advance(minutes=1)`` makes a retry due). Tests should fail loudly, so by
default a handler that fails, a BPMN error nothing catches, or a script that stops the instance
makes the call that ran it (``start``, ``complete``, ``run_jobs``) raise ``AssertionError`` with
the error and the handler's traceback; ``fail_fast=False`` leaves the failure to the engine, as in
production, to test retries and incidents (``run.jobs``, ``run.incidents``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from engine.clock import FakeClock
from engine.db import Database
from engine.db.models import JobKind
from engine.engine import Engine
from engine.handlers import Handler, HandlerRegistry
from engine.identity import Actor
from engine.instances import InstanceInfo
from engine.jobs import JobInfo
from engine.messages import Correlation
from engine.tasks import TaskQuery

WORKER_ID = "process-test"
MAX_JOBS = 1000  # per run_jobs call: more means the process loops through jobs forever


class ProcessTest:
    """A real engine with ``bpmn`` deployed; use it as a context manager so it is closed."""

    def __init__(
        self,
        directory: str | Path,
        bpmn: str | Path | Iterable[str | Path],
        *,
        handlers: Mapping[str, Handler] | HandlerRegistry | None = None,
        clock: FakeClock | None = None,
        fail_fast: bool = True,
    ) -> None:
        self.clock = clock or FakeClock()
        self.fail_fast = fail_fast
        if isinstance(handlers, HandlerRegistry):
            registry = handlers
        else:
            registry = HandlerRegistry()
            for name, fn in (handlers or {}).items():
                registry.register(name, fn)
        # A directory of its own: two ProcessTests in one tmp_path never share a database.
        folder = Path(tempfile.mkdtemp(prefix="flowdesk-", dir=directory))
        self.engine = Engine(
            Database(f"sqlite:///{folder / 'flowdesk.sqlite'}"), clock=self.clock, handlers=registry
        )
        paths = [bpmn] if isinstance(bpmn, str | Path) else list(bpmn)
        try:
            self.engine.deployments.deploy([_read(Path(p)) for p in paths], name="ProcessTest")
        except BaseException:
            self.engine.close()
            raise

    def __enter__(self) -> ProcessTest:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    def start(
        self, key: str, variables: Mapping[str, Any] | None = None, *, business_key: str | None = None
    ) -> ProcessRun:
        """Start the latest version of process ``key`` and run it to its first wait state."""
        __tracebackhide__ = True  # pytest shows the test's line, not the helper's
        info = self.engine.runtime.start(key=key, variables=variables, business_key=business_key)
        run = ProcessRun(self, info.id)
        if self.fail_fast:
            run._check(set(), None)
        return run

    def fire_timers(self) -> int:
        """Fire the timers due by ``self.clock`` (advance it first), as a worker would; how many fired."""
        return self.engine.timers.fire_due(WORKER_ID)

    def correlate(
        self,
        message: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        all: bool = False,
    ) -> list[Correlation]:
        """Deliver ``message`` as ``POST /engine-rest/message`` does; where it went."""
        return self.engine.messages.correlate(
            message, business_key=business_key, variables=variables, all=all
        )

    def run_jobs(self) -> int:
        """Run due handler jobs and deliveries of thrown signals and messages, and the jobs they
        lead to, until none is due; how many ran.

        Jobs of every instance of this test run: the engine picks jobs by due time, not by instance.
        """
        __tracebackhide__ = True
        for ran in range(MAX_JOBS):
            jobs = self.engine.jobs.acquire(WORKER_ID, kind=JobKind.HANDLER)
            if not jobs:
                return ran
            outcome = self.engine.jobs.run(jobs[0].id, WORKER_ID)
            if outcome == "failed" and self.fail_fast:
                raise AssertionError(_failure(self.engine.jobs.get(jobs[0].id)))
        raise AssertionError(f"{MAX_JOBS} jobs ran and more are due: does the process loop through jobs?")


class ProcessRun:
    """One process instance of a ``ProcessTest``; every property reads the engine's current state."""

    def __init__(self, test: ProcessTest, instance_id: str) -> None:
        self.test = test
        self.engine = test.engine
        self.id = instance_id

    def complete(
        self, activity_id: str, values: Mapping[str, Any] | None = None, *, actor: Actor | None = None
    ) -> None:
        """Complete the open user task ``activity_id`` (the oldest, if several) with ``values``.

        The values are checked against the task's form as a person's submit is
        (``FormValidationError``); with ``actor``, so is whether that person may work on the task.
        """
        __tracebackhide__ = True
        tasks = self.engine.tasks.list(TaskQuery(instance_id=self.id, activity_id=activity_id))
        if not tasks:
            raise AssertionError(
                f"no user task {activity_id!r} is open in this run; open: {self.open_tasks or 'none'}, "
                f"path so far: {self.path}"
            )
        self._checked(lambda: self.engine.tasks.complete(tasks[0].id, values, actor=actor))

    def run_jobs(self) -> int:
        """``ProcessTest.run_jobs``: run every due handler job of the test; how many ran."""
        __tracebackhide__ = True
        ran = 0

        def run() -> None:
            nonlocal ran
            ran = self.test.run_jobs()

        self._checked(run)
        return ran

    @property
    def instance(self) -> InstanceInfo:
        return self.engine.runtime.get(self.id)

    @property
    def ended(self) -> bool:
        return self.instance.ended

    @property
    def variables(self) -> dict[str, Any]:
        return self.engine.runtime.variables(self.id)

    @property
    def open_tasks(self) -> list[str]:
        """Activity ids of the open user tasks, oldest first."""
        return [task.activity_id for task in self.engine.tasks.list(TaskQuery(instance_id=self.id))]

    @property
    def path(self) -> list[str]:
        """Activity ids in the order the instance entered them, from history."""
        return [
            a.activity_id
            for a in self.engine.history.activities(instance_id=self.id)
            # History also lists boundary events that were only armed while their task ran; a
            # boundary event is on the path only when it fired.
            if a.activity_type != "boundaryEvent" or (a.ended_at is not None and not a.canceled)
        ]

    @property
    def jobs(self) -> list[JobInfo]:
        """Waiting handler jobs and external tasks, with their retries and last error."""
        return self.engine.jobs.list(instance_id=self.id)

    @property
    def incidents(self) -> list[JobInfo]:
        """Jobs with no retries left: they wait for ``engine.jobs.set_retries``."""
        return self.engine.jobs.list(instance_id=self.id, incidents_only=True)

    def _check(self, known_failures: set[str], known_error: str | None) -> None:
        """Raise ``AssertionError`` for a job failure not in ``known_failures`` or a new instance error."""
        __tracebackhide__ = True
        for job in self.jobs:
            if job.error_message is not None and job.id not in known_failures:
                raise AssertionError(_failure(job))
        instance = self.instance
        if instance.error_message is not None and instance.error_message != known_error:
            raise AssertionError(
                f"the instance stopped at {instance.error_activity_id!r}: {instance.error_message}{_HINT}"
            )

    def _checked(self, action: Callable[[], None]) -> None:
        __tracebackhide__ = True
        if not self.test.fail_fast:
            action()
            return
        known = {job.id for job in self.jobs if job.error_message is not None}
        error = self.instance.error_message
        action()
        self._check(known, error)


_HINT = "\n(ProcessTest(..., fail_fast=False) lets a test look at failures instead: run.jobs, run.incidents)"


def _failure(job: JobInfo) -> str:
    state = (
        "no retries left: an incident"
        if job.is_incident
        else f"{job.retries} retries left, next at {job.due_at.isoformat()}"
    )
    details = f"\n{job.error_details.rstrip()}" if job.error_details else ""
    what = "handler" if job.kind == JobKind.HANDLER.value else "external task"
    return (
        f"{what} {job.topic!r} failed at {job.activity_id!r} ({state}): {job.error_message}{details}{_HINT}"
    )


def _read(path: Path) -> tuple[str, bytes]:
    if not path.is_file():
        raise FileNotFoundError(
            f"BPMN file {str(path)!r} not found (looked at {path.resolve()}; a relative path is read "
            "from the current directory)"
        )
    return path.name, path.read_bytes()
