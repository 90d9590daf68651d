"""The sandbox every BPMN script and expression runs in.

SpiffWorkflow runs scripts with plain ``eval``/``exec`` and full builtins, so a process file could
``__import__('os')`` or walk ``().__class__.__base__.__subclasses__()`` to ``subprocess.Popen``. Here
every script is compiled by RestrictedPython with a stricter policy and runs against a curated set of
builtins and guards:

* **Nothing private is reachable.** Names and attributes starting with ``_`` are refused at compile
  time; ``_getattr_`` (also behind ``getattr``/``hasattr``) refuses them at run time, together with
  frame/code/generator internals, ``mro`` and ``str.format`` (its ``{0.__class__}`` fields would walk
  private attributes). Imports, ``class``, ``finally``, bare ``except:`` and calls of ``exec``,
  ``eval``, ``open``, ``type``, ``globals`` ... are refused when the script is compiled, so a refused
  script runs no line at all. ``check`` does exactly this at deploy time.
* **Time is bounded.** One daemon watchdog thread keeps a deadline per running evaluation and raises
  an internal ``BaseException`` in the overdue thread with ``PyThreadState_SetAsyncExc`` (again every
  ``_REFIRE_SECONDS`` while the deadline stays exceeded). Scripts cannot catch it: ``except:``,
  ``except BaseException`` and ``finally`` are refused, and ``_except_`` drops non-``Exception``
  classes reached at run time. The happy path pays one uncontended lock round trip, no wake-up.
* **Single operations stay small.** An asynchronous exception waits for a long C call to end, so the
  operations that build a huge value in one call are guarded: ``**``, ``*`` (sequence repetition and
  int products), ``<<``, ``%`` and format specs (widths), ``range``, ``int()``/``round()`` of a
  Decimal with a huge exponent, and the str/bytes methods that grow (``center``, ``replace``, ``join``,
  ...). Limits: ``MAX_ITEMS`` items or characters, ``MAX_INT_BITS`` bits.

Known limits (say so rather than pretend): memory is only bounded per operation, so a loop that keeps
appending can use a lot of memory before its deadline; a C call over data within the limits (sorting
ten million items, ``repr`` of a list that holds the same nested list many times) can overrun the
deadline until it returns. Run workers with a process memory limit for hard isolation.
"""

from __future__ import annotations

import ast
import ctypes
import functools
import logging
import operator
import os
import re
import reprlib
import threading
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import CodeType, ModuleType
from typing import Any, Literal, NoReturn, cast

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safe_builtins
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer, copy_locations

from engine.exceptions import SandboxViolation, ScriptError, ScriptTimeout

__all__ = ["MAX_INT_BITS", "MAX_ITEMS", "Sandbox"]

MAX_ITEMS = 10_000_000
"""Largest string, bytes, list or range one operation may build."""
MAX_INT_BITS = 100_000
"""Largest integer (about 30,000 digits) one ``**``, ``*`` or ``<<`` may build."""
_MAX_DECIMAL_DIGITS = MAX_INT_BITS * 3 // 10
_REFIRE_SECONDS = 0.1
_FILENAME = "<script>"
_LOG = logging.getLogger(__name__)


# --- the watchdog ---------------------------------------------------------------------------------

class _Expired(BaseException):
    """Raised asynchronously in a thread whose evaluation is past its deadline; never visible to scripts."""


def _set_async_exc(thread_id: int, exc: type[BaseException] | None) -> None:
    # None becomes NULL, which cancels an exception set earlier and not delivered yet.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else None
    )


class _Deadline:
    __slots__ = ("at", "done", "fired", "seconds", "stack", "thread")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.done = self.fired = False


