"""EL's operators (EL 2.2 spec, sections 1.7 to 1.10) with JUEL's coercions.

Arithmetic picks its type from both operands: BigDecimal if either is one, Double if either is a
Double or a String that reads as one, Long otherwise; ``null`` counts as 0. ``/`` and ``div`` divide
as Doubles (BigDecimal when either side is one). Comparisons and equality coerce both sides to the
"widest" type present and compare; any comparison with ``null`` is false, except ``==``/``!=``.
Where Java would overflow silently (Long) or give Infinity (``1/0``) Flowdesk raises instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any

from engine.el.coercion import (
    check_long,
    is_floaty,
    is_number,
    to_bool,
    to_decimal,
    to_double,
    to_long,
    to_text,
    type_name,
)
from engine.el.errors import ELError

_MAX_PRODUCT_BITS = 128  # two Longs; anything wider cannot fit in a Long anyway


def _long_op(op: str, a: int, b: int) -> int:
    if op == "+":
        return check_long(a + b)
    if op == "-":
        return check_long(a - b)
    if a.bit_length() + b.bit_length() > _MAX_PRODUCT_BITS:
        raise ELError("the product does not fit in a Long (64 bits); compute with decimals instead")
    return check_long(a * b)


_FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """``a + b``, ``a - b``, ``a * b``."""
    try:
        return _arithmetic(op, a, b)
    except ELError as err:
        if op == "+" and (isinstance(a, str) or isinstance(b, str)):
            raise ELError(
                f"{err.message}: '+' adds numbers in EL; to join text write composite text, "
                "e.g. `Order ${id} for ${customer}`"
            ) from None
        raise


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _decimal(lambda: _FLOAT_OPS[op](to_decimal(a), to_decimal(b)))
    if is_floaty(a) or is_floaty(b):
        return _finite(_FLOAT_OPS[op](to_double(a), to_double(b)))
    return _long_op(op, to_long(a), to_long(b))


def _finite(value: float) -> float:
    if math.isinf(value) or math.isnan(value):
        raise ELError("the result is not a finite number")
    return value


def _decimal(compute: Callable[[], Decimal]) -> Decimal:
    try:
        return compute()
    except (DivisionByZero, InvalidOperation) as err:
        raise ELError("division by zero") from err


def divide(a: Any, b: Any) -> Any:
    """``a / b`` and ``a div b``: Double division (BigDecimal when either side is one)."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _decimal(lambda: to_decimal(a) / to_decimal(b))
    x, y = to_double(a), to_double(b)
    if y == 0:
        raise ELError("division by zero")
    return _finite(x / y)


def modulo(a: Any, b: Any) -> Any:
    """``a % b`` and ``a mod b``: the remainder with the sign of ``a``, as in Java."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal | float) or isinstance(b, Decimal | float) or is_floaty(a) or is_floaty(b):
        x, y = to_double(a), to_double(b)
        if y == 0:
            raise ELError("division by zero")
        return math.fmod(x, y)
    x_long, y_long = to_long(a), to_long(b)
    if y_long == 0:
        raise ELError("division by zero")
    remainder = abs(x_long) % abs(y_long)
    return -remainder if x_long < 0 else remainder


def negate(a: Any) -> Any:
    if a is None:
        return 0
    if isinstance(a, Decimal):
        return -a
    if is_floaty(a):
        return -to_double(a)
    return check_long(-to_long(a))


def _widest(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Both sides coerced for comparison, or None when neither is a number, boolean or string."""
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return to_decimal(a), to_decimal(b)
    if isinstance(a, float) or isinstance(b, float):
        return to_double(a), to_double(b)
    if is_number(a) or is_number(b):
        if is_floaty(a) or is_floaty(b):  # 1 == '1.0': Java would fail to read '1.0' as a Long
            return to_double(a), to_double(b)
        return to_long(a), to_long(b)
    return None


def equals(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    pair = _widest(a, b)
    if pair is not None:
        return bool(pair[0] == pair[1])
    if isinstance(a, bool) or isinstance(b, bool):
        return to_bool(a) == to_bool(b)
    if isinstance(a, str) or isinstance(b, str):
        return to_text(a) == to_text(b)
    return bool(a == b)


def not_equals(a: Any, b: Any) -> bool:
    return not equals(a, b)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compare(op: str, a: Any, b: Any) -> bool:
    """``<``, ``>``, ``<=``, ``>=``: false when either side is null."""
    if a is None or b is None:
        return False
    pair = _widest(a, b)
    if pair is None:
        if isinstance(a, bool) or isinstance(b, bool):
            raise ELError(f"cannot order {type_name(a)} and {type_name(b)} with {op}")
        pair = (to_text(a), to_text(b)) if isinstance(a, str) or isinstance(b, str) else (a, b)
    try:
        return _ORDER[op](*pair)
    except TypeError as err:
        raise ELError(f"cannot order {type_name(a)} and {type_name(b)} with {op}") from err
