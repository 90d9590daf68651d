"""User tasks: inbox queries, claim, unclaim, complete, form variables."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from engine.exceptions import InvalidRequest
from engine.tasks import SortBy, TaskQuery
from engine.variables import to_typed, to_typed_map
from webui.rest import formats
from webui.rest.common import actor, bool_arg, engine, int_arg, json_body, typed_variables

bp = Blueprint("rest_tasks", __name__)


def _query() -> TaskQuery:
    sort = request.args.get("sortBy", SortBy.CREATED.value)
    try:
        sort_by = SortBy(sort)
    except ValueError as err:
        raise InvalidRequest(f"sortBy must be one of {[s.value for s in SortBy]}, not {sort!r}") from err
    order = request.args.get("sortOrder", "asc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("sortOrder must be asc or desc")
    return TaskQuery(
        instance_id=request.args.get("processInstanceId"),
        assignee=request.args.get("assignee"),
        candidate_group=request.args.get("candidateGroup"),
        candidate_user=request.args.get("candidateUser"),
        include_assigned=bool(bool_arg("includeAssignedTasks")),
        unassigned=bool(bool_arg("unassigned")),
        activity_id=request.args.get("taskDefinitionKey"),
        process_key=request.args.get("processDefinitionKey"),
        name_like=request.args.get("nameLike"),
        sort_by=sort_by,
        descending=order == "desc",
        first=int_arg("firstResult", 0) or 0,
        max_results=int_arg("maxResults"),
    )


@bp.get("/task")
def list_tasks() -> Any:
    return jsonify([formats.task(t) for t in engine().tasks.list(_query(), actor=actor())])


@bp.get("/task/count")
def count_tasks() -> Any:
    return jsonify({"count": engine().tasks.count(_query(), actor=actor())})


@bp.get("/task/<task_id>")
def get_task(task_id: str) -> Any:
    return jsonify(formats.task(engine().tasks.get(task_id, actor=actor())))


@bp.post("/task/<task_id>/claim")
def claim(task_id: str) -> Any:
    user = json_body().get("userId")
    if not isinstance(user, str) or not user:
        raise InvalidRequest("userId is required: the user who claims the task")
    engine().tasks.claim(task_id, user, actor=actor())
    return "", 204


@bp.post("/task/<task_id>/unclaim")
def unclaim(task_id: str) -> Any:
    engine().tasks.unclaim(task_id, actor=actor())
    return "", 204


@bp.post("/task/<task_id>/complete")
def complete(task_id: str) -> Any:
    body = json_body()
    instance_id = engine().tasks.get(task_id, actor=actor()).instance_id
    engine().tasks.complete(task_id, typed_variables(body), actor=actor())
    if body.get("withVariablesInReturn"):
        from engine.variables import to_typed_map

        return jsonify(to_typed_map(engine().runtime.variables(instance_id)))
    return "", 204


@bp.post("/task/<task_id>/submit-form")
def submit_form(task_id: str) -> Any:
    return complete(task_id)


@bp.get("/task/<task_id>/variables")
def variables(task_id: str) -> Any:
    """Every variable the task sees, its own (a multi-instance item's) included."""
    return jsonify(to_typed_map(engine().tasks.variables(task_id, actor=actor())))


@bp.get("/task/<task_id>/form-variables")
def form_variables(task_id: str) -> Any:
    values = engine().tasks.form_values(task_id, actor=actor())
    wanted = request.args.get("variableNames")
    if wanted:
        names = {n.strip() for n in wanted.split(",")}
        values = {k: v for k, v in values.items() if k in names}
    return jsonify({name: to_typed(value) for name, value in values.items()})