class _Watchdog:
    """One daemon thread for all sandboxes: it sleeps until the earliest deadline and fires at it.

    The happy path takes no lock and never wakes the thread: each thread appends its deadline to a
    list of its own, and the watchdog never sleeps longer than the shortest timeout it has seen, so
    a new deadline is always later than its next look. A late firing cannot escape the evaluation:
    the watchdog marks a deadline ``fired`` *before* it checks ``done`` and fires under its lock;
    ``disarm`` sets ``done`` *before* it checks ``fired`` and then cancels under the same lock.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stacks: dict[int, list[_Deadline]] = {}  # thread id -> its running (nested) evaluations
        self._last_fire: dict[int, float] = {}
        self._thread: threading.Thread | None = None
        self._next_look = float("inf")
        self._shortest = float("inf")

    def arm(self, deadline: _Deadline) -> None:
        deadline.thread = thread = threading.get_ident()
        stack = self._stacks.get(thread)
        if stack is None:
            with self._lock:
                stack = self._stacks.setdefault(thread, [])
        deadline.stack = stack
        stack.append(deadline)
        if deadline.at < self._next_look or deadline.seconds < self._shortest:
            with self._lock:
                self._shortest = min(self._shortest, deadline.seconds)
                self._next_look = min(self._next_look, deadline.at)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._watch, name="sandbox-watchdog", daemon=True)
                    self._thread.start()
                self._wake.notify()

    def disarm(self, deadline: _Deadline) -> None:
        # The exception may also arrive while we clean up: retry until the deadline is gone for sure.
        while True:
            try:
                deadline.done = True
                if deadline in deadline.stack:
                    deadline.stack.remove(deadline)
                if deadline.fired:
                    with self._lock:  # the watchdog has finished firing: cancel what is not delivered yet
                        _set_async_exc(deadline.thread, None)
                return
            except _Expired:
                continue

    def _watch(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                next_look = now + self._shortest
                for thread, stack in self._stacks.items():
                    running = [deadline for deadline in list(stack) if not deadline.done]
                    overdue = [deadline for deadline in running if deadline.at <= now]
                    if overdue:
                        last = self._last_fire.get(thread, float("-inf"))
                        if now - last >= _REFIRE_SECONDS:
                            for deadline in overdue:
                                deadline.fired = True
                            if not all(deadline.done for deadline in overdue):
                                _set_async_exc(thread, _Expired)
                                self._last_fire[thread] = last = now
                        next_look = min(next_look, last + _REFIRE_SECONDS)
                    next_look = min([next_look, *(d.at for d in running if d.at > now)])
                self._next_look = next_look
                self._wake.wait(max(next_look - time.monotonic(), 0.001))


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)


# --- run-time guards ------------------------------------------------------------------------------

def _refuse(message: str) -> NoReturn:
    raise SandboxViolation(message)


def _check_size(size: int, what: str) -> None:
    if size > MAX_ITEMS:
        _refuse(f"{what} would build {size:,} items or characters; the sandbox allows {MAX_ITEMS:,}")


def _check_decimal_to_int(value: object) -> None:
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > _MAX_DECIMAL_DIGITS:
        _refuse(f"converting a Decimal of {value.adjusted() + 1:,} digits to int is not allowed")


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
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand, "//=": operator.ifloordiv,
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


_FORBIDDEN_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro"}


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


def _guarded_round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        _check_decimal_to_int(number)
    return round(number, ndigits)


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


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


def _refuser(name: str) -> Callable[..., NoReturn]:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"calling '{name}' is not allowed in a script")

    return refuse


_FORBIDDEN_CALLS = {
    "exec": "scripts cannot run other code",
    "eval": "scripts cannot run other code",
    "compile": "scripts cannot build code",
    "open": "scripts cannot use files",
    "input": "scripts cannot read input",
    "breakpoint": "scripts cannot start a debugger",
    "globals": "the namespace is not reachable",
    "locals": "the namespace is not reachable",
    "vars": "the namespace is not reachable",
    "dir": "objects cannot be introspected",
    "help": "objects cannot be introspected",
    "type": "use isinstance() to test a type",
    "object": "scripts cannot build classes",
    "super": "scripts cannot build classes",
    "setattr": "change dicts and lists by key instead",
    "delattr": "change dicts and lists by key instead",
    "memoryview": "raw memory is not reachable",
    "exit": "a script ends at its last line",
    "quit": "a script ends at its last line",
}
_UNSAFE_BUILTINS = {"__build_class__", "_getattr_", "id", "setattr", "delattr", "BaseException", "SystemExit",
                    "KeyboardInterrupt", "GeneratorExit"}

_BUILTINS: dict[str, Any] = {name: v for name, v in safe_builtins.items() if name not in _UNSAFE_BUILTINS}
_BUILTINS.update({name: _refuser(name) for name in (*_FORBIDDEN_CALLS, "__import__")})
_BUILTINS.update(
    min=min, max=max, sum=sum, sorted=sorted, reversed=reversed, any=any, all=all, list=list, dict=dict,
    set=set, frozenset=frozenset, tuple=tuple, enumerate=enumerate, zip=zip, map=map, filter=filter,
    int=_Int, pow=_guarded_pow, range=_guarded_range, round=_guarded_round,
    getattr=_getattr_builtin, hasattr=_hasattr_builtin,
    Decimal=Decimal, datetime=datetime, date=date, timedelta=timedelta, timezone=timezone,
    _getattr_=_guarded_getattr, _getitem_=operator.getitem, _getiter_=iter, _write_=_guarded_write,
    _iter_unpack_sequence_=guarded_iter_unpack_sequence, _unpack_sequence_=guarded_unpack_sequence,
    _inplacevar_=_guarded_inplace, _apply_=_apply, _print_=_PrintSink, _except_=_guarded_except,
    _pow_=_guarded_pow, _mul_=_guarded_mul, _lshift_=_guarded_lshift, _mod_=_guarded_mod,
    _format_=_guarded_format, _print=_PrintSink(),  # eval mode has no print collector of its own
)


# --- the compile-time policy ----------------------------------------------------------------------

_UNCATCHABLE = {"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"}


def _name(id_: str) -> ast.Name:
    return ast.Name(id_, ast.Load())


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, stricter, with messages that name the refused thing."""

    def error(self, node: ast.AST, info: str) -> None:
        # Encoded so the compiler can give each violation its own line and column back.
        self.errors.append(f"{getattr(node, 'lineno', 0)}\0{getattr(node, 'col_offset', -1) + 1}\0{info}")

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and name.startswith("_") and name != "_":
            self.error(node, f"access to '{name}' is not allowed: names starting with '_' are private")
        else:
            super().check_name(node, name)

    def visit_Import(self, node: ast.Import) -> Any:
        return self._refuse_import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return self._refuse_import(node)

    def _refuse_import(self, node: ast.stmt) -> ast.stmt:
        self.error(node, "import statements are not allowed: Decimal, datetime, date, timedelta and "
                         "timezone are already available")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed: use dicts for structured data")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            self.check_name(node, node.attr)
        elif node.attr in _FORBIDDEN_ATTRIBUTES:
            self.error(node, f"access to '{node.attr}' is not allowed: it exposes interpreter internals")
        elif node.attr in ("format", "format_map") and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            self.error(node, f"str.{node.attr}() is not allowed: its fields can reach private attributes; "
                             "use an f-string")
        else:
            return super().visit_Attribute(node)
        return self.node_contents_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self.error(node, f"calling '{node.func.id}' is not allowed: {_FORBIDDEN_CALLS[node.func.id]}")
            return self.node_contents_visit(node)
        return super().visit_Call(node)

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(node, "'finally' blocks are not allowed in scripts")
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, "a bare 'except:' is not allowed: write 'except Exception:'")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = self.node_contents_visit(node)
        self.check_name(node, node.name)
        if node.type is not None:
            for inner in ast.walk(node.type):
                if isinstance(inner, ast.Name) and inner.id in _UNCATCHABLE:
                    self.error(node, f"catching '{inner.id}' is not allowed: catch Exception or narrower")
            node.type = _call("_except_", node.type)
            copy_locations(node.type, node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = None
        if isinstance(node.op, ast.Pow):
            guard = "_pow_"
        elif isinstance(node.op, ast.LShift):
            guard = "_lshift_"
        elif isinstance(node.op, ast.Mult) and not any(
            isinstance(side, ast.Constant) and type(side.value) in (float, complex)
            for side in (node.left, node.right)
        ):
            guard = "_mul_"  # a float literal on either side rules out repetition and big-int products
        elif isinstance(node.op, ast.Mod) and not (
            isinstance(node.left, ast.Constant) and type(node.left.value) in (int, float)
        ):
            guard = "_mod_"
        if guard is None:
            return node
        new_node = _call(guard, node.left, node.right)
        copy_locations(new_node, node)
        return new_node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        call = _call("_format_", node.value, node.format_spec, ast.Constant(node.conversion))
        new_node = ast.FormattedValue(value=call, conversion=-1, format_spec=None)
        copy_locations(new_node, node)
        return new_node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        # totals['n'] += 1, which RestrictedPython refuses, becomes a guarded read and write.
        obj, key = self.gen_tmp_name(), self.gen_tmp_name()
        value = _call("_inplacevar_", ast.Constant(f"{_OPS[type(node.op)]}="),
                      _call("_getitem_", _name(obj), _name(key)), self.visit(node.value))
        statements: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(obj, ast.Store())], value=self.visit(target.value)),
            ast.Assign(targets=[ast.Name(key, ast.Store())], value=self.visit(target.slice)),
            ast.Assign(targets=[ast.Subscript(_call("_write_", _name(obj)), _name(key), ast.Store())],
                       value=value),
            ast.Delete(targets=[ast.Name(obj, ast.Del()), ast.Name(key, ast.Del())]),
        ]
        for statement in statements:
            copy_locations(statement, node)
        return statements


_OPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.Pow: "**", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.FloorDiv: "//", ast.MatMult: "@",
}


class _Refusal:
    """A compile failure, cached like code so a bad expression is not recompiled on every call."""

    __slots__ = ("context", "kind", "message")

    def __init__(self, kind: type[ScriptError], message: str, **context: Any) -> None:
        self.kind, self.message, self.context = kind, message, context

    def raise_(self) -> NoReturn:
        raise self.kind(self.message, **self.context)


_Compiled = tuple[CodeType, bool]
_NEEDS_NAMESPACE = (ast.NamedExpr, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _compile(source: str, mode: str) -> _Compiled | _Refusal:
    """Compile ``source``; the flag says the code needs its own namespace (it assigns or nests scopes)."""
    try:
        tree = cast(ast.Module | ast.Expression, ast.parse(source, _FILENAME, mode))
    except SyntaxError as err:
        where = f"line {err.lineno}, column {err.offset}" if err.offset else f"line {err.lineno}"
        return _Refusal(ScriptError, f"syntax error at {where} of the script: {err.msg}",
                        line=err.lineno, offset=err.offset)
    isolated = mode == "exec" or any(isinstance(node, _NEEDS_NAMESPACE) for node in ast.walk(tree))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, filename=_FILENAME, policy=_Policy)
    if result.errors:
        violations = [(int(a), int(b), text) for a, b, text in (e.split("\0", 2) for e in result.errors)]
        line, column, message = violations[0]
        more = f"; and {len(violations) - 1} more problem(s)" if len(violations) > 1 else ""
        return _Refusal(SandboxViolation, f"{message} (line {line} of the script){more}", line=line,
                        offset=column or None, violations=[v[2] for v in violations])
    return cast(CodeType, result.code), isolated


