"""Messages and signals from outside: Camunda 7's correlation rules over the subscription table.

A message goes to the instances whose waiting tasks subscribed to its name (narrowed by business
key and instance id in the index), then, among those, to the ones whose variables equal the
correlation keys. Only when no waiting instance matches does it start a process with a message
start event of that name. One match is required unless ``all`` is set; none, or several, is an
error that says what was looked for. A signal goes to every waiting catch and starts every process
with a signal start event of its name. Everything happens in one transaction: either every
delivery of a request is stored, or none.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.bpmn_xml import NSMAP, Element, q
from engine.clock import Clock
from engine.concurrency import locked_instance, with_retries
from engine.db import Database
from engine.db.models import EventSubscription, InstanceState, ProcessInstance, SubscriptionKind
from engine.exceptions import InvalidRequest, TaskNotFound
from engine.identity import Actor
from engine.instances import InstanceInfo, InstanceLoader, RuntimeService, clean_variables
from engine.steps import StepWriter


class MessageCorrelationError(InvalidRequest):
    """The message matches no waiting instance and no message start event, or more than one."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """A waiting message or signal catch of an instance, or a start event of a definition."""

    id: str
    kind: str
    name: str
    definition_id: str
    process_key: str
    instance_id: str | None
    business_key: str | None
    activity_id: str
    created_at: datetime

    @classmethod
    def of(cls, row: EventSubscription) -> SubscriptionInfo:
        return cls(
            row.id,
            row.kind.value,
            row.name,
            row.definition_id,
            row.process_key,
            row.instance_id,
            row.business_key,
            row.activity_id,
            row.created_at,
        )


@dataclass(frozen=True)
class Correlation:
    """Where a message went: a waiting task of an instance (Execution) or a new instance."""

    result_type: str  # "Execution" or "ProcessDefinition", as Camunda's resultType
    instance: InstanceInfo
    activity_id: str


def _event_name(root: Element, definition: Element, kind: SubscriptionKind) -> str | None:
    ref = definition.get("messageRef" if kind is SubscriptionKind.MESSAGE else "signalRef")
    if not ref:
        return None
    found = root.xpath(f"//bpmn:{kind.value}[@id=$id]", namespaces=NSMAP, id=ref)
    if not found:
        return None
    return str(found[0].get("name") or ref)


def register_start_events(
    session: Session, definition_id: str, key: str, process: Element, now: datetime
) -> None:
    """A new version's message and signal start events replace those of older versions of ``key``."""
    session.execute(
        delete(EventSubscription).where(
            EventSubscription.process_key == key, EventSubscription.instance_id.is_(None)
        )
    )
    root = process.getroottree().getroot()
    rows = []
    for start in process.iterfind(q("startEvent")):
        for kind in SubscriptionKind:
            definition = start.find(q(f"{kind.value}EventDefinition"))
            name = _event_name(root, definition, kind) if definition is not None else None
            if name is None:
                continue
            rows.append(
                EventSubscription(
                    id=str(uuid.uuid4()),
                    kind=kind,
                    name=name,
                    definition_id=definition_id,
                    process_key=key,
                    instance_id=None,
                    business_key=None,
                    task_id=None,
                    activity_id=start.get("id"),
                    created_at=now,
                )
            )
    session.add_all(rows)


def _describe(name: str, business_key: str | None, keys: Mapping[str, Any], instance_id: str | None) -> str:
    parts = [f"message {name!r}"]
    if business_key is not None:
        parts.append(f"business key {business_key!r}")
    if instance_id is not None:
        parts.append(f"process instance {instance_id!r}")
    if keys:
        parts.append(f"correlation keys {dict(keys)!r}")
    return ", ".join(parts)


