"""What ``feel`` means inside a translated FEEL expression: the variables and FEEL's operators.

FEEL never fails on data: an operation on the wrong types, a missing variable or a missing key is
``null``; comparisons and ``and``/``or`` follow FEEL's three-valued logic. Numbers are computed
as decimals (``0.1 + 0.2 = 0.3``) and handed back as int when whole, float otherwise, like the JSON
numbers Camunda 8 stores. Paths read dict keys and list items only, never attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.feel.errors import FeelError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(value: Any) -> Decimal:
    return (
        value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    )


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


_ARITH: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class FeelScope:
    """One evaluation's view of the process variables, with FEEL's semantics."""

    __slots__ = ("_variables",)

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables

    def var(self, name: str) -> Any:
        return self._variables.get(name)

    @staticmethod
    def path(base: Any, key: str) -> Any:
        if isinstance(base, Mapping):
            return base.get(key)
        if isinstance(base, list):  # a path over a list maps over its items
            return [item.get(key) if isinstance(item, Mapping) else None for item in base]
        return None

    @staticmethod
    def item(base: Any, position: int) -> Any:
        """``list[n]``: 1-based, negative from the end; null out of range."""
        if not isinstance(base, list) or position == 0 or abs(position) > len(base):
            return None
        return base[position - 1] if position > 0 else base[position]

    @staticmethod
    def arith(op: str, a: Any, b: Any) -> Any:
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if not (_is_number(a) and _is_number(b)):
            return None
        try:
            return _number(_ARITH[op](_decimal(a), _decimal(b)))
        except (ArithmeticError, InvalidOperation):
            return None  # division by zero is null in FEEL

    @staticmethod
    def neg(a: Any) -> Any:
        return _number(-_decimal(a)) if _is_number(a) else None

    @staticmethod
    def compare(op: str, a: Any, b: Any) -> bool | None:
        if op in ("=", "!="):
            if a is None or b is None:
                same = a is None and b is None
            elif _is_number(a) and _is_number(b):
                same = _decimal(a) == _decimal(b)
            elif type(a) is not type(b) and not (isinstance(a, list) and isinstance(b, list)):
                return None
            else:
                same = bool(a == b)
            return same if op == "=" else not same
        comparable = (_is_number(a) and _is_number(b)) or (type(a) is type(b) and isinstance(a, str))
        if not comparable:
            return None
        if _is_number(a):
            a, b = _decimal(a), _decimal(b)
        return _ORDER[op](a, b)

    @staticmethod
    def conj(a: Any, b: Any) -> bool | None:
        if a is False or b is False:
            return False
        return True if a is True and b is True else None

    @staticmethod
    def disj(a: Any, b: Any) -> bool | None:
        if a is True or b is True:
            return True
        return False if a is False and b is False else None

    @staticmethod
    def not_(a: Any) -> bool | None:
        return (not a) if isinstance(a, bool) else None

    @staticmethod
    def choice(test: Any, yes: Any, no: Any) -> Any:
        return yes if test is True else no

    @staticmethod
    def condition(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        shown = "null" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"
        raise FeelError(
            f"the condition evaluated to {shown}, not a boolean; compare the value, e.g. "
            "=amount > 100 or =approved = true"
        )
