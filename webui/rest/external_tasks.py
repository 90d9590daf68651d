"""External tasks: fetch and lock (with long polling), complete, failure, BPMN error, locks, retries.

A fetch with ``asyncResponseTimeout`` waits on the database's ``JobSignal`` (woken when jobs are
created or become available again, across processes on PostgreSQL) and looks again only when
woken, or every ``recheck_seconds`` for jobs that become due by time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState

from engine.db.models import JobKind
from engine.exceptions import Forbidden, InvalidRequest
from engine.job_signal import signal_for
from engine.jobs import JobInfo, JobNotFound
from engine.variables import to_typed_map
from webui.rest.common import actor, bool_arg, engine, int_arg, json_body, typed_variables
from webui.rest.formats import camunda_time

bp = Blueprint("rest_external_tasks", __name__)

MAX_ASYNC_RESPONSE_TIMEOUT_MS = 1_800_000  # Camunda's limit: 30 minutes


@bp.record_once
def _install_signal(state: BlueprintSetupState) -> None:
    # Register the job listener when the app is built, not at the first fetch: this process must
    # wake (and NOTIFY) long-polling workers for jobs it creates even if it never served a fetch.
    signal_for(state.app.extensions["flowdesk"].database)


# -- request parsing ---------------------------------------------------------------------------------


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string, not {value!r}")
    return value


def _number(body: dict[str, Any], name: str, *, minimum: int = 0, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidRequest(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return value


def _names(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{name} must be a list of strings")
    return value


def require_admin() -> None:
    if not actor().is_admin:
        raise Forbidden("Only members of the admins group may change retries; ask an administrator")


def retries_from_body() -> int:
    retries = _number(json_body(), "retries", required=True)
    assert retries is not None
    return retries


def page(items: list[Any]) -> list[Any]:
    first = int_arg("firstResult", 0) or 0
    limit = int_arg("maxResults")
    return items[first:] if limit is None else items[first : first + limit]


# -- fetch and lock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Topic:
    name: str
    lock_ms: int
    variables: list[str] | None
    business_key: str | None
    process_keys: frozenset[str] | None
    matches_nothing: bool  # a tenant or version tag filter: Flowdesk has neither


@dataclass(frozen=True)
class _Fetch:
    worker_id: str
    max_tasks: int
    use_priority: bool
    timeout_ms: int
    topics: list[_Topic]
    extension_properties: bool


def _topic(raw: Any) -> _Topic:
    if not isinstance(raw, dict):
        raise InvalidRequest(
            'each topic must be an object like {"topicName": "print", "lockDuration": 10000}'
        )
    name = _text(raw, "topicName", required=True)
    lock_ms = _number(raw, "lockDuration", minimum=1, required=True)
    assert name is not None and lock_ms is not None
    for unsupported in ("processDefinitionId", "processDefinitionIdIn"):
        if raw.get(unsupported):
            raise InvalidRequest(
                f"{unsupported} is not supported by Flowdesk's fetchAndLock; "
                "filter by processDefinitionKey or processDefinitionKeyIn instead"
            )
    if raw.get("processVariables"):
        raise InvalidRequest(
            "processVariables filters are not supported by Flowdesk's fetchAndLock; "
            "filter by businessKey or processDefinitionKey, or check the variables in the worker"
        )
    keys: frozenset[str] | None = None
    key_in = _names(raw, "processDefinitionKeyIn")
    if key_in:
        keys = frozenset(key_in)
    key = _text(raw, "processDefinitionKey")
    if key is not None:
        keys = frozenset({key}) if keys is None else keys & {key}
    tenants = _names(raw, "tenantIdIn")
    return _Topic(
        name=name,
        lock_ms=lock_ms,
        variables=_names(raw, "variables"),
        business_key=_text(raw, "businessKey"),
        process_keys=keys,
        matches_nothing=bool(tenants) or bool(raw.get("processDefinitionVersionTag")) or keys == frozenset(),
    )


def _fetch_request(body: dict[str, Any]) -> _Fetch:
    worker_id = _text(body, "workerId", required=True)
    max_tasks = _number(body, "maxTasks", required=True)
    timeout_ms = _number(body, "asyncResponseTimeout") or 0
    if timeout_ms > MAX_ASYNC_RESPONSE_TIMEOUT_MS:
        raise InvalidRequest(
            f"asyncResponseTimeout must not be greater than {MAX_ASYNC_RESPONSE_TIMEOUT_MS} milliseconds"
        )
    topics = body.get("topics") or []
    if not isinstance(topics, list):
        raise InvalidRequest("topics must be a list of topic objects")
    if body.get("sorting"):
        raise InvalidRequest("sorting is not supported by Flowdesk's fetchAndLock; use usePriority")
    assert worker_id is not None and max_tasks is not None
    parsed = [_topic(raw) for raw in topics]
    return _Fetch(
        worker_id=worker_id,
        max_tasks=max_tasks,
        use_priority=bool(body.get("usePriority")),
        timeout_ms=timeout_ms,
        topics=parsed,
        extension_properties=any(bool(raw.get("includeExtensionProperties")) for raw in topics),
    )


def _acquire(fetch: _Fetch) -> list[tuple[JobInfo, _Topic]]:
    """One acquire per topic, each with its own lock duration, until maxTasks are locked."""
    locked: list[tuple[JobInfo, _Topic]] = []
    for topic in fetch.topics:
        remaining = fetch.max_tasks - len(locked)
        if remaining <= 0:
            break
        if topic.matches_nothing:
            continue
        jobs = engine().jobs.acquire(
            fetch.worker_id,
            limit=remaining,
            lock_seconds=topic.lock_ms / 1000,
            kind=JobKind.EXTERNAL,
            topics=[topic.name],
            process_keys=topic.process_keys,
            business_key=topic.business_key,
            by_priority=fetch.use_priority,
        )
        locked.extend((job, topic) for job in jobs)
    return locked


def _long_poll(fetch: _Fetch) -> list[tuple[JobInfo, _Topic]]:
    signal = signal_for(engine().database)
    deadline = time.monotonic() + fetch.timeout_ms / 1000
    while True:
        seen = signal.generation
        locked = _acquire(fetch)
        remaining = deadline - time.monotonic()
        if locked or remaining <= 0 or fetch.max_tasks == 0 or signal.closed:
            return locked
        signal.wait(seen, min(remaining, signal.recheck_seconds))


def _variables(values: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    if names is not None:
        values = {name: values[name] for name in names if name in values}
    return to_typed_map(values)


def external_task(job: JobInfo) -> dict[str, Any]:
    """Camunda's ExternalTaskDto."""
    return {
        "activityId": job.activity_id,
        "activityInstanceId": f"{job.activity_id}:{job.task_id}",
        "errorMessage": job.error_message,
        "executionId": job.instance_id,
        "id": job.id,
        "lockExpirationTime": camunda_time(job.locked_until),
        "processDefinitionId": job.definition_id,
        "processDefinitionKey": job.process_key,
        "processDefinitionVersionTag": None,
        "processInstanceId": job.instance_id,
        "tenantId": None,
        "retries": job.retries,
        "suspended": False,
        "workerId": job.locked_by,
        "topicName": job.topic,
        "priority": job.priority,
        "businessKey": job.business_key,
    }


