"""Generated forms (``camunda:formData``): the controls to render and the values a post sends.

The engine validates (``engine.forms.validate_submission``); this module only turns fields into
controls and a posted form back into the raw values the engine expects, keeping what the person
typed so that a form with one bad value comes back with every other value still filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.forms import FieldType, FormField


@dataclass(frozen=True)
class Control:
    """One form field as the template draws it."""

    field: FormField
    value: str
    error: str | None = None

    @property
    def id(self) -> str:
        return self.field.id

    @property
    def label(self) -> str:
        return self.field.label or self.field.id

    @property
    def kind(self) -> str:
        """Which control: text, number, date, select, radios (a boolean one must answer), checkbox."""
        kind = self.field.type
        if kind is FieldType.BOOLEAN:
            return "radios" if self.field.required or self.field.readonly else "checkbox"
        return {FieldType.LONG: "number", FieldType.DATE: "date", FieldType.ENUM: "select"}.get(kind, "text")

    @property
    def hint(self) -> str | None:
        """The constraints in words, shown under the field and read out with it."""
        f = self.field
        parts = [
            _between(f.min, f.max, ""),
            _between(f.minlength, f.maxlength, " characters"),
            "YYYY-MM-DD" if f.type is FieldType.DATE else None,
        ]
        return ", ".join(p for p in parts if p) or None


def _between(low: object, high: object, unit: str) -> str | None:
    if low is not None and high is not None:
        return f"from {low} to {high}{unit}"
    if low is not None:
        return f"at least {low}{unit}"
    if high is not None:
        return f"at most {high}{unit}"
    return None


def as_text(value: Any) -> str:
    """A stored value as the text an input holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def controls(
    fields: Sequence[FormField], values: Mapping[str, Any], errors: Mapping[str, str] | None = None
) -> list[Control]:
    errors = errors or {}
    return [Control(f, as_text(values.get(f.id)), errors.get(f.id)) for f in fields]


def initial_values(fields: Sequence[FormField]) -> dict[str, Any]:
    """A fresh form: the field defaults."""
    return {f.id: f.typed_default() for f in fields}


def submitted(fields: Sequence[FormField], form: MultiDict[str, str]) -> dict[str, str]:
    """The raw values of a posted form, by field id, for the engine to validate.

    An unticked checkbox is not sent by browsers: it means "no" here. (Required booleans are
    Yes/No radios instead, so that not answering is an error rather than a silent "no".)
    """
    values: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.id)
        if raw is None and f.type is FieldType.BOOLEAN and not f.required and not f.readonly:
            raw = "false"
        if raw is not None:
            values[f.id] = raw
    return values
