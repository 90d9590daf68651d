"""The HTML pages: a second thin face over the same engine calls as the REST API.

One blueprint per area (auth, tasks, start, definitions, instances, incidents, crm, erp), templates under
``webui/templates/<area>/``, and the browser libraries served from ``node_modules`` (no CDN).
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from handlers.inputs import show
from webui.pages import assets, auth, crm, definitions, erp, incidents, instances, start, tasks

csrf = CSRFProtect()


def register(app: Flask) -> None:
    app.config.setdefault("FLOWDESK_TASKLIST_REFRESH_SECONDS", 10)
    app.config.setdefault("FLOWDESK_PAGE_SIZE", 20)
    # Tokens live as long as the login session; a form left open for hours still submits.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    for blueprint in (
        assets.bp,
        auth.bp,
        tasks.bp,
        start.bp,
        definitions.bp,
        instances.bp,
        incidents.bp,
        crm.bp,
        erp.bp,
    ):
        app.register_blueprint(blueprint)
    # The REST API authenticates each request with HTTP Basic and takes no forms; a REST call that
    # rides on the page session is checked in webui.auth instead. Nested blueprints are looked up
    # by their dotted name, so each one is exempted (call this after rest.register).
    for name, blueprint in list(app.blueprints.items()):
        if name == "engine_rest" or name.startswith("engine_rest."):
            csrf.exempt(blueprint)
    app.jinja_env.filters["when"] = common.when
    app.jinja_env.filters["display"] = common.display
    app.jinja_env.filters["qty"] = show
    app.context_processor(common.readable)


from webui.pages import common  # noqa: E402  (after csrf: common imports nothing from here)
