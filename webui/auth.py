"""Who is calling: HTTP Basic for the REST API, the session cookie for pages."""

from __future__ import annotations

from flask import Response, g, jsonify, request, session
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from engine import Engine
from engine.exceptions import AuthenticationError, FlowdeskError


def basic_auth_actor(engine: Engine) -> Response | None:
    """Set ``g.actor`` from Basic credentials (or the page session); answer 401 when there are none."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and auth.username:
        try:
            g.actor = engine.identity.authenticate(auth.username, auth.password or "")
            return None
        except (AuthenticationError, FlowdeskError):
            pass
    elif session.get("user"):
        try:
            g.actor = engine.identity.actor(session["user"])
        except FlowdeskError:
            session.clear()
        else:
            # A change sent with the page session (not Basic) must carry the page's CSRF token.
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                try:
                    validate_csrf(request.headers.get("X-CSRFToken"))
                except ValidationError as err:
                    response = jsonify({"type": "RestException", "message": f"{err} Send X-CSRFToken."})
                    response.status_code = 400
                    return response
            return None
    response = jsonify(
        {
            "type": "AuthenticationException",
            "message": "Log in: send HTTP Basic credentials of a Flowdesk user.",
        }
    )
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Basic realm="flowdesk"'
    return response
