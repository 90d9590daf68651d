"""Process definitions: list, get, XML, start."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engine.exceptions import InvalidRequest
from webui.rest import formats
from webui.rest.common import actor, bool_arg, engine, int_arg, json_body, typed_variables

bp = Blueprint("rest_definitions", __name__)


@bp.get("/process-definition")
def list_definitions() -> Any:
    items = engine().definitions.list(
        key=request.args.get("key"),
        latest_only=bool(bool_arg("latestVersion")),
        first=int_arg("firstResult", 0) or 0,
        max_results=int_arg("maxResults"),
    )
    return jsonify([formats.definition(d) for d in items])


@bp.get("/process-definition/count")
def count_definitions() -> Any:
    items = engine().definitions.list(
        key=request.args.get("key"), latest_only=bool(bool_arg("latestVersion"))
    )
    return jsonify({"count": len(items)})


@bp.get("/process-definition/<definition_id>")
def get_definition(definition_id: str) -> Any:
    return jsonify(formats.definition(engine().definitions.get(definition_id)))


@bp.get("/process-definition/key/<key>")
def get_by_key(key: str) -> Any:
    return jsonify(formats.definition(engine().definitions.latest(key)))


@bp.get("/process-definition/<definition_id>/xml")
def xml(definition_id: str) -> Any:
    return jsonify({"id": definition_id, "bpmn20Xml": engine().definitions.xml(definition_id)})


@bp.get("/process-definition/key/<key>/xml")
def xml_by_key(key: str) -> Any:
    definition = engine().definitions.latest(key)
    return jsonify({"id": definition.id, "bpmn20Xml": engine().definitions.xml(definition.id)})


def _start(*, key: str | None = None, definition_id: str | None = None) -> Any:
    body = json_body()
    business_key = body.get("businessKey")
    if business_key is not None and not isinstance(business_key, str):
        raise InvalidRequest("businessKey must be a string")
    instance = engine().runtime.start(
        key=key,
        definition_id=definition_id,
        variables=typed_variables(body),
        business_key=business_key,
        actor=actor(),
    )
    payload = formats.instance(instance)
    base = request.url_root.rstrip("/") + "/engine-rest"
    payload["links"] = [{"method": "GET", "href": f"{base}/process-instance/{instance.id}", "rel": "self"}]
    if body.get("withVariablesInReturn"):
        from engine.variables import to_typed_map

        payload["variables"] = to_typed_map(engine().runtime.variables(instance.id))
    return jsonify(payload)


@bp.post("/process-definition/key/<key>/start")
def start_by_key(key: str) -> Any:
    return _start(key=key)


@bp.post("/process-definition/<definition_id>/start")
def start_by_id(definition_id: str) -> Any:
    return _start(definition_id=definition_id)
