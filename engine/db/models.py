"""Flowdesk's tables, in SQLAlchemy 2.0 typed style.

Runtime tables (instances, open human tasks, candidates) are kept small and indexed for the
queries people run all day; history tables only grow and are read for timelines and audits.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db.base import Base

ID = String(64)


class InstanceState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    EXTERNALLY_TERMINATED = "EXTERNALLY_TERMINATED"


def _enum(cls: type[enum.Enum], name: str) -> SAEnum:
    # Stored as plain strings: adding a state later needs no ALTER TYPE on PostgreSQL.
    return SAEnum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class User(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    groups: Mapped[list[UserGroup]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class UserGroup(Base):
    __tablename__ = "user_groups"

    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[User] = relationship(back_populates="groups")


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(64))
    resources: Mapped[list[DeploymentResource]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan"
    )


class DeploymentResource(Base):
    __tablename__ = "deployment_resources"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    checksum: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    deployment: Mapped[Deployment] = relationship(back_populates="resources")


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("deployment_resources.id"))
    resource_name: Mapped[str] = mapped_column(String(255))
    dialect: Mapped[str] = mapped_column(String(32))
    checksum: Mapped[str] = mapped_column(String(64))
    # The parsed SpiffWorkflow spec, serialized once here instead of inside every instance.
    spec: Mapped[str] = mapped_column(Text)
    # What the engine needs per element and SpiffWorkflow does not keep (assignees, forms, ...).
    elements: Mapped[dict[str, Any]] = mapped_column(JSON)
    start_form: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime]
    version_tag: Mapped[str | None] = mapped_column(String(255))  # camunda:versionTag


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_process_instances_key_state", "process_key", "state"),
        Index("ix_process_instances_business_key", "business_key"),
        Index("ix_process_instances_super_instance_id", "super_instance_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[InstanceState] = mapped_column(_enum(InstanceState, "instance_state"))
    # Optimistic locking: every write checks and bumps it, so two concurrent changes never
    # silently overwrite each other (SQLAlchemy raises StaleDataError for the loser).
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    workflow: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_activity_id: Mapped[str | None] = mapped_column(String(255))
    error_details: Mapped[str | None] = mapped_column(Text)
    error_at: Mapped[datetime | None]
    # A call activity's child: the calling instance, its call activity task, and the top of the chain.
    super_instance_id: Mapped[str | None] = mapped_column(String(64))
    super_task_id: Mapped[str | None] = mapped_column(String(64))
    root_instance_id: Mapped[str | None] = mapped_column(String(64))

    __mapper_args__ = {"version_id_col": revision}


class InstanceTaskState(Base):
    """One task of an instance's stored workflow (the rest of it is ``ProcessInstance.workflow``).

    Stored a row per task so that a step writes only the tasks it changed, not the whole tree
    (engine.state_store). ``seq`` keeps the order tasks were created in, which loading needs
    (a task's data is stored as its difference from its parent's); ``scope`` names the subprocess
    a task belongs to, by the task that owns the subprocess, or is NULL for the process itself.
    """

    __tablename__ = "instance_task_states"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)


class HumanTask(Base):
    """An open user task; deleted when completed (its history row stays)."""

    __tablename__ = "human_tasks"
    __table_args__ = (Index("ix_human_tasks_assignee_created", "assignee", "created_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255), index=True)
    activity_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(index=True)
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form_fields: Mapped[list[Any]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[TaskCandidate]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", passive_deletes=True
    )


class TaskCandidate(Base):
    """Who may claim an open task; ``created_at`` is copied so group inboxes scan one index in order."""

    __tablename__ = "task_candidates"
    __table_args__ = (
        CheckConstraint("kind IN ('user', 'group')", name="kind"),
        Index("ix_task_candidates_lookup", "kind", "identity", "assigned", "created_at", "task_id"),
    )

    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]
    assigned: Mapped[bool] = mapped_column(Boolean, default=False)


class HistoryActivity(Base):
    __tablename__ = "history_activities"

    # ``seq`` orders events exactly, even when two share a timestamp.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True)  # the SpiffWorkflow task id
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    definition_id: Mapped[str] = mapped_column(String(255))
    activity_id: Mapped[str] = mapped_column(String(255))
    activity_name: Mapped[str | None] = mapped_column(String(255))
    activity_type: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    canceled: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee: Mapped[str | None] = mapped_column(String(64))


class HistoryTask(Base):
    __tablename__ = "history_tasks"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True)
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    definition_id: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    activity_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(64))
    delete_reason: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)


class HistoryVariable(Base):
    __tablename__ = "history_variables"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)  # engine.variables.dumps form: Decimal and dates survive
    changed_at: Mapped[datetime]
    activity_id: Mapped[str | None] = mapped_column(String(255))
    user_name: Mapped[str | None] = mapped_column(String(64))


class HistoryOperation(Base):
    """Who did what to an instance or task, and when (claims, completions, deletions)."""

    __tablename__ = "history_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(String(64), index=True)
    task_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class JobKind(enum.StrEnum):
    HANDLER = "handler"  # an in-process Python handler, run by a worker (or inline)
    EXTERNAL = "external"  # a Camunda external task, fetched and completed by a remote worker
    EVENT = "event"  # a signal or message a process threw, delivered by a worker (engine.throws)


class Job(Base):
    """A service task waiting to be executed, or a thrown signal or message waiting to be delivered;
    with no retries left and an error, it is an incident."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "kind", "retries", "due_at"),
        Index("ix_jobs_topic", "kind", "topic", "due_at"),
        CheckConstraint("retries >= 0", name="retries_not_negative"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), index=True
    )
    definition_id: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str] = mapped_column(ID, unique=True)  # the SpiffWorkflow task the job completes
    activity_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[JobKind] = mapped_column(_enum(JobKind, "job_kind"))
    topic: Mapped[str] = mapped_column(String(255))  # handler name, or external task topic
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # None: never failed (Camunda shows external tasks' retries as null until a failure sets them).
    retries: Mapped[int | None] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer, default=3)
    retry_interval_seconds: Mapped[int] = mapped_column(Integer, default=10)
    # Without an explicit camunda:failedJobRetryTimeCycle the interval doubles after each failure.
    exponential_backoff: Mapped[bool] = mapped_column(Boolean, default=True)
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(255))
    locked_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]
    # What an engine job (not a handler) needs beyond its task: which child of a call activity
    # ended, or the signal or message an EVENT job delivers.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def table(model: type[Base]) -> Table:
    """The Core table of a model, for bulk statements that skip the ORM unit of work."""
    return model.__table__  # type: ignore[return-value]


