"""Browser libraries served by Flowdesk itself from ``node_modules`` (installed by ``make install``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__)

DEFAULT_NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# Only the distribution folders are reachable, never a package's sources or manifests.
SERVED = ("bpmn-js/dist/", "htmx.org/dist/", "@picocss/pico/css/")


@bp.get("/vendor/<path:filename>")
def vendor(filename: str) -> Any:
    if not filename.startswith(SERVED):
        abort(404)
    folder = Path(current_app.config.get("FLOWDESK_NODE_MODULES") or DEFAULT_NODE_MODULES)
    if not (folder / filename).is_file():
        abort(404, description=f"{filename} is missing from {folder}: run `make install` (npm ci)")
    return send_from_directory(folder, filename, max_age=3600)
