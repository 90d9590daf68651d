"""Incidents and jobs: what failed with no retries left, and giving it new retries.

Flowdesk keeps an incident on the failed job itself (a job with 0 retries), so an incident's id is
its job's (or external task's) id, and ``configuration`` names that same id, as in Camunda.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.db.models import JobKind
from engine.jobs import JobInfo, JobNotFound
from webui.rest.common import actor, bool_arg, engine
from webui.rest.external_tasks import page, require_admin, retries_from_body
from webui.rest.formats import camunda_time

bp = Blueprint("rest_incidents", __name__)

# Jobs Flowdesk's workers run: handlers, and deliveries of thrown signals and messages.
JOB_KINDS = frozenset({JobKind.HANDLER.value, JobKind.EVENT.value})
INCIDENT_TYPES = {"failedJob": JOB_KINDS, "failedExternalTask": frozenset({JobKind.EXTERNAL.value})}


def _matching(checks: list[Callable[[JobInfo], bool]], args: dict[str, str]) -> None:
    """Add an equality check for each query parameter given (parameter name -> JobInfo attribute)."""
    for arg, attribute in args.items():
        wanted = request.args.get(arg)
        if wanted is not None:
            checks.append(lambda job, a=attribute, w=wanted: getattr(job, a) == w)


# -- incidents -----------------------------------------------------------------------------------------


def incident(job: JobInfo) -> dict[str, Any]:
    """Camunda's IncidentDto for a job with no retries left."""
    return {
        "id": job.id,
        "processDefinitionId": job.definition_id,
        "processInstanceId": job.instance_id,
        "executionId": job.instance_id,
        "incidentTimestamp": camunda_time(job.failed_at),
        "incidentType": "failedExternalTask" if job.kind == JobKind.EXTERNAL.value else "failedJob",
        "activityId": job.activity_id,
        "failedActivityId": job.activity_id,
        "causeIncidentId": job.id,
        "rootCauseIncidentId": job.id,
        "configuration": job.id,
        "tenantId": None,
        "incidentMessage": job.error_message,
        "jobDefinitionId": None,
        "annotation": None,
    }


def _incidents() -> list[JobInfo]:
    checks: list[Callable[[JobInfo], bool]] = []
    incident_type = request.args.get("incidentType")
    if incident_type is not None:
        if incident_type not in INCIDENT_TYPES:
            return []  # a type Flowdesk never raises, as Camunda answers for an unknown type
        checks.append(lambda job, kinds=INCIDENT_TYPES[incident_type]: job.kind in kinds)
    _matching(
        checks,
        {
            "incidentId": "id",
            "configuration": "id",
            "processDefinitionId": "definition_id",
            "executionId": "instance_id",
            "activityId": "activity_id",
            "failedActivityId": "activity_id",
            "incidentMessage": "error_message",
        },
    )
    jobs = engine().jobs.list(instance_id=request.args.get("processInstanceId"), incidents_only=True)
    return [job for job in jobs if all(check(job) for check in checks)]


@bp.get("/incident")
def list_incidents() -> Any:
    return jsonify([incident(job) for job in page(_incidents())])


@bp.get("/incident/count")
def count_incidents() -> Any:
    return jsonify({"count": len(_incidents())})


@bp.get("/incident/<incident_id>")
def get_incident(incident_id: str) -> Any:
    try:
        job = engine().jobs.get(incident_id)
    except JobNotFound:
        job = None
    if job is None or not job.is_incident:
        raise JobNotFound(f"Incident with id {incident_id} does not exist; it may have been resolved")
    return jsonify(incident(job))


# -- jobs ------------------------------------------------------------------------------------------------


def job_dto(job: JobInfo) -> dict[str, Any]:
    """Camunda's JobDto; Flowdesk's jobs are service tasks run by a handler."""
    return {
        "id": job.id,
        "jobDefinitionId": None,
        "dueDate": camunda_time(job.due_at),
        "processInstanceId": job.instance_id,
        "executionId": job.instance_id,
        "processDefinitionId": job.definition_id,
        "processDefinitionKey": job.process_key,
        "retries": job.retries,
        "exceptionMessage": job.error_message,
        "failedActivityId": job.activity_id if job.error_message is not None else None,
        "suspended": False,
        "priority": job.priority,
        "tenantId": None,
        "createTime": camunda_time(job.created_at),
    }


def _jobs() -> list[JobInfo]:
    checks: list[Callable[[JobInfo], bool]] = []
    _matching(
        checks,
        {
            "jobId": "id",
            "processDefinitionId": "definition_id",
            "processDefinitionKey": "process_key",
            "executionId": "instance_id",
            "activityId": "activity_id",
            "exceptionMessage": "error_message",
            "failedActivityId": "activity_id",
        },
    )
    if request.args.get("failedActivityId") is not None:
        checks.append(lambda job: job.error_message is not None)
    if bool_arg("withException"):
        checks.append(lambda job: job.error_message is not None)
    if bool_arg("withRetriesLeft"):
        checks.append(lambda job: job.retries is None or job.retries > 0)
    if bool_arg("executable"):
        now = engine().clock()
        checks.append(lambda job: (job.retries is None or job.retries > 0) and job.due_at <= now)
    jobs = engine().jobs.list(
        instance_id=request.args.get("processInstanceId"), incidents_only=bool(bool_arg("noRetriesLeft"))
    )
    return [job for job in jobs if job.kind in JOB_KINDS and all(check(job) for check in checks)]


def _handler_job(job_id: str) -> JobInfo:
    job = engine().jobs.get(job_id)
    if job.kind not in JOB_KINDS:
        raise JobNotFound(f"Job with id {job_id} does not exist; it is an external task (see /external-task)")
    return job


@bp.get("/job")
def list_jobs() -> Any:
    return jsonify([job_dto(job) for job in page(_jobs())])


@bp.get("/job/count")
def count_jobs() -> Any:
    return jsonify({"count": len(_jobs())})


@bp.get("/job/<job_id>")
def get_job(job_id: str) -> Any:
    return jsonify(job_dto(_handler_job(job_id)))


@bp.get("/job/<job_id>/stacktrace")
def stacktrace(job_id: str) -> Any:
    details = _handler_job(job_id).error_details
    if details is None:
        return "", 204
    return Response(details, mimetype="text/plain")


@bp.put("/job/<job_id>/retries")
def set_job_retries(job_id: str) -> Any:
    require_admin()
    retries = retries_from_body()
    _handler_job(job_id)
    engine().jobs.set_retries(job_id, retries, actor=actor())
    return "", 204
