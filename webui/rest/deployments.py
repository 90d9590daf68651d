"""POST /deployment/create and deployment lookups."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engine.exceptions import InvalidRequest
from webui.rest import formats
from webui.rest.common import actor, engine

bp = Blueprint("rest_deployments", __name__)

_FORM_FIELDS = {
    "deployment-name",
    "enable-duplicate-filtering",
    "deploy-changed-only",
    "deployment-source",
    "tenant-id",
    "deployment-activation-time",
    # Flowdesk's own: the deployment's default for camunda:asyncBefore on bound service tasks.
    "flowdesk-async-before",
}


def _flag(name: str) -> bool:
    value = request.form.get(name, "false").lower()
    if value not in ("true", "false"):
        raise InvalidRequest(f"form field {name} must be true or false, not {value!r}")
    return value == "true"


@bp.post("/deployment/create")
def create() -> Any:
    if not request.content_type or not request.content_type.startswith("multipart/form-data"):
        raise InvalidRequest("send the files as multipart/form-data, one part per .bpmn file")
    files = [(storage.filename or name, storage.read()) for name, storage in request.files.items(multi=True)]
    duplicate_filtering = (
        request.form.get("enable-duplicate-filtering", "false").lower() == "true"
        or request.form.get("deploy-changed-only", "false").lower() == "true"
    )
    result = engine().deployments.deploy(
        files,
        name=request.form.get("deployment-name"),
        source=request.form.get("deployment-source"),
        actor=actor(),
        duplicate_filtering=duplicate_filtering,
        async_before=_flag("flowdesk-async-before"),
    )
    base = request.url_root.rstrip("/") + "/engine-rest"
    return jsonify(
        {
            "links": [{"method": "GET", "href": f"{base}/deployment/{result.id}", "rel": "self"}],
            "id": result.id,
            "name": result.name,
            "source": result.source,
            "deploymentTime": formats.camunda_time(result.created_at),  # type: ignore[arg-type]
            "tenantId": None,
            "deployedProcessDefinitions": {d.id: formats.definition(d) for d in result.definitions} or None,
            "deployedCaseDefinitions": None,
            "deployedDecisionDefinitions": None,
            "deployedDecisionRequirementsDefinitions": None,
            # Flowdesk's own: deployed, but worth a look (a call activity calling an undeployed key).
            "warnings": [p.to_dict() for p in result.warnings],
        }
    )
