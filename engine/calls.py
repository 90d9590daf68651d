"""Call activities at run time: the child is an instance of its own, linked to its parent.

After every step of an instance whose definition has call activities, ``CallActivities.advance``
compares the call activities waiting in the workflow with the child rows (``super_instance_id``,
``super_task_id``), the way ``engine.event_sync`` keeps timers equal to what an instance waits for:

- a waiting call activity without a child starts one, in the same transaction: the called
  definition is resolved (``engine.call_targets``), the in-mappings give its variables, and it runs
  to its first wait state. When it ends (or throws an uncaught BPMN error) right there, the parent
  goes on in memory, in the same step;
- a child whose call activity no longer waits (an interrupting boundary event, an event subprocess,
  the parent's end) is cancelled, with the children it called in turn;
- a call activity whose child cannot start is an incident (``engine.call_jobs``).

A child that ends later, in a transaction of its own, does not touch its parent: it leaves a job
for it (``engine.call_jobs``), and ``on_job`` completes the call activity with the out-mappings, or
lets its error boundary event catch the child's BPMN error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.call_jobs import child_ended_row, job_row
from engine.call_model import BUSINESS_KEY_VARIABLE, CallActivityModel
from engine.call_targets import (
    CallTargetError,
    called_key,
    child_business_key,
    child_variables,
    parent_outputs,
    resolve_definition,
)
from engine.db.models import HistoryActivity, InstanceState, Job, ProcessInstance
from engine.definitions import LoadedDefinition
from engine.exceptions import FlowdeskError
from engine.executor import insert_jobs
from engine.handlers import BpmnError
from engine.sandbox import Sandbox
from engine.spiff.runner import Runner, StepResult
from engine.spiff.runner_calls import UncaughtError, WaitingCall
from engine.spiff.waits import event_only_starts
from engine.steps import StepWriter
from engine.termination import terminate

if TYPE_CHECKING:
    from engine.instances import InstanceLoader

# The instances being stepped in this transaction (session.info): a child started by a parent
# in memory reports to it directly, not through a job.
_STEPPING = "flowdesk.calls.stepping"
_ERRORS = "flowdesk.calls.handler_errors"  # child id -> BPMN errors of its handlers, for that parent
MAX_DEPTH = 32  # call activities started within one transaction, one inside the other


@dataclass(frozen=True)
class _Plan:
    target: LoadedDefinition
    variables: dict[str, Any]
    business_key: str | None


@dataclass(frozen=True)
class _Started:
    child: ProcessInstance
    runner: Runner
    errors: list[UncaughtError]


class CallActivities:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def advance(
        self,
        loader: InstanceLoader,
        session: Session,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        result: StepResult,
        now: datetime,
        known: set[str],
    ) -> list[dict[str, Any]]:
        """Run service tasks and call activities until neither moves; the job rows to insert."""
        stepping: set[str] = session.info.setdefault(_STEPPING, set())
        stepping.add(instance.id)
        try:
            jobs: list[dict[str, Any]] = []
            known = set(known)
            while True:
                jobs += loader.executor.advance(session, instance, loaded, runner, result, now, known)
                known.update(job["task_id"] for job in jobs)
                if not loaded.model.call_activities:
                    break
                moved = self._reconcile(loader, session, instance, loaded, runner, result, now, known, jobs)
                if not moved or result.error is not None:
                    break
            if instance.super_instance_id is not None:
                # A handler's BPMN error nothing in the child caught (now an incident of the child)
                # goes to the parent too, whose call activity may catch it.
                codes = [
                    row["payload"]["bpmnError"] for row in jobs if (row.get("payload") or {}).get("bpmnError")
                ]
                if instance.super_instance_id in stepping:
                    session.info.setdefault(_ERRORS, {})[instance.id] = [
                        UncaughtError(c, None) for c in codes
                    ]
                else:
                    jobs += self._tell_parent(session, instance, runner, now, codes)
            return jobs
        finally:
            stepping.discard(instance.id)

    # -- the parent's side -----------------------------------------------------------------------

    def _reconcile(
        self,
        loader: InstanceLoader,
        session: Session,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
        result: StepResult,
        now: datetime,
        known: set[str],
        jobs: list[dict[str, Any]],
    ) -> bool:
        """Start and cancel children; True when a call activity finished in memory (look again)."""
        waiting = runner.waiting_call_activities()
        waiting_ids = {call.task_id for call in waiting}
        children = list(
            session.scalars(
                select(ProcessInstance).where(
                    ProcessInstance.super_instance_id == instance.id,
                    or_(
                        ProcessInstance.state == InstanceState.ACTIVE,
                        ProcessInstance.super_task_id.in_(sorted(waiting_ids)),
                    ),
                )
            )
        )
        for child in children:
            if child.state is InstanceState.ACTIVE and child.super_task_id not in waiting_ids:
                reason = f"its call activity in instance {instance.id} was interrupted or ended"
                terminate(session, child, now, reason=reason, operation="Cancel")
        has_child = {child.super_task_id for child in children}
        for call in waiting:
            if call.task_id in has_child or call.task_id in known or result.error is not None:
                continue
            model = loaded.model.call_activities.get(call.activity_id)
            try:
                if model is None:
                    raise CallTargetError(f"the definition has no call activity `{call.activity_id}`")
                plan = self._plan(loader, session, instance, loaded, model, call)
            except FlowdeskError as err:
                # Nothing is written yet: the call activity waits with an incident naming the problem.
                jobs.append(job_row(instance, call.task_id, call.activity_id, now, failure=err.message))
                known.add(call.task_id)
                continue
            # From here on a failure aborts the whole step, as it would for any instance's step.
            started = self._start(loader, session, instance, plan, call, now)
            step = self._settle(session, instance, runner, model, call, started, now, jobs)
            if step is not None:
                result.events.extend(step.events)
                result.error = step.error
                return True
        return False

    def _plan(
        self,
        loader: InstanceLoader,
        session: Session,
        parent: ProcessInstance,
        loaded: LoadedDefinition,
        model: CallActivityModel,
        call: WaitingCall,
    ) -> _Plan:
        """What to start: the definition, the child's variables and business key (CallTargetError,
        or an expression's error, when it cannot be said)."""
        if len(session.info.get(_STEPPING, ())) >= MAX_DEPTH:
            raise CallTargetError(
                f"call activity `{call.activity_id}`: call activities nest more than {MAX_DEPTH} deep "
                "in one step; does a process call itself without a wait state?"
            )
        scope = {**call.data, BUSINESS_KEY_VARIABLE: parent.business_key}
        key = called_key(model, scope, self.sandbox)
        definition_id = resolve_definition(session, model, key, loaded.info, call.data, self.sandbox)
        target = loader.cache.load(session, definition_id)
        if event_only_starts(target.spec):
            raise CallTargetError(
                f"call activity `{call.activity_id}`: process `{key}` has no none start event to "
                "start at (it starts only by message or signal)"
            )
        return _Plan(
            target,
            child_variables(model, call.data, parent.business_key, self.sandbox),
            child_business_key(model, call.data, parent.business_key, self.sandbox),
        )

    def _start(
        self,
        loader: InstanceLoader,
        session: Session,
        parent: ProcessInstance,
        plan: _Plan,
        call: WaitingCall,
        now: datetime,
    ) -> _Started:
        """Start the child and run it to its first wait state, in the parent's transaction."""
        target, variables, business_key = plan.target, plan.variables, plan.business_key
        child, runner = loader.new(
            session,
            target,
            now,
            business_key,
            super_instance_id=parent.id,
            super_task_id=call.task_id,
            root_instance_id=parent.root_instance_id or parent.id,
        )
        result = runner.start(variables)
        jobs = loader.advance(session, child, target, runner, result, now, is_new=True)
        errors = runner.pop_uncaught_errors() + session.info.get(_ERRORS, {}).pop(child.id, [])
        writer = StepWriter(session, now)
        writer.save(child, target, runner, result, actor=None, before={}, is_new=True, jobs=jobs)
        detail = {
            "businessKey": business_key,
            "superProcessInstanceId": parent.id,
            "activityId": call.activity_id,
        }
        writer.operation(child.id, None, "Start", None, detail)
        return _Started(child, runner, errors)

    def _settle(
        self,
        session: Session,
        parent: ProcessInstance,
        runner: Runner,
        model: CallActivityModel,
        call: WaitingCall,
        started: _Started,
        now: datetime,
        jobs: list[dict[str, Any]],
    ) -> StepResult | None:
        """The child came to an end (or an error) in the step that started it: the parent goes on."""
        for error in started.errors:
            step = runner.throw_call_error(call.task_id, error.code or "", {})
            if step is not None:
                return step
        if started.child.state is not InstanceState.COMPLETED:
            return None
        try:
            outputs = parent_outputs(
                model, started.runner.variables(), call.data, parent.business_key, self.sandbox
            )
        except FlowdeskError as err:
            # Retrying would fail the same way: an incident, whose retries are set by hand.
            failure = _out_failure(err)
            jobs.append(
                child_ended_row(parent, started.child, call.activity_id, now, failure=failure, ended=True)
            )
            return None
        return runner.complete_call_activity(call.task_id, outputs)

    # -- jobs ------------------------------------------------------------------------------------

    def on_job(
        self,
        loader: InstanceLoader,
        session: Session,
        job: Job,
        instance: ProcessInstance,
        loaded: LoadedDefinition,
        runner: Runner,
    ) -> StepResult | str:
        """Run a call activity job of ``instance`` (locked): the step to save, or why it failed."""
        payload = job.payload or {}
        task_id = payload.get("task") or job.task_id
        call = next((c for c in runner.waiting_call_activities() if c.task_id == task_id), None)
        child_id = payload.get("child")
        if call is None or child_id is None:
            # Interrupted meanwhile; or a start incident retried: the step after it starts the child.
            return StepResult()
        child = session.get(ProcessInstance, child_id)
        model = loaded.model.call_activities.get(call.activity_id)
        if child is None or child.super_task_id != call.task_id or model is None:
            return StepResult()
        error = payload.get("error")
        if error:
            step = runner.throw_call_error(call.task_id, error.get("code") or "", {})
            if step is not None:
                return step
        if child.state is InstanceState.EXTERNALLY_TERMINATED:
            return _deleted(child)
        if child.state is not InstanceState.COMPLETED:
            return StepResult()
        _, child_runner = loader.load(session, child)
        try:
            outputs = parent_outputs(
                model, child_runner.variables(), call.data, instance.business_key, self.sandbox
            )
        except FlowdeskError as err:
            return _out_failure(err)
        return runner.complete_call_activity(call.task_id, outputs)

    # -- the child's side ------------------------------------------------------------------------

    def uncaught_bpmn_error(
        self, session: Session, child: ProcessInstance, error: BpmnError | None, now: datetime
    ) -> None:
        """A job of ``child`` ended in a BPMN error nothing caught: its parent's call activity may."""
        if error is None or child.super_instance_id is None:
            return
        row = _report(session, child, now, ended=False, error={"code": error.code, "name": None})
        if row is not None:
            insert_jobs(session, [row])

    def _tell_parent(
        self, session: Session, child: ProcessInstance, runner: Runner, now: datetime, codes: list[str]
    ) -> list[dict[str, Any]]:
        errors = runner.pop_uncaught_errors() + [UncaughtError(code, None) for code in codes]
        if not errors and not runner.completed:
            return []
        facts: dict[str, Any] = {"ended": runner.completed}
        if errors:
            facts["error"] = {"code": errors[0].code, "name": errors[0].name}
        row = _report(session, child, now, **facts)
        return [row] if row is not None else []


