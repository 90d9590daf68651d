"""Login, logout, and ``/``: the same users, passwords and groups as the REST API."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, session, url_for

from engine.exceptions import AuthenticationError
from webui.pages.common import engine, page_blueprint, safe_next

bp = page_blueprint("auth", login=False)


@bp.get("/")
def index() -> Any:
    return redirect(url_for("tasks.task_list") if session.get("user") else url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"), url_for("tasks.task_list"))
    if request.method == "GET":
        return render_template("auth/login.html", next=target, name="", error=None)
    name = request.form.get("username", "").strip()
    try:
        found = engine().identity.authenticate(name, request.form.get("password", ""))
    except AuthenticationError:
        # The name stays in the field; the password is never sent back.
        return render_template(
            "auth/login.html", next=target, name=name, error="User name or password is wrong."
        ), 401
    # A new session on login: a cookie planted before login must not become a logged-in session.
    session.clear()
    session["user"] = found.name
    return redirect(target)


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