def _script_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- the public face ------------------------------------------------------------------------------

class Sandbox:
    """Compiles (with a cache), checks and runs scripts and expressions under the policy above.

    Safe to share between threads. ``extra_globals`` adds names (helpers, constants) for every script;
    they are shared, so give immutable values or functions.
    """

    def __init__(self, timeout_seconds: float = 2.0, extra_globals: Mapping[str, Any] | None = None,
                 cache_size: int = 2048) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        extra = dict(extra_globals or {})
        private = sorted(name for name in extra if name.startswith("_"))
        if private:
            raise ValueError(f"extra globals must not start with '_' (scripts cannot reach them): {private}")
        self.timeout_seconds = timeout_seconds
        self._builtins = {**_BUILTINS, **extra}
        self._globals = {"__builtins__": self._builtins}
        self._compile: Callable[[str, str], _Compiled | _Refusal] = functools.lru_cache(maxsize=cache_size)(
            _compile
        )

    def check(self, source: str, mode: Literal["eval", "exec"]) -> None:
        """Compile without running: raise ScriptError (syntax) or SandboxViolation (policy)."""
        if mode not in ("eval", "exec"):
            raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
        compiled = self._compile(source, mode)
        if isinstance(compiled, _Refusal):
            compiled.raise_()

    def evaluate(self, expression: str, variables: Mapping[str, Any]) -> Any:
        """The value of ``expression`` with ``variables`` as its names."""
        compiled = self._compile(expression, "eval")
        if isinstance(compiled, _Refusal):
            compiled.raise_()
        code, isolated = compiled
        if isolated:  # comprehensions look names up as globals, so they need a real namespace
            namespace = dict(variables)
            namespace["__builtins__"] = self._builtins
            return self._run(code, namespace, None)
        return self._run(code, self._globals, variables)

    def execute(self, script: str, variables: dict[str, Any]) -> None:
        """Run ``script`` with ``variables`` as its namespace, like SpiffWorkflow's TaskDataEnvironment.

        On success ``variables`` holds every top-level name the script created or changed, without
        the names it deleted and without functions and modules. On failure the top-level names are
        left as they were (objects the script changed in place before failing stay changed).
        """
        compiled = self._compile(script, "exec")
        if isinstance(compiled, _Refusal):
            compiled.raise_()
        namespace = dict(variables)
        namespace["__builtins__"] = self._builtins
        self._run(compiled[0], namespace, None)
        del namespace["__builtins__"]
        for name in [name for name in variables if name not in namespace]:
            del variables[name]
        for name, value in namespace.items():
            if callable(value) or isinstance(value, ModuleType):
                variables.pop(name, None)
            elif not name.startswith("_") or name in variables:  # _print, _tmp0: RestrictedPython's own
                variables[name] = value

    def _run(self, code: CodeType, namespace: dict[str, Any], names: Mapping[str, Any] | None) -> Any:
        deadline = _Deadline(self.timeout_seconds)
        try:
            try:
                _WATCHDOG.arm(deadline)
                return eval(code, namespace, names)
            finally:
                _WATCHDOG.disarm(deadline)
        except _Expired as exc:
            _WATCHDOG.disarm(deadline)
            if not deadline.fired:
                raise  # an enclosing evaluation's deadline: let it through to its owner
            line = _script_line(exc)
            where = f" (stopped at line {line} of the script)" if line else ""
            raise ScriptTimeout(
                f"the script ran longer than {self.timeout_seconds:g} s and was stopped{where}; "
                "make it do less work or raise the timeout",
                line=line, timeout_seconds=self.timeout_seconds,
            ) from None
        except ScriptTimeout:
            raise
        except SandboxViolation as exc:
            line = _script_line(exc)
            if line is not None:
                exc.context.setdefault("line", line)
            raise
        except Exception as exc:
            line = _script_line(exc)
            where = f" (line {line} of the script)" if line else ""
            raise ScriptError(f"{type(exc).__name__}: {exc}{where}", line=line,
                              error_type=type(exc).__name__) from exc
