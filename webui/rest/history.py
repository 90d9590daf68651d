"""History: process instances, activity instances, tasks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engine.definitions import DefinitionInfo
from engine.exceptions import DefinitionNotFound
from webui.rest import formats
from webui.rest.common import bool_arg, engine, int_arg

bp = Blueprint("rest_history", __name__)


def _definitions(ids: set[str]) -> dict[str, DefinitionInfo]:
    found: dict[str, DefinitionInfo] = {}
    for definition_id in ids:
        try:
            found[definition_id] = engine().definitions.get(definition_id)
        except DefinitionNotFound:
            continue
    return found


@bp.get("/history/process-instance")
def instances() -> Any:
    finished = bool_arg("finished")
    if bool_arg("unfinished"):
        finished = False
    items = engine().history.instances(
        process_key=request.args.get("processDefinitionKey"),
        business_key=request.args.get("processInstanceBusinessKey"),
        instance_id=request.args.get("processInstanceId"),
        finished=finished,
        first=int_arg("firstResult", 0) or 0,
        max_results=int_arg("maxResults"),
        super_instance_id=request.args.get("superProcessInstanceId"),
        sub_instance_id=request.args.get("subProcessInstanceId"),
        roots_only=bool_arg("rootProcessInstances") is True,
    )
    defs = _definitions({i.definition_id for i in items})
    return jsonify([formats.history_instance(i, defs.get(i.definition_id)) for i in items])


@bp.get("/history/process-instance/<instance_id>")
def instance(instance_id: str) -> Any:
    info = engine().runtime.get(instance_id)
    return jsonify(formats.history_instance(info, _definitions({info.definition_id}).get(info.definition_id)))


@bp.get("/history/activity-instance")
def activities() -> Any:
    finished = bool_arg("finished")
    if bool_arg("unfinished"):
        finished = False
    items = engine().history.activities(
        instance_id=request.args.get("processInstanceId"),
        activity_id=request.args.get("activityId"),
        finished=finished,
        first=int_arg("firstResult", 0) or 0,
        max_results=int_arg("maxResults"),
    )
    keys = {d.id: d.key for d in _definitions({a.definition_id for a in items}).values()}
    called = engine().history.called_instances([a.id for a in items if a.activity_type == "callActivity"])
    return jsonify([formats.history_activity(a, keys.get(a.definition_id), called.get(a.id)) for a in items])


@bp.get("/history/task")
def tasks() -> Any:
    finished = bool_arg("finished")
    if bool_arg("unfinished"):
        finished = False
    items = engine().history.tasks(
        instance_id=request.args.get("processInstanceId"),
        assignee=request.args.get("taskAssignee"),
        finished=finished,
        first=int_arg("firstResult", 0) or 0,
        max_results=int_arg("maxResults"),
    )
    return jsonify([formats.history_task(t) for t in items])
