"""Messages and signals from outside (Camunda 7: POST /message, POST /signal)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.db.models import SubscriptionKind
from engine.exceptions import InvalidRequest
from engine.messages import Correlation, MessageCorrelationError, SubscriptionInfo
from webui.rest import formats
from webui.rest.common import actor, engine, error, int_arg, json_body, typed_variables

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


def _subscription(item: SubscriptionInfo) -> dict[str, Any]:
    return {
        "id": item.id,
        "eventType": item.kind,
        "eventName": item.name,
        "executionId": item.instance_id,
        "processInstanceId": item.instance_id,
        "activityId": item.activity_id,
        "createdDate": formats.camunda_time(item.created_at),
        "tenantId": None,
    }


def _subscription_filters() -> dict[str, Any]:
    kind = request.args.get("eventType")
    if kind is not None and kind not in {k.value for k in SubscriptionKind}:
        raise InvalidRequest(f"eventType must be message or signal, not {kind!r}")
    return {
        "kind": SubscriptionKind(kind) if kind else None,
        "name": request.args.get("eventName"),
        "instance_id": request.args.get("processInstanceId"),
        "activity_id": request.args.get("activityId"),
    }


@bp.get("/event-subscription")
def subscriptions() -> Any:
    items = engine().messages.subscriptions(
        **_subscription_filters(), first=int_arg("firstResult", 0) or 0, max_results=int_arg("maxResults")
    )
    return jsonify([_subscription(item) for item in items])


@bp.get("/event-subscription/count")
def count_subscriptions() -> Any:
    return jsonify({"count": len(engine().messages.subscriptions(**_subscription_filters()))})


@bp.post("/signal")
def throw_signal() -> Any:
    body = json_body()
    engine().messages.signal(_text(body, "name") or "", variables=typed_variables(body), actor=actor())
    return Response(status=204)
