"""Camunda 7 generated task forms (``camunda:formData``): field definitions and submission checks.

A ``FormField`` is built once at deploy time by ``field_from_camunda`` (anything wrong with it is
a deploy problem, never a runtime surprise) and stored as JSON with ``to_dict``. At completion
time ``validate_submission`` coerces what a person or client sent and reports every field's
error at once.

Behaviour, following Camunda's engine where it is defined and saying so where it is not:

* Absent means not sent, ``None`` or ``""`` (for non-string fields also blanks).
* ``required`` is satisfied by a submitted value or by the variable's current value, but not by
  the field's default: the default only pre-fills the form (Camunda's ``RequiredValidator``).
  ``False`` satisfies a required boolean.
* An absent field leaves the current variable alone; when the variable has no value yet the
  default is written. (Camunda writes the default even over an existing value; a client sending
  only some fields should not reset the others, so Flowdesk does not.)
* ``readonly``: Camunda refuses any submitted value. Rendered forms send read-only fields back,
  so Flowdesk accepts a value equal to the current value (or, without one, the default) and
  refuses any other.
* ``min``/``max`` apply to long (numbers) and date fields (dates, written ``YYYY-MM-DD`` or
  ``DD/MM/YYYY``); ``minlength``/``maxlength`` to string fields. Camunda checks numbers only;
  a constraint on a field it cannot apply to is refused at deploy time, as is ``validator``
  (custom Java validators), a ``required``/``readonly`` config other than ``true``, a default
  that breaks the field's own constraints, and an expression (``${...}``) as default value.
* Dates: the ISO form and Camunda's form format ``dd/MM/yyyy`` are accepted, and a ``datetime``
  at midnight; the result is a ``datetime.date``.
* Booleans: ``true``/``false``/``on``/``off``/``1``/``0`` as text. A checkbox that is not ticked
  is not sent at all; pass ``absent_booleans_false=True`` for HTML form posts so that counts as
  ``False`` (read-only checkboxes are excepted: disabled inputs are never sent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engine.exceptions import FormValidationError, VariableError
from engine.variables import LONG_RANGE, check_name


class FieldType(StrEnum):
    STRING = "string"
    LONG = "long"
    BOOLEAN = "boolean"
    DATE = "date"
    ENUM = "enum"


KNOWN_TYPES = frozenset(kind.value for kind in FieldType)
CONSTRAINTS = ("required", "readonly", "min", "max", "minlength", "maxlength")

_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_FORM_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})", re.ASCII)
_TRUE = frozenset({"true", "on", "1"})
_FALSE = frozenset({"false", "off", "0"})


class _Invalid(Exception):
    """One field's value is not acceptable; the argument is the message shown next to the field."""


@dataclass(frozen=True)
class FormField:
    """One ``camunda:formField``: its type, default as written in the XML, and constraints."""

    id: str
    label: str | None
    type: FieldType
    default: str | None = None
    required: bool = False
    readonly: bool = False
    min: str | None = None
    max: str | None = None
    minlength: int | None = None
    maxlength: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type.value,
            "default": self.default,
            "required": self.required,
            "readonly": self.readonly,
            "min": self.min,
            "max": self.max,
            "minlength": self.minlength,
            "maxlength": self.maxlength,
            "options": [{"id": option_id, "name": name} for option_id, name in self.options],
            "properties": dict(self.properties),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormField:
        options = tuple(
            (str(o["id"]), str(o["name"])) if isinstance(o, Mapping) else (str(o[0]), str(o[1]))
            for o in data.get("options") or ()
        )
        return cls(
            id=data["id"],
            label=data.get("label"),
            type=FieldType(data.get("type") or FieldType.STRING),
            default=data.get("default"),
            required=bool(data.get("required", False)),
            readonly=bool(data.get("readonly", False)),
            min=data.get("min"),
            max=data.get("max"),
            minlength=data.get("minlength"),
            maxlength=data.get("maxlength"),
            options=options,
            properties=dict(data.get("properties") or {}),
        )

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(option_id for option_id, _ in self.options)

    def typed_default(self) -> Any:
        """The default as a Python value (int, bool, date or str), or None without one."""
        if self.default is None:
            return None
        try:
            return _coerce(self, self.default)
        except _Invalid as err:
            raise ValueError(f"form field `{self.id}`: default value {self.default!r} {err}") from err


