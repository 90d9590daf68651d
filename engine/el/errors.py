"""The one exception of the EL package."""

from __future__ import annotations

from engine.exceptions import ExpressionError


class ELError(ExpressionError):
    """A Camunda EL expression is malformed, unsupported, or failed while it was evaluated."""
