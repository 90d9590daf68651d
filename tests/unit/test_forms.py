"""Camunda generated forms: deploy-time field checks and submission validation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pytest

from engine.exceptions import FormValidationError
from engine.forms import KNOWN_TYPES, FieldType, FormField, field_from_camunda, validate_submission

CHOICES = (("wait", "Wait for stock"), ("partial", "Ship partially"), ("cancel", "Cancel the order"))


def make(
    type_: str = "string",
    validations: Sequence[tuple[str, str | None]] = (),
    default: str | None = None,
    options: Sequence[tuple[str, str]] = (),
    field_id: str = "f",
    properties: dict[str, str] | None = None,
) -> FormField:
    return field_from_camunda(field_id, "Label", type_, default, validations, properties or {}, options)


def errors_of(fields: Sequence[FormField], submitted: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(FormValidationError) as caught:
        validate_submission(fields, submitted, **kwargs)
    return caught.value.field_errors


def value_of(form_field: FormField, raw: Any) -> Any:
    return validate_submission([form_field], {form_field.id: raw})[form_field.id]


# --- building fields at deploy time --------------------------------------------------------------


def test_known_types_are_camundas_five() -> None:
    assert {"string", "long", "boolean", "date", "enum"} == KNOWN_TYPES
    assert FieldType("long") is FieldType.LONG


def test_every_camunda_constraint_is_mapped() -> None:
    text = make("string", [("required", None), ("readonly", "true"), ("minlength", "2"), ("maxlength", "50")])
    number = make("long", [("min", "10"), ("max", " 500 ")])
    assert (text.required, text.readonly, text.minlength, text.maxlength) == (True, True, 2, 50)
    assert (number.min, number.max, number.required, number.readonly) == ("10", "500", False, False)


def test_field_keeps_label_properties_and_options() -> None:
    form_field = field_from_camunda(
        "shortage", "What now?", "enum", "wait", [], {"hint": "pick one"}, [("wait", "Wait"), ("cancel", "")]
    )
    assert form_field.label == "What now?"
    assert form_field.properties == {"hint": "pick one"}
    assert form_field.options == (("wait", "Wait"), ("cancel", "cancel"))  # a missing name shows the id
    assert form_field.option_ids == ("wait", "cancel")


def test_unknown_constraint_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown validation constraint `pattern`"):
        make("string", [("pattern", "[a-z]+")])


def test_custom_java_validator_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"`validator`.*custom Java validators"):
        make("string", [("validator", "com.acme.Check")])


@pytest.mark.parametrize(
    ("type_", "validations", "default", "options", "message"),
    [
        ("color", [], None, [], "unknown type `color`"),
        ("string", [("required", None), ("required", None)], None, [], "given twice"),
        ("string", [("required", "false")], None, [], "takes no config"),
        ("string", [("min", "3")], None, [], "`min` applies to long and date fields"),
        ("boolean", [("max", "1")], None, [], "`max` applies to long and date fields"),
        ("long", [("minlength", "3")], None, [], "`minlength` applies to string fields"),
        ("long", [("min", "ten")], None, [], "config of `min`.*must be a whole number"),
        ("long", [("min", None)], None, [], "config of `min`"),
        ("date", [("max", "soon")], None, [], "config of `max`.*must be a date"),
        ("string", [("maxlength", "-1")], None, [], "config of `maxlength`.*number of characters"),
        ("long", [("min", "10"), ("max", "5")], None, [], "`min` \\(10\\) is greater than `max` \\(5\\)"),
        ("date", [("min", "2026-12-01"), ("max", "01/11/2026")], None, [], "greater than `max`"),
        ("string", [("minlength", "5"), ("maxlength", "2")], None, [], "`minlength` \\(5\\) is greater"),
        ("enum", [], None, [], "needs at least one camunda:value"),
        ("enum", [], None, [("a", "A"), ("a", "B")], "same id"),
        ("enum", [], None, [("", "A")], "needs an id"),
        ("string", [], None, [("a", "A")], "only enum fields"),
        ("string", [], "${initiator}", [], "expressions in defaultValue are not supported"),
        ("long", [], "lots", [], "default value 'lots' must be a whole number"),
        ("long", [("max", "5")], "7", [], "default value '7' must be at most 5"),
        ("enum", [], "maybe", list(CHOICES), "must be one of: wait, partial, cancel"),
        ("boolean", [], "yes", [], "must be true or false"),
        ("date", [], "2026-02-30", [], "not a date in the calendar"),
        ("string", [("maxlength", "3")], "toolong", [], "must be at most 3 characters"),
    ],
)
def test_bad_field_definitions_are_deploy_problems(
    type_: str,
    validations: list[tuple[str, str | None]],
    default: str | None,
    options: list[tuple[str, str]],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        make(type_, validations, default, options)


@pytest.mark.parametrize("field_id", ["", "order-id", "1st", "class", "_secret"])
def test_field_ids_must_be_usable_variable_names(field_id: str) -> None:
    with pytest.raises(ValueError, match="must be a valid name"):
        make(field_id=field_id)


def test_empty_default_counts_as_no_default() -> None:
    assert make("long", default="").default is None
    assert make("long", default="").typed_default() is None


def test_dict_round_trip_is_json_safe_and_exact() -> None:
    form_field = make(
        "string",
        [("required", None), ("minlength", "1"), ("maxlength", "9")],
        default="x",
        properties={"size": "small"},
    )
    enum = make("enum", [("readonly", None)], default="cancel", options=CHOICES)
    dated = make("date", [("min", "2026-01-01"), ("max", "31/12/2026")], default="2026-06-01")
    for original in (form_field, enum, dated):
        stored = json.loads(json.dumps(original.to_dict()))
        assert FormField.from_dict(stored) == original
    assert enum.to_dict()["options"][0] == {"id": "wait", "name": "Wait for stock"}
    assert enum.to_dict()["type"] == "enum"


def test_from_dict_accepts_option_pairs_and_missing_keys() -> None:
    restored = FormField.from_dict({"id": "x", "type": "enum", "options": [["a", "A"]]})
    assert restored.options == (("a", "A"),)
    assert restored.label is None and not restored.required and restored.properties == {}


@pytest.mark.parametrize(
    ("type_", "default", "options", "expected"),
    [
        ("string", "hello", (), "hello"),
        ("long", "42", (), 42),
        ("long", "-7", (), -7),
        ("boolean", "true", (), True),
        ("boolean", "false", (), False),
        ("date", "2026-11-22", (), date(2026, 11, 22)),
        ("date", "22/11/2026", (), date(2026, 11, 22)),
        ("enum", "partial", CHOICES, "partial"),
        ("string", None, (), None),
    ],
)
def test_typed_default_is_the_python_value(
    type_: str, default: str | None, options: Sequence[tuple[str, str]], expected: Any
) -> None:
    typed = make(type_, default=default, options=options).typed_default()
    assert typed == expected
    assert type(typed) is type(expected)


# --- coercion of submitted values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(42, 42), ("42", 42), (" -5 ", -5), ("+3", 3), (12.0, 12), (2**63 - 1, 2**63 - 1), (-(2**63), -(2**63))],
)
def test_long_accepts_integers_and_digit_strings(raw: Any, expected: int) -> None:
    value = value_of(make("long"), raw)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["abc", "4.5", 4.5, True, False, "1_000", "١٢", [1], "1e3"])
def test_long_refuses_what_is_not_a_whole_number(raw: Any) -> None:
    assert errors_of([make("long")], {"f": raw}) == {"f": "must be a whole number"}


@pytest.mark.parametrize("raw", [2**63, -(2**63) - 1, str(2**64)])
def test_long_refuses_numbers_outside_64_bits(raw: Any) -> None:
    message = errors_of([make("long")], {"f": raw})["f"]
    assert message == "must be a whole number from -9223372036854775808 to 9223372036854775807"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("on", True),
        ("off", False),
        ("1", True),
        ("0", False),
    ],
)
def test_boolean_accepts_bools_and_form_strings(raw: Any, expected: bool) -> None:
    assert value_of(make("boolean"), raw) is expected


@pytest.mark.parametrize("raw", ["yes", "no", 1, 0, "2"])
def test_boolean_refuses_anything_else(raw: Any) -> None:
    assert errors_of([make("boolean")], {"f": raw}) == {"f": "must be true or false"}


@pytest.mark.parametrize(
    "raw", [date(2026, 11, 22), "2026-11-22", "22/11/2026", "2/3/2026", datetime(2026, 11, 22)]
)
def test_date_accepts_dates_iso_and_camunda_form_format(raw: Any) -> None:
    value = value_of(make("date"), raw)
    assert type(value) is date
    assert value in (date(2026, 11, 22), date(2026, 3, 2))


def test_day_comes_before_month_in_camunda_format() -> None:
    assert value_of(make("date"), "02/03/2026") == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("tomorrow", "must be a date (YYYY-MM-DD or DD/MM/YYYY)"),
        ("2026/11/22", "must be a date (YYYY-MM-DD or DD/MM/YYYY)"),
        ("31/02/2026", "'31/02/2026' is not a date in the calendar"),
        (datetime(2026, 11, 22, 10, 30), "must be a date without a time of day"),
        (20261122, "must be a date (YYYY-MM-DD or DD/MM/YYYY)"),
    ],
)
def test_date_refuses_what_is_not_a_calendar_date(raw: Any, message: str) -> None:
    assert errors_of([make("date")], {"f": raw}) == {"f": message}


def test_enum_accepts_an_option_id_only() -> None:
    choice = make("enum", options=CHOICES)
    assert value_of(choice, "partial") == "partial"
    for raw in ("Ship partially", "WAIT", 1):
        assert errors_of([choice], {"f": raw}) == {"f": "must be one of: wait, partial, cancel"}


def test_string_accepts_text_only_and_keeps_spaces() -> None:
    assert value_of(make("string"), "  padded ") == "  padded "
    assert errors_of([make("string")], {"f": 5}) == {"f": "must be text"}


# --- constraints ---------------------------------------------------------------------------------


@pytest.mark.parametrize("absent", [{}, {"f": None}, {"f": ""}])
def test_required_field_must_be_sent(absent: dict[str, Any]) -> None:
    assert errors_of([make("string", [("required", None)])], absent) == {"f": "is required"}


def test_blank_text_counts_as_absent_for_non_string_fields() -> None:
    assert errors_of([make("long", [("required", None)])], {"f": "   "}) == {"f": "is required"}
    assert validate_submission([make("string", [("required", None)])], {"f": "  "}) == {"f": "  "}


def test_default_does_not_satisfy_required_as_in_camunda() -> None:
    form_field = make("long", [("required", None)], default="5")
    assert errors_of([form_field], {}) == {"f": "is required"}


def test_current_value_satisfies_required_and_is_left_alone() -> None:
    form_field = make("long", [("required", None)], default="5")
    assert validate_submission([form_field], {}, {"f": 9}) == {}


def test_absent_field_gets_its_default_only_without_a_current_value() -> None:
    form_field = make("long", default="5")
    assert validate_submission([form_field], {}) == {"f": 5}
    assert validate_submission([form_field], {"f": ""}, {}) == {"f": 5}
    assert validate_submission([form_field], {}, {"f": 9}) == {}
    assert validate_submission([make("long")], {}) == {}


def test_required_boolean_is_satisfied_by_false() -> None:
    assert validate_submission([make("boolean", [("required", None)])], {"f": False}) == {"f": False}


@pytest.mark.parametrize(
    ("raw", "error"),
    [(9, "must be at least 10"), (51, "must be at most 50"), (10, None), (50, None), ("30", None)],
)
def test_min_and_max_bound_long_fields(raw: Any, error: str | None) -> None:
    form_field = make("long", [("min", "10"), ("max", "50")])
    if error is None:
        assert validate_submission([form_field], {"f": raw}) == {"f": int(raw)}
    else:
        assert errors_of([form_field], {"f": raw}) == {"f": error}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("2025-12-31", "must be on or after 2026-01-01"),
        ("01/01/2027", "must be on or before 2026-12-31"),
        ("2026-01-01", None),
        ("31/12/2026", None),
    ],
)
def test_min_and_max_bound_date_fields(raw: str, error: str | None) -> None:
    form_field = make("date", [("min", "2026-01-01"), ("max", "31/12/2026")])
    if error is None:
        assert isinstance(validate_submission([form_field], {"f": raw})["f"], date)
    else:
        assert errors_of([form_field], {"f": raw}) == {"f": error}


def test_minlength_and_maxlength_bound_string_fields() -> None:
    form_field = make("string", [("minlength", "3"), ("maxlength", "5")])
    assert errors_of([form_field], {"f": "ab"}) == {"f": "must be at least 3 characters"}
    assert errors_of([form_field], {"f": "abcdef"}) == {"f": "must be at most 5 characters"}
    assert validate_submission([form_field], {"f": "abc"}) == {"f": "abc"}
    assert validate_submission([form_field], {"f": "äöüßé"}) == {"f": "äöüßé"}  # characters, not bytes


def test_length_limits_do_not_apply_to_an_absent_optional_field() -> None:
    assert validate_submission([make("string", [("minlength", "3")])], {"f": ""}) == {}


# --- read-only fields ----------------------------------------------------------------------------


def test_readonly_field_sent_back_unchanged_is_accepted_and_not_written() -> None:
    form_field = make("long", [("readonly", None)])
    assert validate_submission([form_field], {"f": "1200"}, {"f": 1200}) == {}
    assert validate_submission([form_field], {}, {"f": 1200}) == {}


def test_readonly_field_with_a_different_value_is_refused() -> None:
    form_field = make("long", [("readonly", None)])
    assert errors_of([form_field], {"f": 1300}, current={"f": 1200}) == {"f": "is read-only"}
    assert errors_of([form_field], {"f": "abc"}, current={"f": 1200}) == {"f": "is read-only"}


def test_readonly_field_without_current_value_compares_with_its_default() -> None:
    form_field = make("string", [("readonly", None)], default="EUR")
    assert validate_submission([form_field], {"f": "EUR"}) == {"f": "EUR"}
    assert errors_of([form_field], {"f": "USD"}) == {"f": "is read-only"}
    assert errors_of([make("string", [("readonly", None)])], {"f": "anything"}) == {"f": "is read-only"}


def test_readonly_date_compares_with_a_stored_datetime_by_day() -> None:
    form_field = make("date", [("readonly", None)])
    assert validate_submission([form_field], {"f": "22/11/2026"}, {"f": datetime(2026, 11, 22)}) == {}


def test_readonly_boolean_is_not_confused_with_numbers() -> None:
    form_field = make("boolean", [("readonly", None)])
    assert validate_submission([form_field], {"f": "true"}, {"f": True}) == {}
    assert errors_of([form_field], {"f": "true"}, current={"f": 1}) == {"f": "is read-only"}


# --- the submission as a whole -------------------------------------------------------------------


def test_every_field_error_is_reported_at_once() -> None:
    fields = [
        make("long", [("min", "10")], field_id="amount"),
        make("enum", [("required", None)], options=CHOICES, field_id="shortage"),
        make("string", [("maxlength", "50")], field_id="note"),
        make("date", field_id="due"),
        make("string", field_id="fine"),
    ]
    submitted = {"amount": "x", "note": "n" * 51, "due": "someday", "fine": "ok"}
    with pytest.raises(FormValidationError) as caught:
        validate_submission(fields, submitted)
    assert caught.value.field_errors == {
        "amount": "must be a whole number",
        "shortage": "is required",
        "note": "must be at most 50 characters",
        "due": "must be a date (YYYY-MM-DD or DD/MM/YYYY)",
    }
    assert "amount: must be a whole number" in str(caught.value)
    assert submitted == {"amount": "x", "note": "n" * 51, "due": "someday", "fine": "ok"}  # untouched


def test_values_are_coerced_and_other_variables_pass_through_unchanged() -> None:
    fields = [
        make("long", field_id="amount"),
        make("boolean", field_id="urgent"),
        make("date", field_id="due"),
    ]
    extra = {"nested": [1, {"a": 2}]}
    submitted = {"amount": "1200", "urgent": "on", "due": "22/11/2026", "comment": "hi", "lead": extra}
    result = validate_submission(fields, submitted)
    expected = {"amount": 1200, "urgent": True, "due": date(2026, 11, 22), "comment": "hi", "lead": extra}
    assert result == expected
    assert result["lead"] is extra


def test_unticked_checkbox_is_false_only_when_the_caller_says_so() -> None:
    fields = [make("boolean", field_id="urgent"), make("boolean", [("readonly", None)], field_id="locked")]
    assert validate_submission(fields, {}) == {}
    assert validate_submission(fields, {}, absent_booleans_false=True) == {"urgent": False}
    assert validate_submission(fields, {"urgent": ""}, absent_booleans_false=True) == {"urgent": False}


def test_unticked_required_checkbox_counts_as_false() -> None:
    required = make("boolean", [("required", None)])
    assert errors_of([required], {}) == {"f": "is required"}
    assert validate_submission([required], {}, absent_booleans_false=True) == {"f": False}


def test_no_fields_means_everything_passes_through() -> None:
    assert validate_submission([], {"a": 1}) == {"a": 1}
