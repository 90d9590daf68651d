"""Process instances: start, inspect, delete."""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from engine import state_store
from engine.calls import CallActivities, call_filters, notify_parent
from engine.clock import Clock
from engine.concurrency import with_retries
from engine.db import Database
from engine.db.database import after_commit
from engine.db.models import InstanceState, Job, ProcessInstance
from engine.definitions import DefinitionCache, LoadedDefinition, latest_id
from engine.exceptions import Forbidden, InstanceNotFound, InvalidRequest
from engine.executor import Executor
from engine.forms import FormField, validate_submission
from engine.identity import Actor
from engine.live_instances import LiveInstances
from engine.spiff.runner import Runner, StepResult, StoredAs
from engine.spiff.scripting import SandboxScriptEngine
from engine.spiff.waits import event_only_starts
from engine.steps import StepWriter
from engine.termination import terminate as terminate_instance
from engine.throws import thrown_jobs
from engine.variables import check_storable

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    definition_id: str
    process_key: str
    business_key: str | None
    state: str
    started_at: datetime
    ended_at: datetime | None
    started_by: str | None
    error_message: str | None
    error_activity_id: str | None
    # Set for an instance a call activity started: the calling instance and its call activity task.
    super_instance_id: str | None = None
    super_task_id: str | None = None
    root_instance_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.state != InstanceState.ACTIVE.value

    @classmethod
    def of(cls, row: ProcessInstance) -> InstanceInfo:
        return cls(
            row.id,
            row.definition_id,
            row.process_key,
            row.business_key,
            row.state.value,
            row.started_at,
            row.ended_at,
            row.started_by,
            row.error_message,
            row.error_activity_id,
            row.super_instance_id,
            row.super_task_id,
            row.root_instance_id or row.id,
        )


