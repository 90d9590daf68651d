"""The stored form of process variables: ``dumps`` / ``loads``, and ``check_storable`` in front of them.

Plain JSON loses ``Decimal`` and dates, so those are written as tagged objects
(``{"$type": "decimal", "value": "12.30"}``) and come back exactly. ``check_storable`` is the gate
in front of the stored form and of the REST output: it normalises what it can and refuses, naming
the path (``lead.activities[2]``), what it cannot, so nothing fails later at save time.

Decisions (each one tested):

* Tuples and sets are stored as lists (sets sorted when their items can be compared); ``str``,
  ``int``, ``float``, ``dict`` and ``list`` subclasses (enums, ``OrderedDict``) become the base type.
* Dictionary keys must be strings. ``{1: "a"}`` is refused rather than silently turned into
  ``{"1": "a"}``, which would make ``d[1]`` fail after the next reload.
* NaN and infinity (float or Decimal) are refused: JSON and Java have no common form for them.
* Datetimes and times keep their microseconds and the zone name of ``zoneinfo`` values.
* A dictionary of the caller's own with a ``"$type"`` key is wrapped, so it is never read as a tag;
  tagged objects ``loads`` does not recognise stay plain dictionaries.
"""

from __future__ import annotations

import json
import math
from contextlib import suppress
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from engine.exceptions import VariableError

TAG = "$type"


# --- storable values ----------------------------------------------------------------------------


def _child(path: str, key: object) -> str:
    if not isinstance(key, str):
        return f"{path}[{key!r}]"
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _refuse(path: str, what: str) -> VariableError:
    return VariableError(f"variable `{path}` cannot be stored: {what}", path=path)


def _normalise(value: Any, path: str, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refuse(path, f"{value} is not a finite number")
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _refuse(path, f"Decimal {value} is not a finite number")
        return value
    if isinstance(value, (datetime, date, time)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise _refuse(path, "bytes are not supported; decode them to text (for example base64) first")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if id(value) in seen:
            raise _refuse(path, "the value contains itself")
        seen.add(id(value))
        try:
            return _normalise_container(value, path, seen)
        finally:
            seen.discard(id(value))
    raise _refuse(
        path,
        f"a {type(value).__name__} is not a storable value; use text, numbers, "
        "true/false, dates, Decimal, lists and dictionaries",
    )


def _normalise_container(value: Any, path: str, seen: set[int]) -> Any:
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _refuse(
                    _child(path, key), f"dictionary keys must be text, not {type(key).__name__}; use str(key)"
                )
            result[str.__str__(key)] = _normalise(item, _child(path, key), seen)
        return result
    items = [_normalise(item, _child(path, index), seen) for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        with suppress(TypeError):  # mixed types keep the set's own order
            items.sort()
    return items


def check_storable(name: str, value: Any) -> Any:
    """Return ``value`` normalised for storage, or raise VariableError naming the bad part's path.

    Tuples and sets become lists, subclasses of built-in types become the built-in type.
    """
    return _normalise(value, name, set())


# --- the stored JSON form ------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {TAG: "decimal", "value": str(value)}
    if isinstance(value, (datetime, time)):
        tagged: dict[str, Any] = {
            TAG: "datetime" if isinstance(value, datetime) else "time",
            "value": value.isoformat(),
        }
        if isinstance(value.tzinfo, ZoneInfo):
            tagged["zone"] = value.tzinfo.key
        return tagged
    if isinstance(value, date):
        return {TAG: "date", "value": value.isoformat()}
    if isinstance(value, dict):
        encoded = {key: _encode(item) for key, item in value.items()}
        # A dictionary of the caller's own with a "$type" key is wrapped so it is never read as a tag.
        return {TAG: "dict", "value": encoded} if TAG in value else encoded
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode_tag(tag: str, data: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, value)`` if ``data`` is a well-formed tagged value, else ``(False, None)``."""
    raw = data.get("value")
    allowed = {TAG, "value", "zone"} if tag in ("datetime", "time") else {TAG, "value"}
    if set(data) - allowed:
        return False, None
    try:
        if tag == "dict" and isinstance(raw, dict):
            return True, {key: decode(item) for key, item in raw.items()}
        if not isinstance(raw, str):
            return False, None
        if tag == "decimal":
            return True, Decimal(raw)
        if tag == "date":
            return True, date.fromisoformat(raw)
        if tag in ("datetime", "time"):
            parsed: datetime | time = (
                datetime.fromisoformat(raw) if tag == "datetime" else time.fromisoformat(raw)
            )
            zone = data.get("zone")
            if isinstance(zone, str):
                if isinstance(parsed, datetime):
                    return True, parsed.astimezone(ZoneInfo(zone))
                return True, parsed.replace(tzinfo=ZoneInfo(zone))
            return True, parsed
    except (ValueError, InvalidOperation, KeyError):
        pass
    return False, None


def decode(value: Any) -> Any:
    """Values from parsed stored JSON: tagged objects become Decimal, dates and times."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(TAG)
        if isinstance(tag, str):
            ok, decoded = _decode_tag(tag, value)
            if ok:
                return decoded
        return {key: decode(item) for key, item in value.items()}
    return value


def dumps_checked(checked: Any) -> str:
    """``dumps`` of a value ``check_storable`` has already returned (no second walk)."""
    return json.dumps(_encode(checked), ensure_ascii=False, allow_nan=False)


def dumps(value: Any, *, name: str = "value") -> str:
    """Serialise a variable's value; ``loads`` gives it back exactly. ``name`` starts error paths."""
    return dumps_checked(check_storable(name, value))


def loads(text: str) -> Any:
    """The value ``dumps`` wrote. Tagged objects it does not recognise stay plain dictionaries."""
    try:
        return decode(json.loads(text))
    except ValueError as err:
        raise VariableError(f"the stored text is not valid JSON: {err}") from err
