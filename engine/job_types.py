"""What callers see of a job: its description, and the errors of reports about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.db.models import Job
from engine.exceptions import InvalidRequest, NotFound


class JobNotFound(NotFound):
    """No job has this id; it may have been completed already."""


class JobLockedByOther(InvalidRequest):
    """The job is locked by another worker; only the worker that fetched it may report on it."""


@dataclass(frozen=True)
class JobInfo:
    id: str
    instance_id: str
    definition_id: str
    process_key: str
    business_key: str | None
    task_id: str
    activity_id: str
    kind: str
    topic: str
    priority: int
    retries: int | None
    due_at: datetime
    created_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    error_message: str | None
    error_details: str | None
    failed_at: datetime | None
    attempts: int = 0
    max_retries: int = 0

    @property
    def is_incident(self) -> bool:
        return self.retries == 0

    @classmethod
    def of(cls, job: Job) -> JobInfo:
        return cls(
            job.id,
            job.instance_id,
            job.definition_id,
            job.process_key,
            job.business_key,
            job.task_id,
            job.activity_id,
            job.kind.value,
            job.topic,
            job.priority,
            job.retries,
            job.due_at,
            job.created_at,
            job.locked_by,
            job.locked_until,
            job.error_message,
            job.error_details,
            job.failed_at,
            attempts=job.attempts,
            max_retries=job.max_retries,
        )
