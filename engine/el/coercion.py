"""JUEL's type coercions (EL 2.2 spec, section 1.18) over the values process variables hold.

Python ``int`` plays Java's Long, ``float`` Double, ``Decimal`` BigDecimal, ``str`` String, ``bool``
Boolean, ``None`` null; dicts are Maps and lists are Lists. ``bool`` is a subclass of ``int`` in
Python but never a number in EL, so every check tests it first.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.el.errors import ELError

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_LONG_TEXT = re.compile(r"[+-]?\d{1,19}")
_DOUBLE_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


_TYPE_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "Boolean"),
    (int, "Long"),
    (float, "Double"),
    (Decimal, "BigDecimal"),
    (str, "String"),
    (dict, "Map"),
    ((list, tuple), "List"),
)


def type_name(value: Any) -> str:
    """The EL (Java) name of a value's type, for messages."""
    if value is None:
        return "null"
    for kind, name in _TYPE_NAMES:  # bool before int: True is an int in Python
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else to_text(value)
    return text if len(text) <= 40 else text[:37] + "..."


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def is_floaty(value: Any) -> bool:
    """Double, or a String that reads as one ("contains '.', 'e' or 'E'"), in arithmetic."""
    return isinstance(value, float) or (isinstance(value, str) and any(c in value for c in ".eE"))


def check_long(value: int) -> int:
    if not LONG_MIN <= value <= LONG_MAX:
        raise ELError(
            f"the result {value if value.bit_length() < 200 else 'of ' + str(value.bit_length()) + ' bits'} "
            "does not fit in a Long (64 bits); compute with decimals instead"
        )
    return value


def to_long(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ELError(f"cannot coerce Boolean {_show(value)} to a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ELError(f"cannot coerce {type_name(value)} {_show(value)} to a Long")
        return check_long(int(value))  # Java narrows a Double to a Long by truncation
    if isinstance(value, str) and _LONG_TEXT.fullmatch(value):
        return check_long(int(value))
    raise ELError(f"cannot coerce {type_name(value)} {_show(value)} to a Long")


def to_double(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise ELError(f"cannot coerce Boolean {_show(value)} to a number")
    if isinstance(value, int | Decimal):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str) and _DOUBLE_TEXT.fullmatch(value):
        return float(value)
    raise ELError(f"cannot coerce {type_name(value)} {_show(value)} to a Double")


def to_decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise ELError(f"cannot coerce Boolean {_show(value)} to a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if isinstance(value, str) and _DOUBLE_TEXT.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise ELError(f"cannot coerce {type_name(value)} {_show(value)} to a BigDecimal")


def to_bool(value: Any) -> bool:
    """null and "" are false, a String is true only when it reads "true" (any case)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    raise ELError(
        f"cannot coerce {type_name(value)} {_show(value)} to a Boolean; compare it, e.g. ${{x > 0}} "
        "or ${not empty x}"
    )


def _java_double(value: float) -> str:
    """Double.toString: plain between 10^-3 and 10^7, else d.dddE±n."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "e" not in text else f"{value:f}"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    figures = "".join(map(str, digits))
    power = len(figures) - 1 + exponent
    mantissa = figures[0] + "." + (figures[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def to_text(value: Any) -> str:
    """Coercion to String: null is "", booleans are true/false, Doubles as Java prints them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_text(k)}={to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    return str(value)


def is_empty(value: Any) -> bool:
    """``empty``: null, "", and an empty list or map are empty; everything else is not."""
    if value is None:
        return True
    if isinstance(value, str | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False