# --- coercion ------------------------------------------------------------------------------------


def _to_long(value: Any) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        number = int(value)
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None:
        raise _Invalid("must be a whole number")
    low, high = LONG_RANGE
    if not low <= number <= high:
        raise _Invalid(f"must be a whole number from {low} to {high}")
    return number


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid("must be true or false")


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise _Invalid("must be a date without a time of day")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DATE.fullmatch(text):
                return date.fromisoformat(text)
            found = _FORM_DATE.fullmatch(text)
            if found:
                day, month, year = (int(part) for part in found.groups())
                return date(year, month, day)
        except ValueError:
            raise _Invalid(f"{text!r} is not a date in the calendar") from None
    raise _Invalid("must be a date (YYYY-MM-DD or DD/MM/YYYY)")


def _coerce(form_field: FormField, value: Any) -> Any:
    """The Python value of a present (non-empty) submitted value, or _Invalid."""
    kind = form_field.type
    if kind is FieldType.LONG:
        return _to_long(value)
    if kind is FieldType.BOOLEAN:
        return _to_boolean(value)
    if kind is FieldType.DATE:
        return _to_date(value)
    if kind is FieldType.ENUM:
        if isinstance(value, str) and value in form_field.option_ids:
            return value
        raise _Invalid(f"must be one of: {', '.join(form_field.option_ids)}")
    if not isinstance(value, str):
        raise _Invalid("must be text")
    return value


def _check_limits(form_field: FormField, value: Any) -> None:
    """Raise _Invalid if a coerced value breaks min/max/minlength/maxlength."""
    if form_field.type is FieldType.LONG:
        if form_field.min is not None and value < _to_long(form_field.min):
            raise _Invalid(f"must be at least {_to_long(form_field.min)}")
        if form_field.max is not None and value > _to_long(form_field.max):
            raise _Invalid(f"must be at most {_to_long(form_field.max)}")
    elif form_field.type is FieldType.DATE:
        if form_field.min is not None and value < _to_date(form_field.min):
            raise _Invalid(f"must be on or after {_to_date(form_field.min).isoformat()}")
        if form_field.max is not None and value > _to_date(form_field.max):
            raise _Invalid(f"must be on or before {_to_date(form_field.max).isoformat()}")
    elif form_field.type is FieldType.STRING:
        if form_field.minlength is not None and len(value) < form_field.minlength:
            raise _Invalid(f"must be at least {form_field.minlength} characters")
        if form_field.maxlength is not None and len(value) > form_field.maxlength:
            raise _Invalid(f"must be at most {form_field.maxlength} characters")


