"""The Camunda 7-compatible REST API under /engine-rest."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify

from webui.auth import basic_auth_actor
from webui.rest import (
    definitions,
    deployments,
    external_tasks,
    history,
    incidents,
    instances,
    messages,
    tasks,
)
from webui.rest.common import engine, install_error_handlers

PREFIX = "/engine-rest"
CAMUNDA_API_VERSION = "7.20.0"

misc = Blueprint("rest_misc", __name__)


@misc.get("/version")
def version() -> Any:
    return jsonify({"version": CAMUNDA_API_VERSION})


def register(app: Flask) -> None:
    api = Blueprint("engine_rest", __name__, url_prefix=PREFIX)

    @api.before_request
    def _authenticate() -> Any:
        return basic_auth_actor(engine())

    for child in (
        misc,
        deployments.bp,
        definitions.bp,
        instances.bp,
        tasks.bp,
        history.bp,
        external_tasks.bp,
        incidents.bp,
        messages.bp,
    ):
        api.register_blueprint(child)
    app.register_blueprint(api)
    install_error_handlers(app, PREFIX)