class TimerScope(enum.StrEnum):
    START = "start"  # a timer start event of a definition: firing starts an instance
    CATCH = "catch"  # an instance waits: intermediate catch, boundary, event subprocess start


class Timer(Base):
    """A due time: written in the transaction of the step that began the wait, fired by workers."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "due_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    scope: Mapped[TimerScope] = mapped_column(_enum(TimerScope, "timer_scope"))
    definition_id: Mapped[str] = mapped_column(String(255), index=True)
    process_key: Mapped[str] = mapped_column(String(255))
    instance_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[str | None] = mapped_column(ID, unique=True)  # the waiting SpiffWorkflow task
    activity_id: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime]
    # Start timers: what computes the next due time after a firing (engine.timers.StartSchedule).
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    locked_by: Mapped[str | None] = mapped_column(String(255))
    locked_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed firings in a row
    error_message: Mapped[str | None] = mapped_column(Text)


class SubscriptionKind(enum.StrEnum):
    MESSAGE = "message"
    SIGNAL = "signal"


class EventSubscription(Base):
    """A message or signal catch: of a definition (start events) or of a waiting instance task."""

    __tablename__ = "event_subscriptions"
    __table_args__ = (
        Index("ix_event_subscriptions_lookup", "kind", "name", "business_key"),
        Index("ix_event_subscriptions_instance", "instance_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind, "subscription_kind"))
    name: Mapped[str] = mapped_column(String(255))
    definition_id: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(255))
    instance_id: Mapped[str | None] = mapped_column(ForeignKey("process_instances.id", ondelete="CASCADE"))
    business_key: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(ID, unique=True)
    activity_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
