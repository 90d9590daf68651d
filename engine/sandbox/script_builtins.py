"""The builtins every script sees: RestrictedPython's safe set, narrowed, with the guards in place."""

from __future__ import annotations

import logging
import operator
import reprlib
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import ModuleType
from typing import Any, NoReturn

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins

from engine.sandbox.guards import (
    _guarded_except,
    _guarded_format,
    _guarded_getattr,
    _guarded_inplace,
    _guarded_lshift,
    _guarded_mod,
    _guarded_mul,
    _guarded_pow,
    _guarded_range,
    _guarded_round,
    _guarded_sum,
    _guarded_write,
    _Int,
)
from engine.sandbox.limits import _FORBIDDEN_CALLS, _refuse

_LOG = logging.getLogger("engine.sandbox")  # the name it had before the split: logging config keeps working


def _getattr_builtin(obj: Any, name: str, *default: Any) -> Any:
    try:
        return _guarded_getattr(obj, name)
    except AttributeError:
        if default:
            return default[0]
        raise


def _hasattr_builtin(obj: Any, name: str) -> bool:
    try:
        _guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


class _PrintSink:
    """What ``print`` writes to in a script: a DEBUG log line, never stdout."""

    _repr = reprlib.Repr()

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        if _LOG.isEnabledFor(logging.DEBUG):
            text = " ".join(o[:1000] if isinstance(o, str) else self._repr.repr(o) for o in objects)
            _LOG.debug("script printed: %s", text)

    def __call__(self) -> str:
        return ""


_C_IMPORTS = frozenset({"time", "_strptime", "locale", "calendar"})


def _import_for_c(name: str, *args: Any, **kwargs: Any) -> ModuleType:
    """``__import__`` for C code only (``date.today()`` imports ``time``): scripts cannot name it."""
    if name not in _C_IMPORTS:
        _refuse(f"importing '{name}' is not allowed")
    return __import__(name, *args, **kwargs)


def _refuser(name: str) -> Callable[..., NoReturn]:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"calling '{name}' is not allowed in a script")

    return refuse


_UNSAFE_BUILTINS = {
    "__build_class__",
    "_getattr_",
    "id",
    "setattr",
    "delattr",
    "BaseException",
    "SystemExit",
    "KeyboardInterrupt",
    "GeneratorExit",
}

_BUILTINS: dict[str, Any] = {name: v for name, v in safe_builtins.items() if name not in _UNSAFE_BUILTINS}
_BUILTINS.update({name: _refuser(name) for name in _FORBIDDEN_CALLS})
_BUILTINS.update(
    __import__=_import_for_c,
    next=next,
    iter=iter,
    min=min,
    max=max,
    sum=_guarded_sum,
    sorted=sorted,
    reversed=reversed,
    any=any,
    all=all,
    list=list,
    dict=dict,
    set=set,
    frozenset=frozenset,
    tuple=tuple,
    enumerate=enumerate,
    zip=zip,
    map=map,
    filter=filter,
    int=_Int,
    pow=_guarded_pow,
    range=_guarded_range,
    round=_guarded_round,
    getattr=_getattr_builtin,
    hasattr=_hasattr_builtin,
    Decimal=Decimal,
    datetime=datetime,
    date=date,
    timedelta=timedelta,
    timezone=timezone,
    _getattr_=_guarded_getattr,
    _getitem_=operator.getitem,
    _getiter_=iter,
    _write_=_guarded_write,
    _iter_unpack_sequence_=guarded_iter_unpack_sequence,
    _unpack_sequence_=guarded_unpack_sequence,
    _inplacevar_=_guarded_inplace,
    _apply_=_apply,
    _print_=_PrintSink,
    _except_=_guarded_except,
    _pow_=_guarded_pow,
    _mul_=_guarded_mul,
    _lshift_=_guarded_lshift,
    _mod_=_guarded_mod,
    _format_=_guarded_format,
    _print=_PrintSink(),  # eval mode has no print collector of its own
)
