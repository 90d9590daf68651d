"""Run-time guards: the checks a compiled script calls instead of operators, attributes and builtins.

An asynchronous exception waits for a long C call to end, so the operations that build a huge
value in one call are checked before they run (``MAX_ITEMS``, ``MAX_INT_BITS``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.sandbox.limits import (
    _FORBIDDEN_ATTRIBUTES,
    MAX_INT_BITS,
    MAX_ITEMS,
    _check_decimal_to_int,
    _check_size,
    _refuse,
)

_NUMBERS = frozenset({int, float, bool, Decimal, complex})
_SEQUENCES = (str, bytes, list, tuple)


def _check_mul(a: Any, b: Any) -> None:
    if isinstance(a, _SEQUENCES) and isinstance(b, int):
        _check_size(len(a) * b, f"repeating a {type(a).__name__}")
    elif isinstance(b, _SEQUENCES) and isinstance(a, int):
        _check_size(len(b) * a, f"repeating a {type(b).__name__}")
    elif isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        _refuse(f"the product would have more than {MAX_INT_BITS:,} bits")


def _guarded_mul(a: Any, b: Any) -> Any:
    kind_a, kind_b = type(a), type(b)
    if kind_a is int and kind_b is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            _refuse(f"the product would have more than {MAX_INT_BITS:,} bits")
    elif kind_a not in _NUMBERS or kind_b not in _NUMBERS:
        _check_mul(a, b)
    return a * b


def _check_pow(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 1:
        bits = abs(base).bit_length()
        if bits > 1 and (bits - 1) * exponent > MAX_INT_BITS:
            _refuse(f"{base} ** {exponent} would have more than {MAX_INT_BITS:,} bits")


def _guarded_pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is not None:
        return pow(base, exponent, modulo)  # bounded by the modulus
    _check_pow(base, exponent)
    return base**exponent


def _check_lshift(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and a.bit_length() + b > MAX_INT_BITS:
        _refuse(f"the shift would build a number of more than {MAX_INT_BITS:,} bits")


def _guarded_lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_percent(fmt: str | bytes, args: Any) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                _refuse("a '*' width or precision in %-formatting is not allowed; write the number")
            if number:
                _check_size(int(number), "a %-format width or precision")
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else (args,)
    for value in values:
        _check_decimal_to_int(value)


def _guarded_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes):
        _check_percent(a, b)
    return a % b


_CONVERSIONS: dict[int, Callable[[Any], str]] = {ord("s"): str, ord("r"): repr, ord("a"): ascii}


def _guarded_format(value: Any, spec: str, conversion: int) -> str:
    if conversion != -1:
        value = _CONVERSIONS[conversion](value)
    if len(spec) > 7:  # a number above MAX_ITEMS needs at least eight digits
        for number in _DIGITS.findall(spec):
            _check_size(int(number), "a format width or precision")
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > MAX_ITEMS:
        _refuse("formatting a Decimal with such an exponent is not allowed; use str()")
    return format(value, spec)


def _guarded_inplace(op: str, target: Any, value: Any) -> Any:
    if op == "*=":
        _check_mul(target, value)
    elif op == "**=":
        _check_pow(target, value)
    elif op == "<<=":
        _check_lshift(target, value)
    elif op == "%=" and isinstance(target, str | bytes):
        _check_percent(target, value)
    return _INPLACE[op](target, value)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "^=": operator.ixor,
    "&=": operator.iand,
    "//=": operator.ifloordiv,
    "@=": operator.imatmul,
}


def _join_args(sep: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, tuple[Any, ...]]:
    items = list(args[0]) if args else []  # materialised once, so the size is known before joining
    size = len(sep) * max(len(items) - 1, 0) + sum(len(i) for i in items if isinstance(i, str | bytes))
    return size, (items, *args[1:])


def _translate_size(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    table = args[0] if args else None
    values = table.values() if isinstance(table, dict) else table if isinstance(table, list | tuple) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    return len(s) * max(longest, 1)


def _expandtabs_size(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    tabsize = args[0] if args else kwargs.get("tabsize", 8)
    return int(len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(tabsize, 0))


def _decimal_ratio_size(d: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    _check_decimal_to_int(d)
    return 0


def _replace_size(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    old, new = args[0], args[1]
    count = s.count(old) if len(args) < 3 or args[2] < 0 else min(args[2], s.count(old))
    return int(len(s) + max(len(new) - len(old), 0) * count)


_Estimate = Callable[[Any, tuple[Any, ...], dict[str, Any]], int]
_GROWING: dict[str, tuple[tuple[type, ...], _Estimate]] = {
    "center": ((str, bytes), lambda s, a, k: a[0] if a else 0),
    "ljust": ((str, bytes), lambda s, a, k: a[0] if a else 0),
    "rjust": ((str, bytes), lambda s, a, k: a[0] if a else 0),
    "zfill": ((str, bytes), lambda s, a, k: a[0] if a else 0),
    "expandtabs": ((str, bytes), _expandtabs_size),
    "replace": ((str, bytes), _replace_size),
    "translate": ((str,), _translate_size),
    "join": ((str, bytes), lambda s, a, k: 0),  # measured by _join_args
    "to_bytes": ((int,), lambda n, a, k: a[0] if a else k.get("length", 1)),
    "as_integer_ratio": ((Decimal,), _decimal_ratio_size),
}


def _bounded(method: Callable[..., Any], name: str, instance: Any | None) -> Callable[..., Any]:
    """Wrap a method that can build a huge value so that it refuses to (unbound if ``instance`` is None)."""
    estimate = _GROWING[name][1]

    def call(*args: Any, **kwargs: Any) -> Any:
        this, rest = (instance, args) if instance is not None else (args[0] if args else "", args[1:])
        if name == "join":
            size, rest = _join_args(this, rest, kwargs)
        else:
            try:
                size = estimate(this, rest, kwargs)
            except (TypeError, IndexError, AttributeError, ValueError):
                size = 0  # wrong arguments: let the real method report them
        if isinstance(size, int):
            _check_size(size, f"{type(this).__name__}.{name}()")
        return method(*rest, **kwargs) if instance is not None else method(this, *rest, **kwargs)

    return call


def _guarded_getattr(obj: Any, name: str) -> Any:
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    if name.startswith("_"):
        _refuse(f"access to '{name}' is not allowed: names starting with '_' are private")
    if name in _FORBIDDEN_ATTRIBUTES:
        _refuse(f"access to '{name}' is not allowed: it exposes interpreter internals")
    if name in _SPECIAL_ATTRIBUTES:
        return _special_attribute(obj, name)
    return getattr(obj, name)


_SPECIAL_ATTRIBUTES = frozenset(_GROWING) | {"format", "format_map"}


def _special_attribute(obj: Any, name: str) -> Any:
    if obj is _Int:
        obj = int
    is_type = isinstance(obj, type)
    owner = obj if is_type else type(obj)
    if name in ("format", "format_map"):
        if issubclass(owner, str):
            _refuse(f"str.{name}() is not allowed: its fields can reach private attributes; use an f-string")
        return getattr(obj, name)
    method = getattr(obj, name)
    if issubclass(owner, _GROWING[name][0]):
        return _bounded(method, name, None if is_type else obj)
    return method


def _guarded_write(obj: Any) -> Any:
    if isinstance(obj, dict | list):
        return obj
    _refuse(f"a {type(obj).__name__} cannot be changed in place; only dicts and lists can")


def _guarded_except(types: Any) -> Any:
    """Keep exception classes a script may catch; the watchdog's must always get through."""
    if isinstance(types, tuple):
        return tuple(_guarded_except(item) for item in types)
    if isinstance(types, type) and issubclass(types, BaseException) and not issubclass(types, Exception):
        return ()
    return types


def _guarded_range(*args: Any) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_ITEMS + 1
    _check_size(size, "range()")
    return numbers


def _guarded_sum(iterable: Any, /, start: Any = 0) -> Any:
    if not isinstance(start, int | float | complex | Decimal | timedelta):
        # sum(lists, []) copies the growing result for every item: quadratic inside one C call
        _refuse(f"sum() with a {type(start).__name__} start is not allowed; use a comprehension or join")
    return sum(iterable, start)


def _guarded_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        _check_decimal_to_int(number)
    return round(number, ndigits)


class _IntMeta(type):
    """``int`` for scripts: a real ``int`` for ``isinstance``, but ``int(Decimal('1e999999'))`` is refused
    (the conversion is a single C call of half a minute)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if args:
            _check_decimal_to_int(args[0])
        return int(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, int)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, int)

    def __getattr__(cls, name: str) -> Any:
        return getattr(int, name)


class _Int(metaclass=_IntMeta):
    pass


_Int.__name__ = _Int.__qualname__ = "int"
# Scripts can print ``int``: keep the repr it had when the sandbox was one module.
_Int.__module__ = "engine.sandbox"
