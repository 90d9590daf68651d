"""The one exception of the EL package: a bad or failing Camunda 7 expression."""

from __future__ import annotations

from typing import Any

from engine.exceptions import ScriptError


class ELError(ScriptError):
    """A Camunda EL expression is malformed, unsupported, or failed while it was evaluated.

    ``position`` is the 1-based column in the expression text where the problem starts (None for
    failures at run time); ``expression`` is the whole text as written in the BPMN file.
    """

    def __init__(
        self, message: str, *, expression: str | None = None, position: int | None = None, **context: Any
    ) -> None:
        super().__init__(message, expression=expression, position=position, **context)
        self.expression = expression
        self.position = position
