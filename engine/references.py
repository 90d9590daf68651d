"""``${name}`` references in BPMN attributes and parameters, resolved against variables.

Camunda files write values as EL. Until a full EL evaluator exists, Flowdesk evaluates the part
that covers assignments and mappings, variable references with field access, and refuses every
other expression at deploy time (``unsupported_expressions``) instead of passing it on as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PATH = r"\$\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}"
_REF = re.compile(f"^{_PATH}$")
_EMBEDDED = re.compile(_PATH)
_ANY_EXPRESSION = re.compile(r"[$#]\{([^}]*)\}")


def resolve_value(text: str | None, variables: Mapping[str, Any]) -> Any:
    """A literal, the value of a whole ``${name}`` / ``${a.b}`` reference (None when it does not
    resolve), or text with references inside it replaced by their values (``Order ${id}``)."""
    if text is None:
        return None
    match = _REF.match(text)
    if match:
        return _lookup(match.group(1), variables)
    if "${" not in text:
        return text
    return _EMBEDDED.sub(lambda m: _text(_lookup(m.group(1), variables)), text)


def _lookup(path: str, variables: Mapping[str, Any]) -> Any:
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return None
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unsupported_expressions(text: str | None) -> list[str]:
    """The ``${...}`` expressions in ``text`` that are more than variable references."""
    if not text:
        return []
    return [m.group(0) for m in _ANY_EXPRESSION.finditer(text) if not _REF.match(m.group(0))]
