"""The built-in handlers as one set: registered in the engine's registry, or in a test's own.

``@builtin("crm.qualify_lead")`` registers the function in the engine's process-wide registry (what
the ``flowdesk.handlers`` entry points feed) and remembers it, so that ``builtin_registry()`` can
give a test or an embedding application a ``HandlerRegistry`` with exactly these handlers.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.handlers import Handler, HandlerRegistry, handler

_BUILTIN: dict[str, Handler] = {}


def builtin(name: str) -> Callable[[Handler], Handler]:
    def decorate(fn: Handler) -> Handler:
        existing = _BUILTIN.get(name)
        if existing is not None and existing is not fn:
            raise ValueError(f"built-in handler {name!r} is defined twice; rename one of them")
        _BUILTIN[name] = fn
        return handler(name)(fn)

    return decorate


def builtin_registry(registry: HandlerRegistry | None = None) -> HandlerRegistry:
    """Every CRM and ERP handler in ``registry`` (a new one by default)."""
    import handlers.crm
    import handlers.erp  # noqa: F401  (importing registers them)

    target = registry or HandlerRegistry()
    for name, fn in sorted(_BUILTIN.items()):
        target.register(name, fn)
    return target
