"""Process variables: Camunda 7 typed values in and out, and the JSON form they are stored in.

Three faces of one concept:

* ``from_typed`` / ``to_typed`` speak the REST API's ``{"value": ..., "type": ..., "valueInfo": {...}}``.
* ``dumps`` / ``loads`` are the stored form. Plain JSON loses ``Decimal`` and dates, so those are
  written as tagged objects (``{"$type": "decimal", "value": "12.30"}``) and come back exactly.
* ``check_storable`` is the gate in front of both: it normalises what it can and refuses, naming
  the path (``lead.activities[2]``), what it cannot, so nothing fails later at save time.

The stored form (``dumps``, ``loads``, ``check_storable``) lives in ``engine.varcodec`` and is
re-exported here; this module keeps the Camunda typed conversion, dates and CLI assignments.

Decisions where Camunda's behaviour does not carry over (each one tested):

* Tuples and sets are stored as lists (sets sorted when their items can be compared); ``str``,
  ``int``, ``float``, ``dict`` and ``list`` subclasses (enums, ``OrderedDict``) become the base type.
* Dictionary keys must be strings. ``{1: "a"}`` is refused rather than silently turned into
  ``{"1": "a"}``, which would make ``d[1]`` fail after the next reload.
* NaN and infinity (float or Decimal) are refused: JSON and Java have no common form for them.
* Dates: a ``Date`` value without an offset is UTC, a date-only value is midnight UTC, and the
  result is always an aware ``datetime``. Going out, naive datetimes are UTC, aware ones keep
  their own offset, a ``date`` is midnight UTC and a ``time`` is an ISO ``String`` (Camunda has no
  time type). Camunda's format has milliseconds, so microseconds are truncated in REST output
  only; the stored form keeps them, and keeps the zone name of ``zoneinfo`` datetimes.
* ``Json`` values going out are written with ``dumps``, so nested Decimals and dates appear as
  tagged objects; ``Json`` and ``Object`` values coming in are read with ``loads``, so they round trip.
* ``Object`` accepts only ``application/json`` (a missing format counts as JSON);
  ``java.math.BigDecimal`` becomes ``Decimal`` and ``java.math.BigInteger`` ``int``. Integers
  beyond 64 bits go out as ``Object``/``java.math.BigInteger`` because no Camunda number type holds them.
* ``String`` accepts only text (Camunda's JSON mapper would turn ``5`` into ``"5"``); ``Boolean``
  accepts ``true``/``false`` and those words as text; the number types accept digit strings but
  never cut off a fraction. A ``null`` value is ``None`` whatever the type.
* Variable names become script variables, so they must be Python identifiers that are not
  keywords and do not start with ``_`` (the sandbox refuses such names). ``check_storable``
  does not check names; ``check_name`` does.
"""

import json
import keyword
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from engine.exceptions import VariableError
from engine.varcodec import TAG, check_storable, decode, dumps, dumps_checked, loads

__all__ = [
    "BIG_DECIMAL",
    "BIG_INTEGER",
    "INTEGER_RANGE",
    "JSON_FORMAT",
    "LONG_RANGE",
    "SHORT_RANGE",
    "TAG",
    "Converter",
    "check_name",
    "check_storable",
    "dumps",
    "format_date",
    "from_typed",
    "loads",
    "parse_cli_assignment",
    "parse_date",
    "to_typed",
    "to_typed_map",
]

SHORT_RANGE = (-(2**15), 2**15 - 1)
INTEGER_RANGE = (-(2**31), 2**31 - 1)
LONG_RANGE = (-(2**63), 2**63 - 1)

BIG_DECIMAL = "java.math.BigDecimal"
BIG_INTEGER = "java.math.BigInteger"
JSON_FORMAT = "application/json"

_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


# --- names -------------------------------------------------------------------


