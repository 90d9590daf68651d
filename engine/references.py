"""EL in BPMN attributes and parameters (``camunda:assignee="${owner}"``, ``Order ${id}``).

A whole ``${expr}`` keeps its value's type; text with expressions inside is a String; text without
any is itself. Expressions are checked at deploy time (``value_problems``) and translated once
(``engine.el`` caches them); at run time they are evaluated in the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from engine.el import ELError, compile_el, is_el
from engine.sandbox import Sandbox


@cache
def _default_sandbox() -> Sandbox:
    return Sandbox()


def resolve_value(text: str | None, variables: Mapping[str, Any], sandbox: Sandbox | None = None) -> Any:
    """The value of ``text``: a literal as it is, EL evaluated; raise ELError when it fails.

    Without ``sandbox`` a shared default one (2 s limit) runs the expression.
    """
    if text is None:
        return None
    if not is_el(text):
        return text
    return compile_el(text).evaluate(variables, sandbox or _default_sandbox())


def value_problems(value: Any) -> list[str]:
    """Messages for every EL text in ``value`` (text, or lists and maps of text) that cannot run."""
    if isinstance(value, list):
        return [problem for item in value for problem in value_problems(item)]
    if isinstance(value, dict):
        return [problem for item in value.values() for problem in value_problems(item)]
    if not isinstance(value, str) or not is_el(value):
        return []
    try:
        compile_el(value)
    except ELError as err:
        return [f"expression `{value}`: {err.message}"]
    return []


def split_list(text: str | None) -> list[str]:
    """Camunda's comma-separated attribute (``finance, ${extraGroup}``): commas inside ``${...}``
    (and inside its quoted strings) do not split."""
    if not text:
        return []
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif depth and char in "'\"":
            quote = char
        elif char == "{" and i and text[i - 1] in "$#":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == "," and not depth:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]
