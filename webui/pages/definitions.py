"""Designers' pages: deployed processes, a process's versions and diagram, and uploading BPMN files."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request

from engine.definitions import DefinitionInfo
from engine.exceptions import DefinitionNotFound, DeploymentError
from webui.pages.common import actor, designers_only, engine, page_blueprint

bp = page_blueprint("definitions")


@bp.get("/definitions")
@designers_only
def definition_list() -> Any:
    eng = engine()
    running = eng.runtime.running_counts()
    by_key: dict[str, list[DefinitionInfo]] = {}
    for d in eng.definitions.list():
        by_key.setdefault(d.key, []).append(d)
    rows = [
        {
            "latest": versions[-1],
            "versions": len(versions),
            "running": sum(running.get(v.id, 0) for v in versions),
        }
        for versions in by_key.values()
    ]
    return render_template("definitions/list.html", rows=rows)


@bp.get("/definitions/<key>")
@designers_only
def definition_page(key: str) -> Any:
    eng = engine()
    versions = eng.definitions.list(key=key)
    if not versions:
        raise DefinitionNotFound(f"No process has the key {key!r}; upload a BPMN file whose process id it is")
    wanted = request.args.get("version", "")
    shown = next((v for v in versions if str(v.version) == wanted), versions[-1])
    return render_template(
        "definitions/page.html",
        key=key,
        versions=list(reversed(versions)),
        shown=shown,
        running=eng.runtime.running_counts(),
    )


@bp.get("/definitions/xml/<definition_id>")
def definition_xml(definition_id: str) -> Any:
    """The BPMN file for bpmn-js; any logged-in user may read it, as through the REST API."""
    return Response(engine().definitions.xml(definition_id), mimetype="application/xml")


@bp.route("/definitions/upload", methods=["GET", "POST"])
@designers_only
def upload() -> Any:
    if request.method == "GET":
        return render_template("definitions/upload.html", problems=None, result=None, names=[])
    files = [(f.filename or name, f.read()) for name, f in request.files.items(multi=True) if f.filename]
    names = [name for name, _ in files]
    try:
        result = engine().deployments.deploy(
            files,
            name=request.form.get("name") or None,
            source="Flowdesk web upload",
            actor=actor(),
            duplicate_filtering=request.form.get("changed_only") == "on",
        )
    except DeploymentError as err:
        # Nothing was deployed: every problem of every file, each with its file, line and element.
        return render_template(
            "definitions/upload.html", problems=err.problems, result=None, names=names
        ), 400
    return render_template("definitions/upload.html", problems=None, result=result, names=names)