def clean_variables(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Variables from outside, normalised and checked so they can always be stored."""
    clean: dict[str, Any] = {}
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise InvalidRequest(
                f"variable name {name!r} is not valid: use letters, digits and _, "
                "not starting with a digit or _",
                variable=str(name),
            )
        clean[name] = check_storable(name, value)
    return clean


class InstanceLoader:
    """Load an instance's workflow next to its (cached) definition."""

    def __init__(
        self,
        cache: DefinitionCache,
        script_engine: SandboxScriptEngine,
        clock: Clock,
        executor: Executor,
        live: LiveInstances | None = None,
    ) -> None:
        self.cache = cache
        self.script_engine = script_engine
        self.clock = clock
        self.executor = executor
        self.calls = CallActivities(executor.sandbox)
        self.live = live if live is not None else LiveInstances()

    def advance(
        self,
        session: Session,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        result: StepResult,
        now: datetime,
        *,
        is_new: bool,
    ) -> builtins.list[dict[str, Any]]:
        """Run the service tasks the step reached; the job rows for those left waiting."""
        known: set[str] = set()
        if not is_new and (loaded.model.service_tasks or loaded.model.call_activities):
            known = set(session.scalars(select(Job.task_id).where(Job.instance_id == instance.id)))
        if loaded.model.call_activities or instance.super_instance_id is not None:
            jobs = self.calls.advance(self, session, instance, loaded, runner, result, now, known)
        else:
            jobs = self.executor.advance(session, instance, loaded, runner, result, now, known)
        # Signals and messages the step threw go out as jobs of this transaction (engine.throws).
        return jobs + thrown_jobs(session, instance, loaded, runner, self.executor.sandbox, now)

    def load(self, session: Session, instance: ProcessInstance) -> tuple[LoadedDefinition, Runner]:
        """The instance's workflow: the one kept in memory at the row's revision, else loaded.

        Either way it goes back to ``live`` when the transaction commits, if it is then what was
        stored (engine.live_instances).
        """
        loaded = self.cache.load(session, instance.definition_id)
        runner = self.live.take(instance.id, instance.revision)
        if runner is None:
            envelope, rows = state_store.read(session, instance)
            runner = Runner.load(
                loaded.family,
                envelope,
                loaded.spec,
                loaded.subprocess_specs,
                self.script_engine,
                self.clock,
                stored=StoredAs(instance.workflow, rows),
            )
        else:
            if Runner.verify_state:
                runner.verify_stored(state_store.read(session, instance)[0])
            runner.stored_text = instance.workflow
            runner.resume()
        runner.service_call = self.executor.inline_calls(session, instance, loaded)
        self._keep_after_commit(session, instance, runner)
        return loaded, runner

    def _keep_after_commit(self, session: Session, instance: ProcessInstance, runner: Runner) -> None:
        live = self.live

        def keep() -> None:
            runner.service_call = None  # it holds the transaction's session
            try:
                state = inspect(instance)
                if state.deleted or state.was_deleted or instance.state is not InstanceState.ACTIVE:
                    return
                # Read without a query: the committed values stay loaded (expire_on_commit=False).
                live.keep(instance.id, instance.revision, state.dict.get("workflow"), runner)
            except Exception:  # the work is committed: a workflow not kept is only loaded again
                _log.exception("could not keep instance %s in memory", instance.id)

        after_commit(session, keep)

    def new(
        self,
        session: Session,
        loaded: LoadedDefinition,
        now: datetime,
        business_key: str | None,
        started_by: str | None = None,
        **links: str | None,
    ) -> tuple[ProcessInstance, Runner]:
        """A new instance row (not stored yet) and its fresh workflow, whose handlers run inline.

        ``links`` are the parent columns of a called instance (engine.calls).
        """
        instance = ProcessInstance(
            id=str(uuid.uuid4()),
            definition_id=loaded.info.id,
            process_key=loaded.info.key,
            business_key=business_key,
            state=InstanceState.ACTIVE,
            workflow="",
            started_at=now,
            started_by=started_by,
            **links,
        )
        runner = Runner.new(
            loaded.family, loaded.spec, loaded.subprocess_specs, self.script_engine, self.clock
        )
        runner.service_call = self.executor.inline_calls(session, instance, loaded)
        self._keep_after_commit(session, instance, runner)
        return instance, runner


class RuntimeService:
    def __init__(self, database: Database, loader: InstanceLoader, clock: Clock) -> None:
        self.database = database
        self.loader = loader
        self.clock = clock

    def start(
        self,
        *,
        key: str | None = None,
        definition_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        business_key: str | None = None,
        actor: Actor | None = None,
        validate_start_form: bool = False,
    ) -> InstanceInfo:
        """Start an instance and run it to its first wait state, in one transaction."""
        if (key is None) == (definition_id is None):
            raise InvalidRequest("give either a process definition key or a definition id")
        start_vars = clean_variables(variables)
        if business_key is not None and len(business_key) > 255:
            raise InvalidRequest("the business key is longer than 255 characters")
        with self.database.write() as session:
            if definition_id is None:
                assert key is not None
                definition_id = latest_id(session, key)
            loaded = self.loader.cache.load(session, definition_id)
            events = event_only_starts(loaded.spec)
            if events:
                raise InvalidRequest(
                    f"process {loaded.info.key!r} starts only by {' or '.join(events)}: deliver it with "
                    "POST /engine-rest/message (messageName) or /engine-rest/signal (name) instead",
                    key=loaded.info.key,
                )
            if validate_start_form and loaded.model.start_form:
                fields = [FormField.from_dict(f) for f in loaded.model.start_form]
                start_vars = validate_submission(fields, start_vars)
            return InstanceInfo.of(self.start_in(session, loaded, start_vars, business_key, actor))

    def start_in(
        self,
        session: Session,
        loaded: LoadedDefinition,
        variables: Mapping[str, Any],
        business_key: str | None = None,
        actor: Actor | None = None,
        begin: Callable[[Runner], StepResult] | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> ProcessInstance:
        """Start an instance inside the caller's transaction (timers and messages start them too).

        ``begin`` runs the new workflow to its first wait state; by default from its start events
        with ``variables`` (a message start catches its message instead).
        """
        now = self.clock()
        instance, runner = self.loader.new(
            session, loaded, now, business_key, started_by=actor.name if actor else None
        )
        result = begin(runner) if begin is not None else runner.start(variables)
        jobs = self.loader.advance(session, instance, loaded, runner, result, now, is_new=True)
        writer = StepWriter(session, now)
        writer.save(instance, loaded, runner, result, actor=actor, before={}, is_new=True, jobs=jobs)
        writer.operation(instance.id, None, "Start", actor, {"businessKey": business_key, **(detail or {})})
        return instance

    def get(self, instance_id: str) -> InstanceInfo:
        with self.database.read() as session:
            return InstanceInfo.of(self._row(session, instance_id))

    def list(
        self,
        *,
        process_key: str | None = None,
        business_key: str | None = None,
        definition_id: str | None = None,
        active_only: bool = True,
        first: int = 0,
        max_results: int | None = None,
        state: InstanceState | None = None,
        newest_first: bool = False,
        super_instance_id: str | None = None,
        sub_instance_id: str | None = None,
    ) -> builtins.list[InstanceInfo]:
        with self.database.read() as session:
            query = self._filtered(
                select(ProcessInstance), process_key, business_key, definition_id, active_only, state
            )
            query = call_filters(query, super_instance_id, sub_instance_id)
            order = [ProcessInstance.started_at, ProcessInstance.id]
            query = query.order_by(*(c.desc() for c in order) if newest_first else order).offset(first)
            if max_results is not None:
                query = query.limit(max_results)
            return [InstanceInfo.of(row) for row in session.scalars(query)]

    def count(
        self,
        *,
        process_key: str | None = None,
        business_key: str | None = None,
        definition_id: str | None = None,
        active_only: bool = True,
        state: InstanceState | None = None,
        super_instance_id: str | None = None,
        sub_instance_id: str | None = None,
    ) -> int:
        with self.database.read() as session:
            query = self._filtered(
                select(func.count()).select_from(ProcessInstance),
                process_key,
                business_key,
                definition_id,
                active_only,
                state,
            )
            query = call_filters(query, super_instance_id, sub_instance_id)
            return int(session.scalar(query) or 0)

    def business_keys(self, instance_ids: Collection[str]) -> dict[str, str | None]:
        """The business key of each instance id given, in one query (for lists of tasks or jobs)."""
        if not instance_ids:
            return {}
        with self.database.read() as session:
            query = select(ProcessInstance.id, ProcessInstance.business_key).where(
                ProcessInstance.id.in_(list(instance_ids))
            )
            return {instance_id: key for instance_id, key in session.execute(query)}

    def running_counts(self) -> dict[str, int]:
        """Running instances per definition id (definitions without any are absent), in one query."""
        with self.database.read() as session:
            query = (
                select(ProcessInstance.definition_id, func.count())
                .where(ProcessInstance.state == InstanceState.ACTIVE)
                .group_by(ProcessInstance.definition_id)
            )
            return {definition_id: int(count) for definition_id, count in session.execute(query)}

    @staticmethod
    def _filtered(
        query: Any,
        process_key: str | None,
        business_key: str | None,
        definition_id: str | None,
        active_only: bool,
        state: InstanceState | None = None,
    ) -> Any:
        if process_key is not None:
            query = query.where(ProcessInstance.process_key == process_key)
        if business_key is not None:
            query = query.where(ProcessInstance.business_key == business_key)
        if definition_id is not None:
            query = query.where(ProcessInstance.definition_id == definition_id)
        if active_only:
            query = query.where(ProcessInstance.state == InstanceState.ACTIVE)
        if state is not None:
            query = query.where(ProcessInstance.state == state)
        return query

    def variables(self, instance_id: str) -> dict[str, Any]:
        with self.database.read() as session:
            row = self._row(session, instance_id)
            _, runner = self.loader.load(session, row)
            return runner.variables()

    def open_activities(self, instance_id: str) -> builtins.list[str]:
        with self.database.read() as session:
            row = self._row(session, instance_id)
            _, runner = self.loader.load(session, row)
            return runner.open_activity_ids()

    def delete(self, instance_id: str, *, actor: Actor | None = None, reason: str | None = None) -> None:
        """Terminate a running instance; its history stays, its open tasks go."""
        if actor is not None and not actor.is_admin:
            raise Forbidden(f"user {actor.name!r} may not delete process instances: only 'admins' can")

        def terminate() -> None:
            with self.database.write() as session:
                row = self._row(session, instance_id)
                if row.state is not InstanceState.ACTIVE:
                    raise InstanceNotFound(
                        f"Process instance {instance_id} has already ended", instance_id=instance_id
                    )
                terminate_instance(session, row, self.clock(), actor=actor, reason=reason)
                notify_parent(session, row, self.clock())

        with_retries(terminate, instance_id=instance_id)

    @staticmethod
    def _row(session: Session, instance_id: str) -> ProcessInstance:
        row = session.get(ProcessInstance, instance_id)
        if row is None:
            raise InstanceNotFound(f"No process instance has id {instance_id!r}", instance_id=instance_id)
        return row
