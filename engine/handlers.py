"""The handler API: Python functions that do the work of service tasks.

    from engine import handler, BpmnError

    @handler("crm.qualify_lead")
    def qualify(ctx):
        if ctx.variables["lead"]["email"].endswith("@competitor.example"):
            raise BpmnError("COMPETITOR", "leads from competitors are not qualified")
        return {"qualified": True}

A handler returns a mapping of output variables (or None). ``BpmnError`` is a business outcome
caught by an error boundary event; any other exception is a technical failure that is retried.
Handlers are registered by name; a name registered twice is an error naming both, never a
silent overwrite.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol

from sqlalchemy.orm import Session

from engine.exceptions import FlowdeskError

ENTRY_POINT_GROUP = "flowdesk.handlers"
MODULES_SETTING = "FLOWDESK_HANDLER_MODULES"


class BpmnError(FlowdeskError):
    """A business error thrown by a handler, for an error boundary event with the same code to catch."""

    def __init__(
        self, code: str, message: str | None = None, variables: Mapping[str, Any] | None = None
    ) -> None:
        if not code:
            raise ValueError("a BpmnError needs an error code, e.g. BpmnError('OUT_OF_STOCK', ...)")
        self.code = code
        self.variables = dict(variables or {})
        super().__init__(message or f"BPMN error {code}", error_code=code)


class HandlerClashError(FlowdeskError):
    """Two handlers were registered under one name; rename one of them."""


class HandlerContext:
    """What a handler sees of the service task it runs for.

    ``session`` is in the same transaction as the engine's own state: what the handler writes there
    commits together with the step, or not at all. The engine hands it over lazily
    (``open_session``): the savepoint that isolates a handler's writes is only opened for a handler
    that asks for the session, so handlers that never touch the database cost no SQL.
    """

    __slots__ = (
        "_open_session",
        "_session",
        "activity_id",
        "business_key",
        "idempotency_key",
        "inputs",
        "log",
        "process_instance_id",
        "variables",
    )

    def __init__(
        self,
        *,
        variables: Mapping[str, Any],
        business_key: str | None,
        process_instance_id: str,
        activity_id: str,
        idempotency_key: str,
        log: logging.Logger,
        inputs: Mapping[str, Any] | None = None,
        session: Session | None = None,
        open_session: Callable[[], Session] | None = None,
    ) -> None:
        if (session is None) == (open_session is None):
            raise ValueError("give a HandlerContext either a session or an open_session callable")
        self.variables = variables
        self.business_key = business_key
        self.process_instance_id = process_instance_id
        self.activity_id = activity_id
        # Stable across every retry of this activity instance: store it with the handler's effect to
        # make the effect exactly-once.
        self.idempotency_key = idempotency_key
        self.log = log
        self.inputs: Mapping[str, Any] = inputs if inputs is not None else {}
        self._session = session
        self._open_session = open_session

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._open_session is not None
            self._session = self._open_session()
        return self._session

    def __repr__(self) -> str:
        return (
            f"HandlerContext(activity_id={self.activity_id!r}, "
            f"process_instance_id={self.process_instance_id!r}, business_key={self.business_key!r})"
        )


class Handler(Protocol):
    def __call__(self, ctx: HandlerContext, /) -> Mapping[str, Any] | None: ...


def _origin(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


RESERVED_PREFIX = "flowdesk:"  # the engine's own job topics (engine.call_jobs)


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str, fn: Handler) -> None:
        if not name or not isinstance(name, str):
            raise ValueError("a handler needs a non-empty name")
        if name.startswith(RESERVED_PREFIX):
            raise ValueError(f"handler names starting with {RESERVED_PREFIX!r} are the engine's own")
        existing = self._handlers.get(name)
        if existing is not None and existing is not fn:
            raise HandlerClashError(
                f"handler name {name!r} is registered twice: by {_origin(existing)} and by {_origin(fn)}; "
                "rename one of them",
                handler=name,
            )
        self._handlers[name] = fn

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def closest(self, name: str) -> str | None:
        matches = difflib.get_close_matches(name, self._handlers, n=1, cutoff=0.6)
        return matches[0] if matches else None

    def merge(self, other: HandlerRegistry) -> None:
        for name, fn in other._handlers.items():
            self.register(name, fn)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers


# Where @handler registers: modules are imported once per process, so one registry collects them.
# An Engine built without ``handlers=`` uses this registry; one built with a registry uses only that.
default_registry = HandlerRegistry()


def handler(name: str, *, registry: HandlerRegistry | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler called ``name``."""

    def decorate(fn: Handler) -> Handler:
        (registry or default_registry).register(name, fn)
        return fn

    return decorate


def load_handler_modules(modules: Iterable[str] | None = None) -> list[str]:
    """Import the modules that register handlers: the entry-point group, then ``FLOWDESK_HANDLER_MODULES``.

    Returns the imported module names. A module that fails to import is a start-up error naming it.
    """
    names = [ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]
    if modules is None:
        modules = [m.strip() for m in os.environ.get(MODULES_SETTING, "").split(",") if m.strip()]
    names += list(modules)
    for module in names:
        try:
            importlib.import_module(module)
        except HandlerClashError:
            raise
        except Exception as err:  # a broken module must name itself, whatever it raised
            raise FlowdeskError(
                f"handler module {module!r} cannot be imported ({err}); check {MODULES_SETTING} and the "
                f"'{ENTRY_POINT_GROUP}' entry points of installed packages"
            ) from err
    return names
