"""Text with ``${...}`` -> a ``CompiledExpression``: parsed, checked and translated once, cached.

A whole ``${expr}`` keeps the value's type; text around or between expressions (composite text,
``Order ${id}``) is a String, every value coerced as EL does. ``#{...}`` is read like ``${...}``, and
``\\${`` writes a literal ``${``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.el.errors import ELError
from engine.el.grammar import parser
from engine.el.runtime import ELScope
from engine.el.translator import Translator
from engine.exceptions import ScriptError

if TYPE_CHECKING:
    from engine.sandbox import Sandbox

MAX_LENGTH = 4000
"""Longest expression text accepted (attributes and conditions are far shorter)."""

Kind = Literal["literal", "expression", "composite"]


@dataclass(frozen=True)
class CompiledExpression:
    """An EL text ready to run: ``python`` is what the sandbox evaluates, with ``el`` bound to an
    ``ELScope`` of the variables."""

    text: str
    kind: Kind
    python: str
    literal: str = ""  # the value of a "literal" (text without expressions, escapes resolved)

    def evaluate(self, variables: Mapping[str, Any], sandbox: Sandbox) -> Any:
        """The value; raise ELError naming the expression when the evaluation fails."""
        if self.kind == "literal":
            return self.literal
        try:
            return sandbox.evaluate(self.python, {"el": ELScope(variables)})
        except ScriptError as err:
            cause = err.__cause__
            if isinstance(cause, ELError):
                raise ELError(f"`{self.text}`: {cause.message}", expression=self.text) from None
            raise ELError(f"`{self.text}`: {err.message}", expression=self.text) from err


def is_el(text: str | None) -> bool:
    """Whether ``text`` holds at least one ``${...}`` or ``#{...}``."""
    return bool(text) and ("${" in text or "#{" in text)  # type: ignore[operator]


def is_single_expression(text: str) -> bool:
    """Whether ``text`` (stripped) is exactly one ``${...}``: a condition, not composite text."""
    try:
        parts = _split(text.strip())
    except ELError:
        return text.strip().startswith(("${", "#{"))
    return len(parts) == 1 and isinstance(parts[0], tuple)


_Part = str | tuple[str, int]  # literal text, or (expression body, column of its first character)


def _split(text: str) -> list[_Part]:
    parts: list[_Part] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith(("\\${", "\\#{"), i):
            literal.append(text[i + 1 : i + 3])
            i += 3
            continue
        if not text.startswith(("${", "#{"), i):
            literal.append(text[i])
            i += 1
            continue
        end, quote, j = -1, "", i + 2
        while j < len(text):
            char = text[j]
            if quote:
                if char == "\\":
                    j += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "}":
                end = j
                break
            j += 1
        if end < 0:
            raise ELError(
                f"`{text[i : i + 2]}` at column {i + 1} is never closed: end the expression with `}}`",
                expression=text,
                position=i + 1,
            )
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append((text[i + 2 : end], i + 3))
        i = end + 1
    if literal:
        parts.append("".join(literal))
    return parts


def _describe(token: str) -> str:
    return "the end of the expression" if token in ("", "$END") else f"`{token}`"


def _parse_error(err: UnexpectedInput, body: str, offset: int) -> ELError:
    column = getattr(err, "column", None)
    position = column + offset - 1 if isinstance(column, int) and column > 0 else None
    if isinstance(err, UnexpectedCharacters):
        at = err.pos_in_stream or 0
        found = body[at] if at < len(body) else ""
        what = f"unexpected character `{found}`"
        hint = " (strings are quoted with ' or \", names are letters and digits)"
        if found == "=":
            hint = ": compare with == or eq (assignments are not supported)"
    elif isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        what, hint = "the expression ends too early", ": something is missing at its end"
        position = offset + len(body)
    elif isinstance(err, UnexpectedToken):
        what, hint = f"unexpected {_describe(str(err.token))}", ""
        if str(err.token) == "=":
            hint = ": compare with == or eq"
        elif str(err.token) in ("+=", ";", "->", "["):
            hint = ": assignments, lambdas and collection literals are not supported"
    else:  # pragma: no cover - lark raises only the three above
        what, hint = "syntax error", ""
    where = f" at column {position}" if position is not None else ""
    return ELError(f"{what}{where}{hint}", position=position)


def _translate_body(body: str, offset: int) -> str:
    if not body.strip():
        raise ELError(f"empty expression at column {offset - 2}: write a value or a variable name inside")
    try:
        tree = parser().parse(body)
    except UnexpectedInput as err:
        raise _parse_error(err, body, offset) from None
    return Translator(offset - 1).translate(tree)


@functools.lru_cache(maxsize=4096)
def compile_el(text: str, condition: bool = False) -> CompiledExpression:
    """Parse, check and translate ``text``; raise ELError (with ``position``) saying what to write.

    ``condition=True`` is for sequence flow conditions: ``text`` must be one ``${...}`` and its
    value must be a Boolean when it runs. Results are cached, refusals are not.
    """
    if len(text) > MAX_LENGTH:
        raise ELError(
            f"the expression is {len(text):,} characters long; Flowdesk accepts up to {MAX_LENGTH:,}",
            expression=text[:80],
        )
    stripped = text.strip() if condition else text
    try:
        parts = _split(stripped)
        translated = [part if isinstance(part, str) else _translate_body(*part) for part in parts]
    except ELError as err:
        raise ELError(err.message, expression=text, position=err.position) from None
    expressions = [python for part, python in zip(parts, translated, strict=True) if isinstance(part, tuple)]
    if condition:
        if len(parts) != 1 or not expressions:
            raise ELError(
                "a condition must be one expression, e.g. ${amount > 1000}, without text around it",
                expression=text,
            )
        return CompiledExpression(text, "expression", f"el.condition({expressions[0]})")
    if not expressions:
        literal = "".join(part for part in parts if isinstance(part, str))
        return CompiledExpression(text, "literal", repr(literal), literal)
    if len(parts) == 1:
        return CompiledExpression(text, "expression", expressions[0])
    pieces = [
        repr(part) if isinstance(part, str) else python
        for part, python in zip(parts, translated, strict=True)
    ]
    return CompiledExpression(text, "composite", f"el.concat({', '.join(pieces)})")


def translate(text: str) -> str:
    """The Python expression ``text`` becomes (names are looked up through ``el``)."""
    return compile_el(text).python