def _locked_task(job: JobInfo, variables: dict[str, Any], extension_properties: bool) -> dict[str, Any]:
    """Camunda's LockedExternalTaskDto."""
    dto = external_task(job)
    dto["errorDetails"] = job.error_details
    dto["variables"] = variables
    if extension_properties:
        dto["extensionProperties"] = {}
    return dto


@bp.post("/external-task/fetchAndLock")
def fetch_and_lock() -> Any:
    fetch = _fetch_request(json_body())
    locked = list(_long_poll(fetch))
    # Each task's own variables: one multi-instance item per external task.
    seen = engine().jobs.variables([job for job, _ in locked])
    return jsonify(
        [
            _locked_task(job, _variables(seen[job.id], topic.variables), fetch.extension_properties)
            for job, topic in locked
        ]
    )


# -- reports by the worker -----------------------------------------------------------------------------


def _external(task_id: str) -> JobInfo:
    job = engine().jobs.get(task_id)
    if job.kind != JobKind.EXTERNAL.value:
        raise JobNotFound(f"External task with id {task_id} does not exist; it is a job (see /job)")
    return job


def _worker(body: dict[str, Any]) -> str:
    worker_id = _text(body, "workerId", required=True)
    assert worker_id is not None
    return worker_id


@bp.post("/external-task/<task_id>/complete")
def complete(task_id: str) -> Any:
    body = json_body()
    _external(task_id)
    engine().jobs.complete(
        task_id, _worker(body), typed_variables(body), typed_variables(body, "localVariables")
    )
    return "", 204


