"""The one exception of the FEEL package."""

from __future__ import annotations

from engine.exceptions import ExpressionError


class FeelError(ExpressionError):
    """A FEEL expression is malformed or outside the supported subset, or a condition did not come
    out as a boolean."""