def check_name(name: object) -> str:
    """Return ``name`` if it can be a variable (and script) name, else raise VariableError."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise VariableError(
            f"{name!r} is not a valid variable name: use letters, digits and _, not starting with a digit, "
            "and not a Python keyword",
            variable=str(name),
        )
    if name.startswith("_"):
        raise VariableError(
            f"variable name {name!r} starts with _, which scripts cannot read; rename it", variable=name
        )
    return name


# --- typed values in (REST and CLI) --------------------------------------------------------------


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(name: str, type_name: str, value: Any, expected: str) -> VariableError:
    return VariableError(
        f"variable `{name}`: {_show(value)} is not a valid {type_name} value ({expected})",
        variable=name,
        type=type_name,
    )


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _integer(bounds: tuple[int, int]) -> Callable[[str, str, Any, Mapping[str, Any]], int]:
    low, high = bounds

    def convert(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> int:
        number = _whole(value)
        if number is None or not low <= number <= high:
            raise _bad(name, type_name, value, f"a whole number from {low} to {high}")
        return number

    return convert


def _string(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> str:
    if not isinstance(value, str):
        raise _bad(name, type_name, value, "text in quotes")
    return value


def _boolean(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _bad(name, type_name, value, "true or false")


def _double(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> float:
    number: float | None = None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            number = float(value.strip())
    except OverflowError:
        number = None
    if number is None or not math.isfinite(number):
        raise _bad(name, type_name, value, "a finite number")
    return number


def parse_date(value: Any) -> datetime | None:
    """An aware datetime from Camunda's ``2026-11-22T10:00:00.000+0100`` or any ISO-8601 form, else None.

    No offset means UTC; a date alone means midnight UTC.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _date(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> datetime:
    parsed = parse_date(value)
    if parsed is None:
        raise _bad(name, type_name, value, "a date like 2026-11-22T10:00:00.000+0100")
    return parsed


def _json(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> Any:
    if isinstance(value, (dict, list)):
        return decode(value)
    if isinstance(value, str):
        try:
            return loads(value)
        except VariableError:
            pass
    raise _bad(name, type_name, value, 'JSON text such as "{\\"a\\": 1}"')


def _number_text(value: Any) -> str | None:
    """The text of a number sent as a JSON number, as text, or as JSON text of text (``"\\"12.30\\""``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith('"'):
        try:
            text = json.loads(text)
        except ValueError:
            return None
        if not isinstance(text, str):
            return None
        text = text.strip()
    return text if _NUMBER.fullmatch(text) else None


def _object(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> Any:
    data_format = info.get("serializationDataFormat")
    if data_format not in (None, JSON_FORMAT):
        raise VariableError(
            f"variable `{name}`: serializationDataFormat {data_format} is not supported; "
            f"send Object values as {JSON_FORMAT} or use type Json",
            variable=name,
            type=type_name,
        )
    class_name = info.get("objectTypeName")
    if class_name == BIG_DECIMAL:
        text = _number_text(value)
        if text is None:
            raise _bad(name, f"{type_name} ({class_name})", value, 'a decimal number such as "12.30"')
        return Decimal(text)
    if class_name == BIG_INTEGER:
        text = _number_text(value)
        if text is None or not _WHOLE.fullmatch(text):
            raise _bad(name, f"{type_name} ({class_name})", value, "a whole number")
        return int(text)
    return _json(name, type_name, value, info)


def _null(name: str, type_name: str, value: Any, info: Mapping[str, Any]) -> None:
    return None


Converter = Callable[[str, str, Any, Mapping[str, Any]], Any]

_CONVERTERS: dict[str, tuple[str, Converter]] = {
    "string": ("String", _string),
    "boolean": ("Boolean", _boolean),
    "short": ("Short", _integer(SHORT_RANGE)),
    "integer": ("Integer", _integer(INTEGER_RANGE)),
    "long": ("Long", _integer(LONG_RANGE)),
    "double": ("Double", _double),
    "date": ("Date", _date),
    "json": ("Json", _json),
    "object": ("Object", _object),
    "null": ("Null", _null),
}
_UNSUPPORTED = {"bytes": "Bytes", "file": "File", "xml": "Xml"}


def _from_typed_value(name: str, typed: Any) -> Any:
    if not isinstance(typed, Mapping):
        raise VariableError(
            f'variable `{name}` must be an object like {{"value": 1200, "type": "Long"}}, not {_show(typed)}',
            variable=name,
        )
    type_name, value, info = typed.get("type"), typed.get("value"), typed.get("valueInfo") or {}
    if not isinstance(info, Mapping):
        raise VariableError(f"variable `{name}`: valueInfo must be an object", variable=name)
    if type_name is None or type_name == "":
        return value  # untyped: the JSON value as it came
    if not isinstance(type_name, str):
        raise VariableError(f'variable `{name}`: the type must be a name such as "Long"', variable=name)
    key = type_name.lower()
    if key in _UNSUPPORTED:
        raise VariableError(
            f"variable `{name}`: type {_UNSUPPORTED[key]} is not supported, send the content as a String "
            "(for example base64-encoded) or store the file elsewhere and send its address",
            variable=name,
            type=_UNSUPPORTED[key],
        )
    if key not in _CONVERTERS:
        known = ", ".join(canonical for canonical, _ in _CONVERTERS.values())
        raise VariableError(
            f"variable `{name}`: unknown type {type_name!r}; use one of {known}",
            variable=name,
            type=type_name,
        )
    canonical, convert = _CONVERTERS[key]
    if value is None:
        return None
    return convert(name, canonical, value, info)


def from_typed(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Python values from Camunda REST typed variables; VariableError names the first bad one."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise VariableError('variables must be an object: {"name": {"value": ..., "type": ...}}')
    result: dict[str, Any] = {}
    for name, typed in variables.items():
        check_name(name)
        result[name] = check_storable(name, _from_typed_value(name, typed))
    return result


# --- typed values out ----------------------------------------------------------------------------


def format_date(value: datetime | date) -> str:
    """Camunda's ``yyyy-MM-dd'T'HH:mm:ss.SSSZ``; naive datetimes are UTC, dates are midnight UTC."""
    moment = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}{moment:%z}"


def _typed(type_name: str, value: Any, **info: str) -> dict[str, Any]:
    return {"type": type_name, "value": value, "valueInfo": info}


def to_typed(value: Any, *, name: str = "value") -> dict[str, Any]:
    """The Camunda REST form of one Python value (see the module docstring for each mapping).

    ``name`` starts the path in the VariableError raised for a value that cannot be stored.
    """
    value = check_storable(name, value)
    if value is None:
        return _typed("Null", None)
    if isinstance(value, bool):
        return _typed("Boolean", value)
    if isinstance(value, int):
        if INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
            return _typed("Integer", value)
        if LONG_RANGE[0] <= value <= LONG_RANGE[1]:
            return _typed("Long", value)
        return _typed("Object", str(value), objectTypeName=BIG_INTEGER, serializationDataFormat=JSON_FORMAT)
    if isinstance(value, float):
        return _typed("Double", value)
    if isinstance(value, str):
        return _typed("String", value)
    if isinstance(value, Decimal):
        return _typed("Object", str(value), objectTypeName=BIG_DECIMAL, serializationDataFormat=JSON_FORMAT)
    if isinstance(value, date):
        return _typed("Date", format_date(value))
    if isinstance(value, time):
        return _typed("String", value.isoformat())
    return _typed("Json", dumps_checked(value))


def to_typed_map(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``to_typed`` for every variable; errors name the variable."""
    return {name: to_typed(value, name=name) for name, value in variables.items()}


# --- the CLI's --var name=value ------------------------------------------------------------------


def parse_cli_assignment(text: str) -> tuple[str, Any]:
    """``name=value`` (JSON if it parses, else text) or ``name:Type=value`` with a Camunda type name.

    ``Decimal`` is accepted as a type here too (``price:Decimal=12.30``), as the CLI has no valueInfo.
    """
    target, sep, raw = text.partition("=")
    if not sep:
        raise VariableError(
            f"{text!r} is not an assignment; write name=value or name:Type=value, "
            "for example amount:Long=1200"
        )
    name, colon, type_name = (part.strip() for part in target.partition(":"))
    check_name(name)
    if not colon:
        try:
            value: Any = json.loads(raw, parse_constant=_no_constant)
        except ValueError:
            value = raw
        return name, check_storable(name, value)
    if type_name.lower() == "decimal":
        info = {"objectTypeName": BIG_DECIMAL, "serializationDataFormat": JSON_FORMAT}
        typed: dict[str, Any] = {"value": raw, "type": "Object", "valueInfo": info}
    elif type_name.lower() == "object" or not type_name:
        raise VariableError(
            f"{text!r}: give a type such as Long, Double, Date, Json or Decimal after the colon",
            variable=name,
        )
    else:
        typed = {"value": raw, "type": type_name}
    return name, from_typed({name: typed})[name]


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a storable number")
