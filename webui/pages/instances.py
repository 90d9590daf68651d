"""Running and ended instances for designers and admins: list, diagram, variables, history, Terminate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from engine.db.models import InstanceState
from engine.exceptions import FlowdeskError
from engine.tasks import TaskQuery, may_see
from webui.pages.common import Pager, actor, designers_only, engine, page_blueprint, page_number

bp = page_blueprint("instances")

STATES = {
    "active": InstanceState.ACTIVE,
    "completed": InstanceState.COMPLETED,
    "terminated": InstanceState.EXTERNALLY_TERMINATED,
    "all": None,
}

_OPERATIONS = {
    "Start": "started the instance",
    "Claim": "claimed",
    "Unclaim": "unclaimed",
    "Complete": "completed",
    "Delete": "terminated the instance",
    "SetJobRetries": "gave a failed job new retries",
}


@dataclass(frozen=True)
class Event:
    at: datetime
    text: str
    who: str | None = None


@bp.get("/instances")
@designers_only
def instance_list() -> Any:
    eng = engine()
    key = request.args.get("key", "").strip() or None
    business_key = request.args.get("business_key", "").strip() or None
    state_name = request.args.get("state", "active")
    state = STATES.get(state_name, InstanceState.ACTIVE)
    filters: dict[str, Any] = {
        "process_key": key,
        "business_key": business_key,
        "active_only": False,
        "state": state,
    }
    size = int(current_app.config["FLOWDESK_PAGE_SIZE"])
    pager = Pager(page_number(), size, eng.runtime.count(**filters))
    rows = eng.runtime.list(**filters, first=pager.first, max_results=size, newest_first=True)
    return render_template(
        "instances/list.html",
        rows=rows,
        pager=pager,
        definitions=eng.definitions.list(latest_only=True),
        key=key or "",
        business_key=business_key or "",
        state=state_name if state_name in STATES else "active",
        states=STATES,
    )


def _timeline(instance_id: str) -> list[Event]:
    history = engine().history
    names = {t.id: t.name or t.activity_id for t in history.tasks(instance_id=instance_id)}
    events: list[Event] = []
    for a in history.activities(instance_id=instance_id):
        label = a.activity_name or a.activity_id
        events.append(Event(a.started_at, f"{label} ({a.activity_type}) began"))
        if a.ended_at is not None:
            events.append(Event(a.ended_at, f"{label} {'was cancelled' if a.canceled else 'ended'}"))
    for op in history.operations(instance_id=instance_id):
        what = _OPERATIONS.get(op.operation, op.operation)
        if op.task_id:
            what += f" “{names.get(op.task_id, op.task_id)}”"
        events.append(Event(op.at, what, op.user_name or "the engine"))
    # One step shares one timestamp: what a person did comes before the activities it moved on.
    return sorted(events, key=lambda e: (e.at, e.who is None))


@bp.get("/instances/<instance_id>")
@designers_only
def instance_page(instance_id: str) -> Any:
    eng = engine()
    instance = eng.runtime.get(instance_id)
    activities = eng.history.activities(instance_id=instance_id)
    active = eng.runtime.open_activities(instance_id) if not instance.ended else []
    completed = sorted({a.activity_id for a in activities if a.ended_at is not None and not a.canceled})
    try:
        variables = eng.runtime.variables(instance_id)
    except FlowdeskError:
        variables = {}
    return render_template(
        "instances/page.html",
        instance=instance,
        definition=eng.definitions.get(instance.definition_id),
        active=active,
        completed=[a for a in completed if a not in active],
        variables=variables,
        timeline=_timeline(instance_id),
        incidents=eng.jobs.list(instance_id=instance_id, incidents_only=True),
        # Who holds what, for whoever follows the instance; the task pages still check each user.
        tasks=[(t, may_see(actor(), t)) for t in eng.tasks.list(TaskQuery(instance_id=instance_id))],
    )


@bp.post("/instances/<instance_id>/terminate")
@designers_only
def terminate(instance_id: str) -> Any:
    engine().runtime.delete(
        instance_id, actor=actor(), reason=request.form.get("reason") or "terminated in the web UI"
    )
    flash("The instance was terminated; its history is kept.", "success")
    return redirect(url_for("instances.instance_page", instance_id=instance_id))
