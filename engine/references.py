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
from engine.feel import FeelError, compile_feel, is_feel
from engine.sandbox import Sandbox

EL = "el"  # Camunda 7 files: ${...}
FEEL = "feel"  # Camunda 8 files: =...


@cache
def _default_sandbox() -> Sandbox:
    return Sandbox()


def resolve_value(
    text: str | None, variables: Mapping[str, Any], sandbox: Sandbox | None = None, language: str = EL
) -> Any:
    """The value of ``text``: a literal as it is, EL (or FEEL for ``language=FEEL``) evaluated;
    raise ELError / FeelError when it fails. Without ``sandbox`` a shared default one runs it."""
    if text is None:
        return None
    if language == FEEL:
        if not is_feel(text):
            return text
        return compile_feel(text).evaluate(variables, sandbox or _default_sandbox())
    if not is_el(text):
        return text
    return compile_el(text).evaluate(variables, sandbox or _default_sandbox())


def value_problems(value: Any, language: str = EL) -> list[str]:
    """Messages for every expression in ``value`` (text, or lists and maps of text) that cannot run."""
    if isinstance(value, list):
        return [problem for item in value for problem in value_problems(item, language)]
    if isinstance(value, dict):
        return [problem for item in value.values() for problem in value_problems(item, language)]
    if not isinstance(value, str):
        return []
    try:
        if language == FEEL:
            compile_feel(value)
        elif is_el(value):
            compile_el(value)
    except (ELError, FeelError) as err:
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
