"""Flowdesk's own read API under /api: CRM leads, ERP stock and invoices, as JSON (and invoice HTML).

The same HTTP Basic authentication as the REST API; errors in the same ``{"type", "message"}``
form. Decimals are strings (``"10.000"``, ``"241.27"``), so no client reads money as a float.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from webui.api import crm, erp
from webui.auth import basic_auth_actor
from webui.rest.common import engine

PREFIX = "/api"


def register(app: Flask) -> None:
    api = Blueprint("flowdesk_api", __name__, url_prefix=PREFIX)

    @api.before_request
    def _authenticate() -> Any:
        return basic_auth_actor(engine())

    api.register_blueprint(crm.bp)
    api.register_blueprint(erp.bp)
    app.register_blueprint(api)
