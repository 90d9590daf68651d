"""What every REST endpoint shares: the engine, the caller, request parsing and the error body."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import Engine
from engine.exceptions import (
    AuthenticationError,
    ConcurrentModification,
    DeploymentError,
    FlowdeskError,
    Forbidden,
    FormValidationError,
    InvalidRequest,
    NotFound,
)
from engine.identity import Actor
from engine.tasks import TaskAlreadyClaimed
from engine.variables import from_typed

log = logging.getLogger("flowdesk.rest")


def engine() -> Engine:
    return current_app.extensions["flowdesk"]  # type: ignore[no-any-return]


def actor() -> Actor:
    return g.actor  # type: ignore[no-any-return]


def error(status: int, type_: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"type": type_, "message": message, **extra}), status


def json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return body


def typed_variables(body: dict[str, Any], key: str = "variables") -> dict[str, Any]:
    raw = body.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidRequest(
            f'\'{key}\' must be an object of typed values: {{"name": {{"value": 1, "type": "Long"}}}}'
        )
    return from_typed(raw)


def int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as err:
        raise InvalidRequest(f"query parameter {name} must be a whole number, not {raw!r}") from err
    if value < 0:
        raise InvalidRequest(f"query parameter {name} must not be negative")
    return value


def bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidRequest(f"query parameter {name} must be true or false, not {raw!r}")


def _deployment_details(err: DeploymentError) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for problem in err.problems:
        entry = details.setdefault(problem.file, {"errors": [], "warnings": []})
        entry["errors"].append(
            {
                "message": problem.message,
                "line": problem.line,
                "column": None,
                "mainElementId": problem.element_id,
                "elementIds": [problem.element_id] if problem.element_id else [],
            }
        )
    return details


def flowdesk_error_response(err: FlowdeskError) -> tuple[Response, int]:
    if isinstance(err, DeploymentError):
        return error(
            400,
            "ParseException",
            err.message,
            details=_deployment_details(err),
            problems=[p.to_dict() for p in err.problems],
        )
    if isinstance(err, FormValidationError):
        return error(400, "InvalidRequestException", err.message, fieldErrors=err.field_errors)
    if isinstance(err, NotFound):
        return error(404, "InvalidRequestException", err.message)
    if isinstance(err, Forbidden):
        return error(403, "AuthorizationException", err.message)
    if isinstance(err, AuthenticationError):
        return error(401, "AuthenticationException", err.message)
    if isinstance(err, InvalidRequest):
        return error(400, "InvalidRequestException", err.message)
    if isinstance(err, ConcurrentModification):
        return error(409, "OptimisticLockingException", err.message)
    if isinstance(err, TaskAlreadyClaimed):
        # Camunda 7 answers a claim conflict with 500 and this type; clients rely on it.
        return error(500, "TaskAlreadyClaimedException", err.message)
    log.warning("engine error: %s %s", err.message, err.context)
    return error(500, "ProcessEngineException", err.message)


def install_error_handlers(app: Flask, prefix: str) -> None:
    @app.errorhandler(FlowdeskError)
    def _flowdesk(err: FlowdeskError) -> tuple[Response, int]:
        return flowdesk_error_response(err)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Any:
        if request.path.startswith(prefix) or request.path.startswith("/api/"):
            return error(err.code or 500, "RestException", err.description or err.name)
        return err

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error(
            500, "RestException", "Flowdesk hit an unexpected error; it has been logged with details."
        )
