"""Jobs: acquiring them (workers, external workers), running, failing, and incidents.

Acquisition takes rows with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite serializes
writers itself), sets a lock owner and expiry, and commits at once; a worker that dies loses its
lock when the expiry passes. Running a job locks its instance row first, so two jobs of one
instance never run at the same time, and the handler's writes commit together with the step.
Jobs of kind ``event`` deliver the signals and messages processes threw (``engine.throws``): the
same workers run them, with the same retries and incidents.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from engine.bindings import ServiceTaskModel
from engine.call_jobs import CALL_TOPIC
from engine.clock import Clock
from engine.concurrency import with_retries
from engine.db import Database
from engine.db.models import Job, JobKind, ProcessInstance
from engine.exceptions import FlowdeskError, InvalidRequest
from engine.executor import Executor, Outcome, backoff_seconds
from engine.handlers import BpmnError
from engine.identity import Actor
from engine.instances import InstanceLoader, clean_variables
from engine.job_types import JobInfo, JobLockedByOther, JobNotFound
from engine.spiff.runner import Runner, StepResult, WaitingServiceTask
from engine.steps import StepWriter
from engine.task_scope import task_variables
from engine.throws import EventDelivery

__all__ = ["DEFAULT_LOCK_SECONDS", "JobInfo", "JobLockedByOther", "JobNotFound", "JobService"]

DEFAULT_LOCK_SECONDS = 300


class JobService:
    def __init__(
        self,
        database: Database,
        loader: InstanceLoader,
        executor: Executor,
        clock: Clock,
        events: EventDelivery | None = None,
    ) -> None:
        self.database = database
        self.loader = loader
        self.executor = executor
        self.clock = clock
        self.events = events

    # -- acquiring -------------------------------------------------------------------------------

    def acquire(
        self,
        worker_id: str,
        *,
        limit: int = 1,
        lock_seconds: float = DEFAULT_LOCK_SECONDS,
        kind: JobKind = JobKind.HANDLER,
        topics: Collection[str] | None = None,
        process_keys: Collection[str] | None = None,
        business_key: str | None = None,
        by_priority: bool = True,
    ) -> builtins.list[JobInfo]:
        """Lock up to ``limit`` due jobs for ``worker_id``; their infos, with the lock set."""
        now = self.clock()
        with self.database.write() as session:
            # Workers run handler jobs and deliver thrown events alike.
            kinds = [JobKind.HANDLER, JobKind.EVENT] if kind is JobKind.HANDLER else [kind]
            query = select(Job.id).where(
                Job.kind.in_(kinds),
                or_(Job.retries.is_(None), Job.retries > 0),
                Job.due_at <= now,
                or_(Job.locked_until.is_(None), Job.locked_until < now),
            )
            if topics is not None:
                query = query.where(Job.topic.in_(list(topics)))
            if process_keys:
                query = query.where(Job.process_key.in_(list(process_keys)))
            if business_key is not None:
                query = query.where(Job.business_key == business_key)
            if kind is not JobKind.EXTERNAL:
                running = aliased(Job)
                query = query.where(
                    ~select(running.id)
                    .where(running.instance_id == Job.instance_id, running.locked_until >= now)
                    .exists()
                )
            order = [Job.priority.desc(), Job.due_at, Job.id] if by_priority else [Job.due_at, Job.id]
            query = query.order_by(*order).limit(limit)
            if not self.database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if not ids:
                return []
            session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(
                    locked_by=worker_id,
                    locked_until=now + timedelta(seconds=lock_seconds),
                    attempts=Job.attempts + 1,
                )
            )
            rows = session.scalars(select(Job).where(Job.id.in_(ids)).order_by(*order)).all()
            return [JobInfo.of(row) for row in rows]

    # -- running handler jobs ----------------------------------------------------------------------

    def run(self, job_id: str, worker_id: str) -> str:
        """Run a locked handler job: "completed", "failed", or "skipped" (lock lost, job gone)."""

        def attempt() -> str:
            with self.database.write() as session:
                job = session.get(Job, job_id)
                if job is None or job.locked_by != worker_id:
                    return "skipped"
                if job.kind is JobKind.EVENT:
                    return self._deliver(session, job)
                instance = self._lock_instance(session, job)
                loaded, runner = self.loader.load(session, instance)
                if job.topic == CALL_TOPIC:
                    return self._run_call(session, job, instance, loaded, runner)
                item = self._waiting(runner, job)
                if item is None:
                    session.delete(job)
                    return "skipped"
                model = loaded.model.service_tasks.get(job.activity_id)
                if model is None:
                    outcome = Outcome(failure=f"the definition has no binding for {job.activity_id}")
                else:
                    outcome = self.executor.call(
                        session, instance, model, item, loaded=loaded, now=self.clock(), runner=runner
                    )
                before = runner.variables()
                step = self.executor.apply(runner, item, outcome)
                now = self.clock()
                if step is None:
                    self._record_failure(job, outcome, now)
                    self.loader.calls.uncaught_bpmn_error(session, instance, outcome.bpmn_error, now)
                    return "failed"
                self._finish(session, job, instance, runner, step, before, now, loaded)
                return "completed"

        outcome = with_retries(attempt, job_id=job_id)
        self._notify()
        return outcome

    def _deliver(self, session: Session, job: Job) -> str:
        """Deliver a thrown signal or message (engine.throws); its failure is state, as a handler's."""
        if self.events is None:
            raise RuntimeError("this JobService was built without an EventDelivery; see engine.Engine")
        savepoint = session.begin_nested()
        try:
            self.events.deliver(session, job)
        except FlowdeskError as err:
            savepoint.rollback()
            self._record_failure(job, Outcome(failure=err.message), self.clock())
            return "failed"
        savepoint.commit()
        session.delete(job)
        return "completed"

    def _run_call(
        self, session: Session, job: Job, instance: ProcessInstance, loaded: Any, runner: Runner
    ) -> str:
        """A call activity's job (engine.call_jobs): its child ended, or its start is retried."""
        before = runner.variables()
        step = self.loader.calls.on_job(self.loader, session, job, instance, loaded, runner)
        now = self.clock()
        if isinstance(step, str):
            self._record_failure(job, Outcome(failure=step), now)
            return "failed"
        self._finish(session, job, instance, runner, step, before, now, loaded)
        return "completed"

    # -- external tasks ----------------------------------------------------------------------------

    def complete(
        self,
        job_id: str,
        worker_id: str,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        values, local = clean_variables(variables), clean_variables(local_variables)

        def apply(runner: Runner, item: WaitingServiceTask, model: ServiceTaskModel | None) -> StepResult:
            try:
                outputs = self.executor.external_outputs(model, item.data, values, local)
            except (FlowdeskError, TypeError, ValueError) as err:
                message = err.message if isinstance(err, FlowdeskError) else str(err)
                raise InvalidRequest(
                    f"the output mapping of {item.activity_id!r} failed on the completed variables: "
                    f"{message}; complete it with the variables the mapping needs",
                    job_id=job_id,
                ) from err
            return runner.complete_service_task(item.task_id, outputs)

        self._report(job_id, worker_id, apply)

    def bpmn_error(
        self,
        job_id: str,
        worker_id: str,
        code: str,
        message: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        error = BpmnError(code, message, clean_variables(variables))
        self._report(
            job_id,
            worker_id,
            lambda runner, item, _model: runner.throw_error(item.task_id, code, error.variables),
            on_unhandled=Outcome(bpmn_error=error),
        )

    def fail(
        self,
        job_id: str,
        worker_id: str,
        message: str | None,
        details: str | None = None,
        retries: int | None = None,
        retry_timeout_ms: int = 0,
    ) -> None:
        """A worker reports a failure; with ``retries`` 0 the job becomes an incident."""
        if retries is not None and retries < 0:
            raise InvalidRequest("retries must not be negative")
        with self.database.write() as session:
            job = self._owned(session, job_id, worker_id)
            now = self.clock()
            job.retries = retries if retries is not None else max((job.retries or job.max_retries) - 1, 0)
            job.error_message = message or "the worker reported a failure without a message"
            job.error_details = details
            job.failed_at = now
            job.due_at = now + timedelta(milliseconds=max(retry_timeout_ms, 0))
            job.locked_by = None
            job.locked_until = None
        self._notify()

    def variables(self, jobs: Collection[JobInfo]) -> dict[str, dict[str, Any]]:
        """What each job's service task sees, by job id (engine.task_scope)."""
        return task_variables(self.database, self.loader, self.executor, jobs)

    def extend_lock(self, job_id: str, worker_id: str, new_duration_ms: int) -> None:
        if new_duration_ms <= 0:
            raise InvalidRequest("newDuration must be a positive number of milliseconds")
        with self.database.write() as session:
            job = self._owned(session, job_id, worker_id)
            if job.locked_until is None or job.locked_until < self.clock():
                raise JobLockedByOther(f"the lock of job {job_id} has expired; fetch it again", job_id=job_id)
            job.locked_until = self.clock() + timedelta(milliseconds=new_duration_ms)

    def unlock(self, job_id: str) -> None:
        with self.database.write() as session:
            job = self._get(session, job_id)
            job.locked_by = None
            job.locked_until = None
        self._notify()

    # -- queries and incidents -----------------------------------------------------------------------

    def get(self, job_id: str) -> JobInfo:
        with self.database.read() as session:
            return JobInfo.of(self._get(session, job_id))

    def list(
        self,
        *,
        kind: JobKind | None = None,
        instance_id: str | None = None,
        topic: str | None = None,
        incidents_only: bool = False,
        locked: bool | None = None,
        first: int = 0,
        max_results: int | None = None,
    ) -> builtins.list[JobInfo]:
        with self.database.read() as session:
            query = select(Job)
            if kind is not None:
                query = query.where(Job.kind == kind)
            if instance_id is not None:
                query = query.where(Job.instance_id == instance_id)
            if topic is not None:
                query = query.where(Job.topic == topic)
            if incidents_only:
                query = query.where(Job.retries == 0)
            if locked is True:
                query = query.where(Job.locked_until >= self.clock())
            elif locked is False:
                query = query.where(or_(Job.locked_until.is_(None), Job.locked_until < self.clock()))
            query = query.order_by(Job.created_at, Job.id).offset(first)
            if max_results is not None:
                query = query.limit(max_results)
            return [JobInfo.of(row) for row in session.scalars(query)]

    def set_retries(self, job_id: str, retries: int, *, actor: Actor | None = None) -> None:
        """Give a failed job (an incident when at 0) new attempts; it runs again at once."""
        if retries < 0:
            raise InvalidRequest("retries must not be negative")
        with self.database.write() as session:
            job = self._get(session, job_id)
            job.retries = retries
            job.due_at = self.clock()
            StepWriter(session, self.clock()).operation(
                job.instance_id, None, "SetJobRetries", actor, {"jobId": job_id, "retries": retries}
            )
        self._notify()

    # -- helpers -------------------------------------------------------------------------------------

    def _report(
        self,
        job_id: str,
        worker_id: str,
        apply: Callable[[Runner, WaitingServiceTask, ServiceTaskModel | None], StepResult | None],
        on_unhandled: Outcome | None = None,
    ) -> None:
        def attempt() -> bool:
            with self.database.write() as session:
                job = self._owned(session, job_id, worker_id)
                instance = self._lock_instance(session, job)
                loaded, runner = self.loader.load(session, instance)
                item = self._waiting(runner, job)
                if item is None:
                    session.delete(job)  # a row its cancelled task left behind
                    return False
                before = runner.variables()
                step = apply(runner, item, loaded.model.service_tasks.get(job.activity_id))
                now = self.clock()
                if step is None:
                    unhandled = on_unhandled or Outcome(failure="not handled")
                    self._record_failure(job, unhandled, now)
                    self.loader.calls.uncaught_bpmn_error(session, instance, unhandled.bpmn_error, now)
                    return True
                self._finish(session, job, instance, runner, step, before, now, loaded)
                return True

        waiting = with_retries(attempt, job_id=job_id)
        self._notify()
        if not waiting:
            raise JobNotFound(
                f"External task {job_id} no longer exists: its activity was cancelled; drop the task",
                job_id=job_id,
            )

    def _finish(
        self,
        session: Session,
        job: Job,
        instance: ProcessInstance,
        runner: Runner,
        step: StepResult,
        before: Mapping[str, Any],
        now: datetime,
        loaded: Any,
    ) -> None:
        session.delete(job)
        session.flush()
        jobs = self.loader.advance(session, instance, loaded, runner, step, now, is_new=False)
        StepWriter(session, now).save(
            instance, loaded, runner, step, actor=None, before=before, is_new=False, jobs=jobs
        )

    def _record_failure(self, job: Job, outcome: Outcome, now: datetime) -> None:
        message, details = self.executor.failure_of(outcome)
        remaining = (job.retries if job.retries is not None else job.max_retries) - 1
        job.retries = 0 if outcome.bpmn_error is not None else max(remaining, 0)
        job.error_message = message
        job.error_details = details
        job.failed_at = now
        delay = backoff_seconds(job.retry_interval_seconds, job.attempts, fixed=not job.exponential_backoff)
        job.due_at = now + timedelta(seconds=delay)
        job.locked_by = None
        job.locked_until = None

    def _lock_instance(self, session: Session, job: Job) -> ProcessInstance:
        query = select(ProcessInstance).where(ProcessInstance.id == job.instance_id)
        if not self.database.is_sqlite:
            query = query.with_for_update()
        instance = session.scalars(query).one()
        return instance

    @staticmethod
    def _waiting(runner: Runner, job: Job) -> WaitingServiceTask | None:
        return next((w for w in runner.waiting_service_tasks() if w.task_id == job.task_id), None)

    def _get(self, session: Session, job_id: str) -> Job:
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(
                f"No job or external task has id {job_id!r}; it may have been completed already",
                job_id=job_id,
            )
        return job

    def _owned(self, session: Session, job_id: str, worker_id: str) -> Job:
        job = self._get(session, job_id)
        if job.locked_by != worker_id:
            holder = f"worker {job.locked_by!r}" if job.locked_by else "no worker"
            raise JobLockedByOther(
                f"External task {job_id} is locked by {holder}, not by {worker_id!r}; "
                "fetch and lock it first",
                job_id=job_id,
            )
        return job

    def _notify(self) -> None:
        # Jobs became available again (failed, unlocked, retries set): wake whoever waits for jobs.
        for listener in list(self.database.job_listeners):
            listener()