def notify_parent(session: Session, child: ProcessInstance, now: datetime) -> None:
    """A child was deleted by itself (not with its parent): its call activity can never complete.

    Camunda leaves such a parent waiting silently; here it gets an incident that says why.
    """
    if child.super_instance_id is None:
        return
    row = _report(session, child, now, failure=_deleted(child), deleted=True)
    if row is not None:
        insert_jobs(session, [row])


def _deleted(child: ProcessInstance) -> str:
    return (
        f"the called instance {child.id} (process `{child.process_key}`) was deleted, so the call "
        "activity cannot complete; delete this instance too"
    )


def _report(session: Session, child: ProcessInstance, now: datetime, **facts: Any) -> dict[str, Any] | None:
    parent = session.get(ProcessInstance, child.super_instance_id)
    if parent is None or parent.state is not InstanceState.ACTIVE:
        return None
    activity = session.scalar(
        select(HistoryActivity.activity_id).where(HistoryActivity.id == child.super_task_id)
    )
    return child_ended_row(parent, child, activity or "callActivity", now, **facts)


def _out_failure(err: FlowdeskError) -> str:
    return f"the out-mapping of the call activity failed: {err.message}"


def call_filters(query: Any, super_instance_id: str | None, sub_instance_id: str | None) -> Any:
    """Camunda's ``superProcessInstance`` (the children of) and ``subProcessInstance`` (the parent of)."""
    if super_instance_id is not None:
        query = query.where(ProcessInstance.super_instance_id == super_instance_id)
    if sub_instance_id is not None:
        parent = select(ProcessInstance.super_instance_id).where(ProcessInstance.id == sub_instance_id)
        query = query.where(ProcessInstance.id == parent.scalar_subquery())
    return query
