"""Incidents across all instances (failed jobs with no retries left), and Retry."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from engine.exceptions import Forbidden
from webui.pages.common import actor, designers_only, engine, page_blueprint, safe_next

bp = page_blueprint("incidents")


@bp.get("/incidents")
@designers_only
def incident_list() -> Any:
    eng = engine()
    incidents = eng.jobs.list(incidents_only=True)
    return render_template(
        "incidents/list.html",
        incidents=incidents,
        business_keys=eng.runtime.business_keys({j.instance_id for j in incidents}),
    )


@bp.post("/incidents/<job_id>/retry")
@designers_only
def retry(job_id: str) -> Any:
    # As over REST (PUT /job/{id}/retries): only admins give failed jobs new retries.
    if not actor().is_admin:
        raise Forbidden("Only members of the admins group may retry failed jobs; ask an administrator")
    job = engine().jobs.get(job_id)
    engine().jobs.set_retries(job_id, 1, actor=actor())
    flash(f"{job.activity_id} will run again (one more attempt).", "success")
    return redirect(safe_next(request.form.get("next"), url_for("incidents.incident_list")))
