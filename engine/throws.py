"""Delivering the signals and messages processes throw: a transactional outbox of jobs.

A throw event does not reach other instances inside the step that throws it. The step writes one
job (kind ``event``) per thrown signal or message, in its own transaction, next to the instance
state; a worker (``flowdesk worker``, or the one in ``flowdesk serve``, woken at once when the step
commits) delivers it in a transaction of its own, then deletes the job. So:

- the thrower never holds locks on the instances it reaches, and never fails or retries because
  one of them changed at the same time (optimistic locking stays per instance);
- a thrown event is never lost (the step and its job commit together) and never delivered twice
  (delivery and the job's removal commit together);
- a delivery that fails (a message no instance waits for yet) is retried with backoff, then is an
  incident (``GET /engine-rest/incident``), like a failing handler.

A signal goes where ``POST /engine-rest/signal`` sends it: every waiting signal catch (the
throwing instance's own too) and every signal start event. A message without an implementation is
correlated as ``POST /engine-rest/message`` would with the thrower's business key (when it has
one): one waiting instance, or else one message start event, whose new instance gets that business
key. No match, or several, is a failed delivery.

Chains end: a delivery carries its depth, the steps it causes throw one deeper, and an event
thrown ``MAX_CHAIN`` deep becomes an incident instead of a job to run (a process started by the
signal it throws would otherwise start instances forever).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.db.models import Job, JobKind, ProcessInstance
from engine.definitions import LoadedDefinition
from engine.exceptions import FlowdeskError
from engine.references import resolve_value
from engine.sandbox import Sandbox
from engine.spiff.runner import Runner
from engine.spiff.throws import SIGNAL, ThrownEvent, drain
from engine.throw_events import ThrowEventModel
from engine.varcodec import check_storable, dumps, loads

if TYPE_CHECKING:
    from engine.messages import MessageService  # messages -> instances -> this module

# How deep one thrown event may cause further throws before the chain stops as an incident.
MAX_CHAIN = 10
DEPTH = "flowdesk.throw_depth"  # session.info: the depth of the delivery this transaction makes
RETRIES = 3
RETRY_INTERVAL_SECONDS = 10


def _variables(event: ThrownEvent, model: ThrowEventModel | None, sandbox: Sandbox) -> dict[str, Any]:
    if event.payload is not None:
        values = dict(event.payload)
    elif model is None:
        values = {}
    else:
        values = dict(event.data) if model.all_variables else {}
        for target, source in model.variables:
            values[target] = resolve_value(source, event.data, sandbox, model.language)
    return {name: check_storable(name, value) for name, value in values.items()}


def thrown_jobs(
    session: Session,
    instance: ProcessInstance,
    loaded: LoadedDefinition,
    runner: Runner,
    sandbox: Sandbox,
    now: datetime,
) -> list[dict[str, Any]]:
    """The job rows for the events the step threw (empty when it threw none)."""
    events = drain(runner.workflow)
    if not events:
        return []
    depth = int(session.info.get(DEPTH, 0))
    rows = []
    for event in events:
        error: str | None = None
        try:
            variables = _variables(event, loaded.model.throw_events.get(event.activity_id), sandbox)
        except (FlowdeskError, TypeError, ValueError) as err:
            variables = {}
            message = err.message if isinstance(err, FlowdeskError) else str(err)
            error = f"the variables of {event.kind} {event.name!r} could not be evaluated: {message}"
        if error is None and depth >= MAX_CHAIN:
            error = (
                f"{event.kind} {event.name!r} was thrown by a process that an event thrown {depth} times "
                "in a row reached; Flowdesk stops such chains (a process started by the signal it throws "
                "would start instances forever). Change the process so the chain ends, then set this "
                "job's retries to deliver it once more"
            )
        payload = {
            "kind": event.kind,
            "name": event.name,
            "variables": variables,
            "depth": depth,
            "business_key": instance.business_key,
        }
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "instance_id": instance.id,
                "definition_id": loaded.info.id,
                "process_key": loaded.info.key,
                "business_key": instance.business_key,
                "task_id": event.task_id,
                "activity_id": event.activity_id,
                "kind": JobKind.EVENT,
                "topic": event.name,
                "priority": 0,
                "retries": 0 if error else RETRIES,
                "max_retries": RETRIES,
                "retry_interval_seconds": RETRY_INTERVAL_SECONDS,
                "exponential_backoff": True,
                "due_at": now,
                "created_at": now,
                "locked_by": None,
                "locked_until": None,
                "attempts": 0,
                "error_message": error,
                "error_details": None,
                "failed_at": now if error else None,
                # The variables in engine.varcodec form (Decimal and dates survive) inside the JSON.
                "payload": {"event": dumps(payload)},
            }
        )
    return rows


class EventDelivery:
    """Delivers one event job inside the caller's transaction (``JobService.run``)."""

    def __init__(self, messages: MessageService) -> None:
        self.messages = messages

    def deliver(self, session: Session, job: Job) -> None:
        """Deliver the job's event; raise a FlowdeskError (say, no match for a message) when it cannot."""
        payload = loads((job.payload or {}).get("event", "{}"))
        session.info[DEPTH] = int(payload.get("depth", 0)) + 1
        variables = dict(payload.get("variables") or {})
        if payload.get("kind") == SIGNAL:
            self.messages.signal_in(session, job.topic, variables)
        else:
            self.messages.correlate_in(session, job.topic, payload.get("business_key"), {}, None, variables)
