"""Process instances: list, get, delete, variables."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engine.variables import to_typed_map
from webui.rest import formats
from webui.rest.common import actor, engine, int_arg

bp = Blueprint("rest_instances", __name__)


def _filters() -> dict[str, Any]:
    return {
        "process_key": request.args.get("processDefinitionKey"),
        "business_key": request.args.get("businessKey"),
        "definition_id": request.args.get("processDefinitionId"),
        "super_instance_id": request.args.get("superProcessInstance"),
        "sub_instance_id": request.args.get("subProcessInstance"),
    }


@bp.get("/process-instance")
def list_instances() -> Any:
    items = engine().runtime.list(
        **_filters(), first=int_arg("firstResult", 0) or 0, max_results=int_arg("maxResults")
    )
    return jsonify([formats.instance(i) for i in items])


@bp.get("/process-instance/count")
def count_instances() -> Any:
    return jsonify({"count": engine().runtime.count(**_filters())})


@bp.get("/process-instance/<instance_id>")
def get_instance(instance_id: str) -> Any:
    info = engine().runtime.get(instance_id)
    if info.ended:
        from engine.exceptions import InstanceNotFound

        raise InstanceNotFound(f"Process instance with id {instance_id} does not exist (it has ended)")
    return jsonify(formats.instance(info))


@bp.delete("/process-instance/<instance_id>")
def delete_instance(instance_id: str) -> Any:
    engine().runtime.delete(instance_id, actor=actor(), reason=request.args.get("deleteReason"))
    return "", 204


@bp.get("/process-instance/<instance_id>/variables")
def variables(instance_id: str) -> Any:
    return jsonify(to_typed_map(engine().runtime.variables(instance_id)))
