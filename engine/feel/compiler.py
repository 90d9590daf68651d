"""Camunda 8 attribute text -> ``CompiledFeel``: ``=expr`` is FEEL, anything else a static value."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.exceptions import ScriptError
from engine.feel.errors import FeelError
from engine.feel.grammar import parser
from engine.feel.runtime import FeelScope
from engine.feel.translator import Translator

if TYPE_CHECKING:
    from engine.sandbox import Sandbox

MAX_LENGTH = 4000


@dataclass(frozen=True)
class CompiledFeel:
    """A FEEL text ready to run: ``python`` is evaluated in the sandbox with ``feel`` bound to a
    ``FeelScope`` of the variables; a static value (no ``=``) is ``literal``."""

    text: str
    kind: Literal["literal", "expression"]
    python: str

    def evaluate(self, variables: Mapping[str, Any], sandbox: Sandbox) -> Any:
        if self.kind == "literal":
            return self.text
        try:
            return sandbox.evaluate(self.python, {"feel": FeelScope(variables)})
        except ScriptError as err:
            cause = err.__cause__
            message = cause.message if isinstance(cause, FeelError) else err.message
            raise FeelError(f"`{self.text}`: {message}", expression=self.text) from None


def is_feel(text: str | None) -> bool:
    """Whether ``text`` is a FEEL expression (Camunda 8 writes them with a leading ``=``)."""
    return bool(text) and text.lstrip().startswith("=")  # type: ignore[union-attr]


def _parse_error(err: UnexpectedInput, body: str) -> FeelError:
    column = getattr(err, "column", None)
    position = column + 1 if isinstance(column, int) and column > 0 else None  # +1 for the "="
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        message, position = "the expression ends too early: something is missing at its end", len(body) + 1
    elif isinstance(err, UnexpectedToken):
        message = f"unexpected `{err.token}` at column {position}"
        if str(err.token) == "=":
            message += ": FEEL compares with a single ="
        elif err.token.type == "NAME":
            message += ": names with spaces (and FEEL functions such as string length()) are not supported"
    elif isinstance(err, UnexpectedCharacters):
        at = err.pos_in_stream or 0
        found = body[at] if at < len(body) else ""
        message = f"unexpected character `{found}` at column {position}"
        if found in "&|!":
            message += ": FEEL writes and, or and not(x)"
        elif found == "'":
            message += ': FEEL strings are written in double quotes, "like this"'
    else:  # pragma: no cover - lark raises only the three above
        message = "syntax error"
    return FeelError(message, position=position)


@functools.lru_cache(maxsize=4096)
def compile_feel(text: str, condition: bool = False) -> CompiledFeel:
    """Parse, check and translate ``text``; raise FeelError naming what to write instead."""
    if len(text) > MAX_LENGTH:
        raise FeelError(
            f"the expression is {len(text):,} characters long; Flowdesk accepts up to {MAX_LENGTH:,}"
        )
    stripped = text.strip()
    if not is_feel(stripped):
        if condition:
            raise FeelError(
                f"the condition `{text}` is not a FEEL expression: start it with =, e.g. =amount > 100",
                expression=text,
            )
        return CompiledFeel(text, "literal", repr(text))
    body = stripped[1:]
    if not body.strip():
        raise FeelError("the expression after = is empty", expression=text, position=1)
    try:
        tree = parser().parse(body)
        python = Translator(offset=1).translate(tree)
    except UnexpectedInput as err:
        problem = _parse_error(err, body)
        raise FeelError(problem.message, expression=text, position=problem.position) from None
    except FeelError as err:
        raise FeelError(err.message, expression=text, position=err.position) from None
    return CompiledFeel(text, "expression", f"feel.condition({python})" if condition else python)
