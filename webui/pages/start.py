"""Starting a process from the web: the start event's form (``camunda:formData``) and a business key."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from engine.exceptions import FormValidationError, InvalidRequest
from engine.forms import FormField
from engine.tasks import TaskQuery, may_work_on
from webui.pages import forms
from webui.pages.common import actor, engine, page_blueprint

bp = page_blueprint("start")


@bp.get("/start")
def start_list() -> Any:
    return render_template("start/list.html", definitions=engine().definitions.list(latest_only=True))


def _render(key: str, values: dict[str, Any] | None, errors: dict[str, str] | None, status: int = 200) -> Any:
    eng = engine()
    definition = eng.definitions.latest(key)
    fields = [FormField.from_dict(f) for f in eng.definitions.start_form(definition.id)]
    if values is None:
        values = forms.initial_values(fields)
    return render_template(
        "start/form.html",
        definition=definition,
        controls=forms.controls(fields, values, errors),
        business_key=request.form.get("business_key", ""),
        errors=errors or {},
    ), status


@bp.get("/start/<key>")
def start_form(key: str) -> Any:
    return _render(key, None, None)


@bp.post("/start/<key>")
def start(key: str) -> Any:
    eng = engine()
    definition = eng.definitions.latest(key)
    fields = [FormField.from_dict(f) for f in eng.definitions.start_form(definition.id)]
    raw = forms.submitted(fields, request.form)
    business_key = request.form.get("business_key", "").strip() or None
    try:
        instance = eng.runtime.start(
            definition_id=definition.id,
            variables=raw,
            business_key=business_key,
            actor=actor(),
            validate_start_form=True,
        )
    except FormValidationError as err:
        return _render(key, {**request.form.to_dict(), **raw}, err.field_errors, 400)
    except InvalidRequest as err:
        return _render(key, {**request.form.to_dict(), **raw}, {"business_key": err.message}, 400)
    name = definition.name or definition.key
    label = f" ({instance.business_key})" if instance.business_key else ""
    if instance.error_message:
        flash(
            f"{name}{label} started but stopped at {instance.error_activity_id}: {instance.error_message}",
            "error",
        )
    mine = [
        t
        for t in eng.tasks.list(TaskQuery(instance_id=instance.id), actor=actor())
        if may_work_on(actor(), t)
    ]
    if mine:
        flash(f"{name}{label} started. Its first task is yours to do.", "success")
        return redirect(url_for("tasks.task_page", task_id=mine[0].id))
    flash(f"{name}{label} started.", "success")
    if actor().can_deploy:
        return redirect(url_for("instances.instance_page", instance_id=instance.id))
    return redirect(url_for("start.start_list"))
