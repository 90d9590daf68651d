"""Flowdesk's web faces over one engine: the REST API, the CRM/ERP read API and the pages."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from engine import Engine
from webui import api, pages, rest


def create_app(engine: Engine, config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})
    app.extensions["flowdesk"] = engine
    rest.register(app)
    api.register(app)
    pages.register(app)
    return app
