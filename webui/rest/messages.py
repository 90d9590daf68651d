"""Messages and signals from outside (Camunda 7: POST /message, POST /signal)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from engine.exceptions import InvalidRequest
from engine.messages import Correlation, MessageCorrelationError
from webui.rest import formats
from webui.rest.common import actor, engine, error, json_body, typed_variables

bp = Blueprint("rest_messages", __name__)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be true or false")
    return value


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string")
    return value


def _result(item: Correlation) -> dict[str, Any]:
    if item.result_type == "Execution":
        execution = {
            "id": item.instance.id,
            "processInstanceId": item.instance.id,
            "ended": item.instance.ended,
            "tenantId": None,
        }
        return {"resultType": "Execution", "execution": execution, "processInstance": None}
    started = formats.instance(item.instance)
    return {"resultType": "ProcessDefinition", "execution": None, "processInstance": started}


@bp.post("/message")
def correlate() -> Any:
    body = json_body()
    name = _text(body, "messageName")
    variables = {
        **typed_variables(body, "processVariablesLocal"),
        **typed_variables(body, "processVariables"),
    }
    try:
        results = engine().messages.correlate(
            name or "",
            business_key=_text(body, "businessKey"),
            correlation_keys=typed_variables(body, "correlationKeys"),
            process_instance_id=_text(body, "processInstanceId"),
            variables=variables,
            all=_flag(body, "all"),
            actor=actor(),
        )
    except MessageCorrelationError as err:
        # Camunda answers a failed correlation with 400 and this type.
        return error(400, "RestException", err.message)
    if not _flag(body, "resultEnabled"):
        return Response(status=204)
    return jsonify([_result(item) for item in results])


@bp.post("/signal")
def throw_signal() -> Any:
    body = json_body()
    engine().messages.signal(_text(body, "name") or "", variables=typed_variables(body), actor=actor())
    return Response(status=204)