def _absent(form_field: FormField, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value == "" if form_field.type is FieldType.STRING else not value.strip()
    return False


# --- deploy time ---------------------------------------------------------------------------------


def _constraints(kind: FieldType, validations: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, config in validations:
        if name not in CONSTRAINTS:
            hint = " (custom Java validators cannot run in Flowdesk)" if name == "validator" else ""
            raise ValueError(f"unknown validation constraint `{name}`{hint}; use {', '.join(CONSTRAINTS)}")
        if name in found:
            raise ValueError(f"the constraint `{name}` is given twice; keep one")
        text = (config or "").strip()
        if name in ("required", "readonly"):
            if text not in ("", "true"):
                raise ValueError(
                    f"the constraint `{name}` takes no config (found {config!r}); "
                    "remove the constraint to switch it off"
                )
            found[name] = True
        elif name in ("min", "max"):
            if kind not in (FieldType.LONG, FieldType.DATE):
                raise ValueError(f"`{name}` applies to long and date fields, not to {kind} fields")
            try:
                _to_long(text) if kind is FieldType.LONG else _to_date(text)
            except _Invalid as err:
                raise ValueError(f"the config of `{name}` ({config!r}) {err}") from None
            found[name] = text
        else:
            if kind is not FieldType.STRING:
                raise ValueError(f"`{name}` applies to string fields, not to {kind} fields")
            if not text.isascii() or not text.isdigit():
                raise ValueError(f"the config of `{name}` ({config!r}) must be a number of characters")
            found[name] = int(text)
    return found


def field_from_camunda(
    field_id: str,
    label: str | None,
    type_: str,
    default_value: str | None,
    validations: Sequence[tuple[str, str | None]],
    properties: Mapping[str, str],
    options: Sequence[tuple[str, str]],
) -> FormField:
    """Build a FormField from ``camunda:formField`` parts; ValueError says what is wrong with it."""
    try:
        check_name(field_id)
    except VariableError as err:
        message = f"the id becomes a process variable, so it must be a valid name: {err.message}"
        raise ValueError(message) from None
    if type_ not in KNOWN_TYPES:
        raise ValueError(f"unknown type `{type_}`; use one of {', '.join(kind.value for kind in FieldType)}")
    kind = FieldType(type_)
    constraints = _constraints(kind, validations)
    option_ids = [option_id for option_id, _ in options]
    if kind is FieldType.ENUM:
        if not options:
            raise ValueError("an enum field needs at least one camunda:value")
        if any(not option_id for option_id in option_ids):
            raise ValueError("every camunda:value of an enum field needs an id")
        if len(set(option_ids)) != len(option_ids):
            raise ValueError("two camunda:value elements have the same id")
    elif options:
        raise ValueError(f"only enum fields have camunda:value options, not {kind} fields")
    if default_value is not None and ("${" in default_value or "#{" in default_value):
        raise ValueError("expressions in defaultValue are not supported; write a literal value")
    form_field = FormField(
        id=field_id,
        label=label,
        type=kind,
        default=default_value or None,
        options=tuple((option_id, name or option_id) for option_id, name in options),
        properties=dict(properties),
        **constraints,
    )
    if form_field.min is not None and form_field.max is not None:
        low = _coerce(form_field, form_field.min)
        if low > _coerce(form_field, form_field.max):
            raise ValueError(f"`min` ({form_field.min}) is greater than `max` ({form_field.max})")
    shortest, longest = form_field.minlength, form_field.maxlength
    if shortest is not None and longest is not None and shortest > longest:
        raise ValueError(f"`minlength` ({shortest}) is greater than `maxlength` ({longest})")
    if form_field.default is not None:
        try:
            _check_limits(form_field, _coerce(form_field, form_field.default))
        except _Invalid as err:
            raise ValueError(f"the default value {form_field.default!r} {err}") from None
    return form_field


# --- submit time ---------------------------------------------------------------------------------


def _same(form_field: FormField, raw: Any, expected: Any) -> bool:
    """Whether a value sent for a read-only field is the value it already has."""
    try:
        value = _coerce(form_field, raw)
    except _Invalid:
        return False
    with suppress(_Invalid):
        expected = _coerce(form_field, expected)  # e.g. a stored datetime for a date field
    return bool(type(value) is type(expected) and value == expected)


def validate_submission(
    fields: Sequence[FormField],
    submitted: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    *,
    absent_booleans_false: bool = False,
) -> dict[str, Any]:
    """The variables to write for a form submission, or FormValidationError listing every bad field.

    Form fields come back coerced (only those that change or get their default); other submitted
    variables pass through unchanged. On error nothing is returned.
    """
    current = current or {}
    by_id = {form_field.id: form_field for form_field in fields}
    result = {name: value for name, value in submitted.items() if name not in by_id}
    errors: dict[str, str] = {}
    for form_field in fields:
        raw = submitted.get(form_field.id)
        existing = current.get(form_field.id)
        if (
            absent_booleans_false
            and form_field.type is FieldType.BOOLEAN
            and not form_field.readonly
            and _absent(form_field, raw)
        ):
            raw = False
        if _absent(form_field, raw):
            if existing is None and form_field.required:
                errors[form_field.id] = "is required"
            elif existing is None and form_field.default is not None:
                result[form_field.id] = form_field.typed_default()
            continue
        if form_field.readonly:
            expected = existing if existing is not None else form_field.typed_default()
            if expected is None or not _same(form_field, raw, expected):
                errors[form_field.id] = "is read-only"
            elif existing is None:
                result[form_field.id] = form_field.typed_default()
            continue  # sent back unchanged
        try:
            value = _coerce(form_field, raw)
            _check_limits(form_field, value)
        except _Invalid as err:
            errors[form_field.id] = str(err)
            continue
        result[form_field.id] = value
    if errors:
        raise FormValidationError(errors)
    return result