class MessageService:
    def __init__(
        self, database: Database, loader: InstanceLoader, runtime: RuntimeService, clock: Clock
    ) -> None:
        self.database = database
        self.loader = loader
        self.runtime = runtime
        self.clock = clock

    def correlate(
        self,
        name: str,
        *,
        business_key: str | None = None,
        correlation_keys: Mapping[str, Any] | None = None,
        process_instance_id: str | None = None,
        variables: Mapping[str, Any] | None = None,
        all: bool = False,
        actor: Actor | None = None,
    ) -> list[Correlation]:
        """Deliver message ``name`` as Camunda 7 does; where it went (raises when nowhere)."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest("messageName is required: give the name of the message to deliver")
        values = clean_variables(variables)
        keys = dict(correlation_keys or {})

        def attempt() -> list[Correlation]:
            with self.database.write() as session:
                return self.correlate_in(
                    session, name, business_key, keys, process_instance_id, values, all=all, actor=actor
                )

        return with_retries(attempt, what="the process instances waiting for the message")

    def signal(
        self, name: str, *, variables: Mapping[str, Any] | None = None, actor: Actor | None = None
    ) -> list[Correlation]:
        """Broadcast signal ``name`` to every waiting catch and signal start event; where it went."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidRequest("name is required: give the name of the signal to throw")
        values = clean_variables(variables)

        def attempt() -> list[Correlation]:
            with self.database.write() as session:
                return self.signal_in(session, name, values, actor)

        return with_retries(attempt, what="the process instances waiting for the signal")

    def correlate_in(
        self,
        session: Session,
        name: str,
        business_key: str | None,
        keys: Mapping[str, Any],
        process_instance_id: str | None,
        values: Mapping[str, Any],
        *,
        all: bool = False,
        actor: Actor | None = None,
    ) -> list[Correlation]:
        """``correlate`` inside the caller's transaction (a thrown message is delivered so)."""
        waiting = self._subscriptions(session, SubscriptionKind.MESSAGE, name, business_key)
        if process_instance_id is not None:
            waiting = [s for s in waiting if s.instance_id == process_instance_id]
        if keys:
            waiting = [s for s in waiting if self._matches(session, s, keys)]
        starts: list[EventSubscription] = []
        if process_instance_id is None and (all or not waiting):
            starts = self._subscriptions(session, SubscriptionKind.MESSAGE, name, None, starts=True)
        what = _describe(name, business_key, keys, process_instance_id)
        if not waiting and not starts:
            raise MessageCorrelationError(
                f"Cannot correlate {what}: no process instance waits for it and no process "
                f"definition has a message start event named {name!r}",
                message_name=name,
            )
        if not all and len(waiting) + (0 if waiting else len(starts)) > 1:
            count = len(waiting) or len(starts)
            where = "waiting process instances" if waiting else "message start events"
            raise MessageCorrelationError(
                f"Cannot correlate {what}: {count} {where} match; narrow it down with a "
                'business key, correlation keys or a process instance id, or set "all": true',
                message_name=name,
            )
        results = []
        for subscription in waiting if all else waiting[:1]:
            delivered = self._deliver(session, subscription, values, actor, "Message", name, all)
            if delivered is not None:
                results.append(delivered)
        for subscription in starts if all or not waiting else []:
            results.append(self._start(session, subscription, values, business_key, actor, name))
        return results

    def signal_in(
        self, session: Session, name: str, values: Mapping[str, Any], actor: Actor | None = None
    ) -> list[Correlation]:
        """``signal`` inside the caller's transaction (a thrown signal is delivered so)."""
        results = []
        for subscription in self._subscriptions(session, SubscriptionKind.SIGNAL, name, None):
            delivered = self._deliver(session, subscription, values, actor, "Signal", name, True)
            if delivered is not None:
                results.append(delivered)
        starts = self._subscriptions(session, SubscriptionKind.SIGNAL, name, None, starts=True)
        for subscription in starts:
            results.append(self._start(session, subscription, values, None, actor, name))
        return results

    def subscriptions(
        self,
        *,
        kind: SubscriptionKind | None = None,
        name: str | None = None,
        instance_id: str | None = None,
        activity_id: str | None = None,
        first: int = 0,
        max_results: int | None = None,
    ) -> list[SubscriptionInfo]:
        """What waits for messages and signals (Camunda's event subscriptions), oldest first."""
        with self.database.read() as session:
            query = select(EventSubscription)
            if kind is not None:
                query = query.where(EventSubscription.kind == kind)
            if name is not None:
                query = query.where(EventSubscription.name == name)
            if instance_id is not None:
                query = query.where(EventSubscription.instance_id == instance_id)
            if activity_id is not None:
                query = query.where(EventSubscription.activity_id == activity_id)
            query = query.order_by(EventSubscription.created_at, EventSubscription.id).offset(first)
            if max_results is not None:
                query = query.limit(max_results)
            return [SubscriptionInfo.of(row) for row in session.scalars(query)]

    # -- helpers ---------------------------------------------------------------------------------

    def _subscriptions(
        self,
        session: Session,
        kind: SubscriptionKind,
        name: str,
        business_key: str | None,
        *,
        starts: bool = False,
    ) -> list[EventSubscription]:
        query = select(EventSubscription).where(
            EventSubscription.kind == kind, EventSubscription.name == name
        )
        if starts:
            query = query.where(EventSubscription.instance_id.is_(None))
        else:
            query = query.where(EventSubscription.instance_id.is_not(None))
            if business_key is not None:
                query = query.where(EventSubscription.business_key == business_key)
        query = query.order_by(EventSubscription.created_at, EventSubscription.id)
        if not self.database.is_sqlite and not starts:
            # Two deliveries of one message queue here; the second no longer sees a consumed wait.
            query = query.with_for_update()
        return list(session.scalars(query))

    def _matches(self, session: Session, subscription: EventSubscription, keys: Mapping[str, Any]) -> bool:
        instance = session.get(ProcessInstance, subscription.instance_id)
        if instance is None:
            return False
        _, runner = self.loader.load(session, instance)
        current = runner.variables()
        return all(name in current and current[name] == value for name, value in keys.items())

    def _deliver(
        self,
        session: Session,
        subscription: EventSubscription,
        values: Mapping[str, Any],
        actor: Actor | None,
        operation: str,
        name: str,
        tolerate_gone: bool,
    ) -> Correlation | None:
        instance = locked_instance(session, self.database.is_sqlite, subscription.instance_id)
        try:
            if instance is None or instance.state is not InstanceState.ACTIVE:
                raise TaskNotFound(f"process instance {subscription.instance_id} has ended")
            loaded, runner = self.loader.load(session, instance)
            before = runner.variables()
            result = runner.catch_event(subscription.task_id or "", values)
        except TaskNotFound:
            # An earlier delivery of this request (or of another one) consumed this wait already.
            if tolerate_gone:
                return None
            raise
        now = self.clock()
        jobs = self.loader.advance(session, instance, loaded, runner, result, now, is_new=False)
        writer = StepWriter(session, now)
        writer.save(instance, loaded, runner, result, actor=actor, before=before, is_new=False, jobs=jobs)
        writer.operation(
            instance.id, None, operation, actor, {"name": name, "activityId": subscription.activity_id}
        )
        return Correlation("Execution", InstanceInfo.of(instance), subscription.activity_id)

    def _start(
        self,
        session: Session,
        subscription: EventSubscription,
        values: Mapping[str, Any],
        business_key: str | None,
        actor: Actor | None,
        name: str,
    ) -> Correlation:
        loaded = self.loader.cache.load(session, subscription.definition_id)
        activity = subscription.activity_id
        instance = self.runtime.start_in(
            session,
            loaded,
            values,
            business_key,
            actor,
            begin=lambda runner: runner.start_by_event(activity, values),
            detail={subscription.kind.value: name},
        )
        return Correlation("ProcessDefinition", InstanceInfo.of(instance), activity)