@bp.post("/external-task/<task_id>/failure")
def failure(task_id: str) -> Any:
    body = json_body()
    _external(task_id)
    if body.get("variables") or body.get("localVariables"):
        raise InvalidRequest("Flowdesk does not store variables sent with a failure; send them on complete")
    engine().jobs.fail(
        task_id,
        _worker(body),
        _text(body, "errorMessage"),
        _text(body, "errorDetails"),
        retries=_number(body, "retries"),
        retry_timeout_ms=_number(body, "retryTimeout") or 0,
    )
    return "", 204


@bp.post("/external-task/<task_id>/bpmnError")
def bpmn_error(task_id: str) -> Any:
    body = json_body()
    _external(task_id)
    code = _text(body, "errorCode", required=True)
    assert code is not None
    engine().jobs.bpmn_error(task_id, _worker(body), code, _text(body, "errorMessage"), typed_variables(body))
    return "", 204


@bp.post("/external-task/<task_id>/extendLock")
def extend_lock(task_id: str) -> Any:
    body = json_body()
    _external(task_id)
    duration = _number(body, "newDuration", minimum=1, required=True)
    assert duration is not None
    engine().jobs.extend_lock(task_id, _worker(body), duration)
    return "", 204


@bp.post("/external-task/<task_id>/unlock")
def unlock(task_id: str) -> Any:
    _external(task_id)
    engine().jobs.unlock(task_id)
    return "", 204


@bp.put("/external-task/<task_id>/retries")
def set_retries(task_id: str) -> Any:
    require_admin()
    retries = retries_from_body()
    _external(task_id)
    engine().jobs.set_retries(task_id, retries, actor=actor())
    return "", 204


# -- queries -----------------------------------------------------------------------------------------


def _query() -> list[JobInfo]:
    locked, not_locked = bool_arg("locked"), bool_arg("notLocked")
    if locked and not_locked:
        return []
    checks: list[Callable[[JobInfo], bool]] = []
    for arg, attribute in (
        ("externalTaskId", "id"),
        ("workerId", "locked_by"),
        ("activityId", "activity_id"),
        ("processDefinitionId", "definition_id"),
        ("executionId", "instance_id"),
    ):
        wanted = request.args.get(arg)
        if wanted is not None:
            checks.append(lambda job, a=attribute, w=wanted: getattr(job, a) == w)
    if bool_arg("withRetriesLeft"):
        checks.append(lambda job: job.retries is None or job.retries > 0)
    jobs = engine().jobs.list(
        kind=JobKind.EXTERNAL,
        instance_id=request.args.get("processInstanceId"),
        topic=request.args.get("topicName"),
        incidents_only=bool(bool_arg("noRetriesLeft")),
        locked=True if locked else (False if not_locked else None),
    )
    return [job for job in jobs if all(check(job) for check in checks)]


@bp.get("/external-task")
def list_external_tasks() -> Any:
    return jsonify([external_task(job) for job in page(_query())])


@bp.get("/external-task/count")
def count_external_tasks() -> Any:
    return jsonify({"count": len(_query())})


@bp.get("/external-task/<task_id>")
def get_external_task(task_id: str) -> Any:
    return jsonify(external_task(_external(task_id)))


@bp.get("/external-task/<task_id>/errorDetails")
def error_details(task_id: str) -> Any:
    details = _external(task_id).error_details
    if details is None:
        return "", 204
    return Response(details, mimetype="text/plain")
