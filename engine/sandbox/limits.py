"""The sandbox's limits and refusal lists, shared by the compile-time policy and the run-time guards."""

from __future__ import annotations

from decimal import Decimal
from typing import NoReturn

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from engine.exceptions import SandboxViolation

MAX_ITEMS = 10_000_000
"""Largest string, bytes, list or range one operation may build."""
MAX_INT_BITS = 100_000
"""Largest integer (about 30,000 digits) one ``**``, ``*`` or ``<<`` may build."""
_MAX_DECIMAL_DIGITS = MAX_INT_BITS * 3 // 10


def _refuse(message: str) -> NoReturn:
    raise SandboxViolation(message)


def _check_size(size: int, what: str) -> None:
    if size > MAX_ITEMS:
        _refuse(f"{what} would build {size:,} items or characters; the sandbox allows {MAX_ITEMS:,}")


def _check_decimal_to_int(value: object) -> None:
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() > _MAX_DECIMAL_DIGITS:
        _refuse(f"converting a Decimal of {value.adjusted() + 1:,} digits to int is not allowed")


_FORBIDDEN_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro"}

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
