"""What every page blueprint shares: the engine, who is logged in, error pages, small filters."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine import Engine
from engine.exceptions import (
    ConcurrentModification,
    FlowdeskError,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from engine.identity import Actor
from engine.tasks import TaskAlreadyClaimed
from webui.api.access import CUSTOMER_READERS, INVOICE_READERS, LEAD_READERS, may_read

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("flowdesk.pages")


def engine() -> Engine:
    return current_app.extensions["flowdesk"]  # type: ignore[no-any-return]


def actor() -> Actor:
    return g.actor  # type: ignore[no-any-return]


def _load_actor() -> Any:
    """Set ``g.actor`` from the session, or send the visitor to the login page and back."""
    name = session.get("user")
    if name:
        try:
            g.actor = engine().identity.actor(name)
            return None
        except FlowdeskError:
            session.clear()  # the user was removed since logging in
    wanted = request.full_path if request.method == "GET" else None
    return redirect(url_for("auth.login", next=wanted) if wanted else url_for("auth.login"))


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _flowdesk_error(err: FlowdeskError) -> tuple[str, int]:
    if isinstance(err, Forbidden):
        return error_page(403, "Not allowed", err.message)
    if isinstance(err, NotFound):
        return error_page(404, "Not found", err.message)
    if isinstance(err, (TaskAlreadyClaimed, ConcurrentModification)):
        return error_page(409, "Someone was faster", err.message)
    if isinstance(err, InvalidRequest):
        return error_page(400, "Cannot do that", err.message)
    return error_page(500, "Flowdesk could not do that", err.message)


def _unexpected(err: Exception) -> Any:
    if isinstance(err, HTTPException):
        return err
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_page(500, "Something went wrong", "Flowdesk hit an unexpected error; it has been logged.")


def page_blueprint(name: str, *, login: bool = True, **kwargs: Any) -> Blueprint:
    """A page blueprint whose engine errors become HTML pages (the app-wide handler answers JSON)."""
    bp = Blueprint(name, __name__, **kwargs)
    if login:
        bp.before_request(_load_actor)
    bp.register_error_handler(FlowdeskError, _flowdesk_error)
    bp.register_error_handler(Exception, _unexpected)
    bp.register_error_handler(
        CSRFError,
        lambda err: error_page(
            400, "The form has expired", "Reload the page and send the form again (" + err.description + ")"
        ),
    )
    return bp


def designers_only(view: F) -> F:
    """Pages for process designers and administrators (the engine enforces each change again)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not actor().can_deploy:
            return error_page(
                403,
                "Not allowed",
                "This page is for members of 'designers' or 'admins'; ask an administrator.",
            )
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def readable() -> dict[str, Any]:
    """For the menu and the links between records: which CRM/ERP records the user may read."""
    who: Actor | None = g.get("actor")
    if who is None:
        return {"reads": {}}
    return {
        "reads": {
            "leads": may_read(who, LEAD_READERS),
            "customers": may_read(who, CUSTOMER_READERS),
            "invoices": may_read(who, INVOICE_READERS),
            "stock": True,
        }
    }


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths: a login link must not send people to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@dataclass(frozen=True)
class Pager:
    page: int
    size: int
    total: int
    path: str = ""  # the page the links go to (a polled fragment links to its full page)
    capped: bool = False  # the total is a lower bound: counting stopped there

    @property
    def pages(self) -> int:
        return max(1, self.page if self.capped else 0, math.ceil(self.total / self.size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.capped

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size

    def link(self, page: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page)
        return f"{self.path or request.path}?{urlencode(args)}"


def page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


@dataclass(frozen=True)
class Window:
    """The rows a list page asks for: ``?page=`` and the configured page size."""

    page: int
    size: int

    @property
    def first(self) -> int:
        return (self.page - 1) * self.size

    def pager(self, total: int) -> Pager:
        return Pager(self.page, self.size, total)


def window() -> Window:
    return Window(page_number(), int(current_app.config["FLOWDESK_PAGE_SIZE"]))


def when(value: datetime | date | None) -> str:
    """A timestamp as people read it, in UTC (the engine stores naive UTC)."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def display(value: Any) -> str:
    """A variable's value for a table cell."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (datetime, date)):
        return when(value)
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "…"
