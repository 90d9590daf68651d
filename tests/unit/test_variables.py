"""Variables: Camunda typed values in and out, the stored JSON codec, and CLI assignments."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.exceptions import VariableError
from engine.variables import (
    check_name,
    check_storable,
    dumps,
    from_typed,
    loads,
    parse_cli_assignment,
    to_typed,
    to_typed_map,
)

PLUS_ONE = timezone(timedelta(hours=1))
BIG_DECIMAL = {"objectTypeName": "java.math.BigDecimal", "serializationDataFormat": "application/json"}
BIG_INTEGER = {"objectTypeName": "java.math.BigInteger", "serializationDataFormat": "application/json"}


def one(typed: dict[str, Any]) -> Any:
    return from_typed({"v": typed})["v"]


def same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (1 == True and date == datetime do not count)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, (datetime, time)):
        return left == right and left.utcoffset() == right.utcoffset() and str(left) == str(right)
    if isinstance(left, Decimal):
        return str(left) == str(right)
    return bool(left == right)


# --- from_typed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ({"value": "hello", "type": "String"}, "hello"),
        ({"value": "", "type": "String"}, ""),
        ({"value": True, "type": "Boolean"}, True),
        ({"value": "false", "type": "Boolean"}, False),
        ({"value": 12, "type": "Short"}, 12),
        ({"value": -(2**15), "type": "Short"}, -(2**15)),
        ({"value": 2**31 - 1, "type": "Integer"}, 2**31 - 1),
        ({"value": 1200, "type": "Long"}, 1200),
        ({"value": "1200", "type": "Long"}, 1200),
        ({"value": 1200.0, "type": "Long"}, 1200),
        ({"value": 2**63 - 1, "type": "Long"}, 2**63 - 1),
        ({"value": 1.5, "type": "Double"}, 1.5),
        ({"value": 2, "type": "Double"}, 2.0),
        ({"value": "-1.5e3", "type": "Double"}, -1500.0),
        ({"value": '{"a": 1}', "type": "Json"}, {"a": 1}),
        ({"value": "[1, 2]", "type": "Json"}, [1, 2]),
        ({"value": {"a": [1]}, "type": "Json"}, {"a": [1]}),
        ({"value": "12.30", "type": "Object", "valueInfo": BIG_DECIMAL}, Decimal("12.30")),
        ({"value": '"12.30"', "type": "Object", "valueInfo": BIG_DECIMAL}, Decimal("12.30")),
        ({"value": 7, "type": "Object", "valueInfo": BIG_DECIMAL}, Decimal("7")),
        (
            {
                "value": "123456789012345678901234567890",
                "type": "Object",
                "valueInfo": {"objectTypeName": "java.math.BigInteger"},
            },
            123456789012345678901234567890,
        ),
        (
            {
                "value": '{"name": "Acme"}',
                "type": "Object",
                "valueInfo": {
                    "objectTypeName": "com.acme.Lead",
                    "serializationDataFormat": "application/json",
                },
            },
            {"name": "Acme"},
        ),
        ({"value": None, "type": "Null"}, None),
        ({"value": "ignored", "type": "Null"}, None),
        ({"value": None, "type": "Long"}, None),
    ],
)
def test_each_camunda_type_becomes_its_python_value(typed: dict[str, Any], expected: Any) -> None:
    assert same(one(typed), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T10:00:00.000+0100", datetime(2026, 11, 22, 10, tzinfo=PLUS_ONE)),
        ("2026-11-22T10:00:00.250+01:00", datetime(2026, 11, 22, 10, 0, 0, 250000, tzinfo=PLUS_ONE)),
        ("2026-11-22T09:00:00Z", datetime(2026, 11, 22, 9, tzinfo=UTC)),
        ("2026-11-22T09:00:00", datetime(2026, 11, 22, 9, tzinfo=UTC)),
        ("2026-11-22", datetime(2026, 11, 22, tzinfo=UTC)),
    ],
)
def test_dates_are_aware_datetimes_and_utc_when_no_offset_is_given(text: str, expected: datetime) -> None:
    value = one({"value": text, "type": "Date"})
    assert value == expected
    assert value.utcoffset() == expected.utcoffset()


def test_type_names_are_case_insensitive() -> None:
    for name in ("long", "LONG", "Long", "lOnG"):
        assert one({"value": "5", "type": name}) == 5
    assert one({"value": '{"a": 1}', "type": "json"}) == {"a": 1}


@pytest.mark.parametrize("value", ["text", 5, 1.5, True, None, {"a": [1, {"b": None}]}, [1, "x"]])
def test_untyped_values_are_taken_as_json_gives_them(value: Any) -> None:
    assert same(one({"value": value}), value)
    assert same(one({"value": value, "type": ""}), value)


@pytest.mark.parametrize(
    ("typed", "type_name", "shown"),
    [
        ({"value": "abc", "type": "Long"}, "Long", '"abc"'),
        ({"value": 1.5, "type": "Long"}, "Long", "1.5"),
        ({"value": True, "type": "Long"}, "Long", "true"),
        ({"value": 2**63, "type": "Long"}, "Long", str(2**63)),
        ({"value": 2**40, "type": "Integer"}, "Integer", str(2**40)),
        ({"value": 40000, "type": "Short"}, "Short", "40000"),
        ({"value": "yes", "type": "Boolean"}, "Boolean", '"yes"'),
        ({"value": 1, "type": "Boolean"}, "Boolean", "1"),
        ({"value": "abc", "type": "Double"}, "Double", '"abc"'),
        ({"value": "1_000", "type": "Double"}, "Double", '"1_000"'),
        ({"value": False, "type": "Double"}, "Double", "false"),
        ({"value": 5, "type": "String"}, "String", "5"),
        ({"value": "next week", "type": "Date"}, "Date", '"next week"'),
        ({"value": 1732268400000, "type": "Date"}, "Date", "1732268400000"),
        ({"value": "{not json", "type": "Json"}, "Json", '"{not json"'),
        ({"value": 5, "type": "Json"}, "Json", "5"),
        ({"value": "twelve", "type": "Object", "valueInfo": BIG_DECIMAL}, "BigDecimal", '"twelve"'),
        ({"value": "NaN", "type": "Object", "valueInfo": BIG_DECIMAL}, "BigDecimal", '"NaN"'),
        (
            {"value": "1.5", "type": "Object", "valueInfo": {"objectTypeName": "java.math.BigInteger"}},
            "BigInteger",
            '"1.5"',
        ),
    ],
)
def test_wrong_values_name_the_variable_the_type_and_the_value(
    typed: dict[str, Any], type_name: str, shown: str
) -> None:
    with pytest.raises(VariableError) as caught:
        from_typed({"amount": typed})
    message = str(caught.value)
    assert message.startswith("variable `amount`: ")
    assert type_name in message
    assert shown in message
    assert caught.value.context["variable"] == "amount"


@pytest.mark.parametrize("type_name", ["Bytes", "File", "bytes"])
def test_bytes_and_files_are_refused_with_what_to_send_instead(type_name: str) -> None:
    expected = f"type {type_name.title()} is not supported, send the content as"
    with pytest.raises(VariableError, match=expected):
        from_typed({"doc": {"value": "AAEC", "type": type_name, "valueInfo": {"filename": "a.pdf"}}})


def test_unknown_type_lists_the_supported_ones() -> None:
    with pytest.raises(VariableError, match=r"unknown type 'Money'; use one of String, Boolean, .*Null"):
        from_typed({"price": {"value": 5, "type": "Money"}})


def test_object_in_a_format_other_than_json_is_refused() -> None:
    info = {"objectTypeName": "com.acme.Lead", "serializationDataFormat": "application/xml"}
    with pytest.raises(VariableError, match="application/xml is not supported"):
        from_typed({"lead": {"value": "<lead/>", "type": "Object", "valueInfo": info}})


@pytest.mark.parametrize("name", ["my-var", "1st", "class", "None", "_hidden", "", "with space"])
def test_variable_names_must_be_usable_in_scripts(name: str) -> None:
    with pytest.raises(VariableError):
        from_typed({name: {"value": 1}})
    with pytest.raises(VariableError):
        check_name(name)


def test_good_names_pass() -> None:
    assert check_name("amount_2") == "amount_2"
    assert check_name("größe") == "größe"


@pytest.mark.parametrize("entry", [5, "x", [1], None])
def test_each_variable_must_be_a_typed_object(entry: Any) -> None:
    expected = re.escape('must be an object like {"value": 1200, "type": "Long"}')
    with pytest.raises(VariableError, match=expected):
        from_typed({"amount": entry})


def test_no_variables_is_an_empty_dict() -> None:
    assert from_typed(None) == {}
    assert from_typed({}) == {}
    with pytest.raises(VariableError, match="variables must be an object"):
        from_typed([1, 2])  # type: ignore[arg-type]


def test_example_from_the_rest_api() -> None:
    typed = {"amount": {"value": 1200, "type": "Long"}, "lead": {"value": '{"a":1}', "type": "Json"}}
    assert from_typed(typed) == {"amount": 1200, "lead": {"a": 1}}


# --- to_typed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "typed"),
    [
        (True, {"type": "Boolean", "value": True, "valueInfo": {}}),
        (7, {"type": "Integer", "value": 7, "valueInfo": {}}),
        (2**31 - 1, {"type": "Integer", "value": 2**31 - 1, "valueInfo": {}}),
        (-(2**31), {"type": "Integer", "value": -(2**31), "valueInfo": {}}),
        (2**31, {"type": "Long", "value": 2**31, "valueInfo": {}}),
        (-(2**63), {"type": "Long", "value": -(2**63), "valueInfo": {}}),
        (2**63, {"type": "Object", "value": str(2**63), "valueInfo": BIG_INTEGER}),
        (1.5, {"type": "Double", "value": 1.5, "valueInfo": {}}),
        ("hi", {"type": "String", "value": "hi", "valueInfo": {}}),
        (None, {"type": "Null", "value": None, "valueInfo": {}}),
        (Decimal("1000.10"), {"type": "Object", "value": "1000.10", "valueInfo": BIG_DECIMAL}),
        (
            datetime(2026, 11, 22, 10, 0, 0, 123999, tzinfo=PLUS_ONE),
            {"type": "Date", "value": "2026-11-22T10:00:00.123+0100", "valueInfo": {}},
        ),
        (
            datetime(2026, 11, 22, 9),
            {"type": "Date", "value": "2026-11-22T09:00:00.000+0000", "valueInfo": {}},
        ),
        (date(2026, 11, 22), {"type": "Date", "value": "2026-11-22T00:00:00.000+0000", "valueInfo": {}}),
        (time(9, 30), {"type": "String", "value": "09:30:00", "valueInfo": {}}),
        ({"a": 1}, {"type": "Json", "value": '{"a": 1}', "valueInfo": {}}),
        ((1, 2), {"type": "Json", "value": "[1, 2]", "valueInfo": {}}),
    ],
)
def test_each_python_value_has_its_camunda_type(value: Any, typed: dict[str, Any]) -> None:
    assert to_typed(value) == typed
    assert type(to_typed(value)["value"]) is type(typed["value"])


def test_booleans_are_not_integers() -> None:
    assert to_typed(False)["type"] == "Boolean"


def test_zoneinfo_datetimes_keep_their_own_offset() -> None:
    winter = datetime(2026, 1, 15, 8, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert to_typed(winter)["value"] == "2026-01-15T08:30:00.000+0100"


def test_json_values_write_nested_decimals_and_dates_with_the_codec() -> None:
    lead = {"amount": Decimal("12.30"), "seen": date(2026, 1, 2)}
    typed = to_typed(lead)
    assert typed["type"] == "Json"
    assert json.loads(typed["value"]) == {
        "amount": {"$type": "decimal", "value": "12.30"},
        "seen": {"$type": "date", "value": "2026-01-02"},
    }


@pytest.mark.parametrize(
    "value",
    [
        "text",
        5,
        2**40,
        2**70,
        -1.25,
        True,
        None,
        Decimal("1000.10"),
        Decimal("-0.000"),
        datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=PLUS_ONE),
        {"lead": {"amount": Decimal("99.90"), "when": date(2026, 1, 2), "tags": ["a", "b"]}},
        [{"$type": "not ours", "n": 1}],
    ],
)
def test_typed_out_and_back_in_is_the_same_value(value: Any) -> None:
    assert same(from_typed({"v": to_typed(value)})["v"], value)


def test_to_typed_map_names_the_variable_of_a_bad_value() -> None:
    assert to_typed_map({"a": 1, "b": "x"}) == {
        "a": {"type": "Integer", "value": 1, "valueInfo": {}},
        "b": {"type": "String", "value": "x", "valueInfo": {}},
    }
    with pytest.raises(VariableError, match=r"`lead\.blob`"):
        to_typed_map({"lead": {"blob": b"\x00"}})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), b"raw", object()])
def test_values_without_a_typed_form_are_refused(value: Any) -> None:
    with pytest.raises(VariableError):
        to_typed(value)


# --- the stored codec ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1000.10"),
        Decimal("1E+3"),
        Decimal("-0.00"),
        datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=PLUS_ONE),
        datetime(2026, 11, 22, 10, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 11, 22, 10, 0),
        datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("Europe/Berlin")),
        date(2026, 11, 22),
        time(23, 59, 59, 999999),
        time(8, 0, tzinfo=PLUS_ONE),
        "plain",
        "",
        0,
        -(2**80),
        0.1,
        True,
        None,
        [],
        {},
        {"$type": "decimal", "value": "not a tag, a dictionary of the user's"},
        {
            "lead": {
                "amount": Decimal("12.30"),
                "activities": [{"at": datetime(2026, 1, 1, 9)}, date(2026, 1, 2)],
                "nested": [[Decimal("0.1")], {"deep": {"t": time(1, 2)}}],
                "name": "Äpfel & Co",
            }
        },
    ],
)
def test_codec_round_trips_exactly(value: Any) -> None:
    text = dumps(value)
    json.loads(text)  # always real JSON
    assert same(loads(text), value)


def test_codec_keeps_the_zone_name_and_naive_stays_naive() -> None:
    berlin = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin"))
    restored = loads(dumps(berlin))
    assert restored.tzinfo == ZoneInfo("Europe/Berlin")
    assert restored.utcoffset() == timedelta(hours=1)
    assert loads(dumps(datetime(2026, 1, 1))).tzinfo is None


def test_dates_stay_dates_and_datetimes_stay_datetimes() -> None:
    assert type(loads(dumps(date(2026, 1, 1)))) is date
    assert type(loads(dumps(datetime(2026, 1, 1)))) is datetime


def test_tagged_form_is_readable() -> None:
    assert json.loads(dumps({"price": Decimal("12.30")})) == {"price": {"$type": "decimal", "value": "12.30"}}


def test_tuples_and_sets_are_stored_as_lists() -> None:
    assert loads(dumps({"pair": (1, 2), "ids": {3, 1, 2}, "frozen": frozenset({"b", "a"})})) == {
        "pair": [1, 2],
        "ids": [1, 2, 3],
        "frozen": ["a", "b"],
    }
    assert sorted(check_storable("mixed", {1, "a"}), key=str) == [1, "a"]


def test_unknown_or_malformed_tags_load_as_plain_dictionaries() -> None:
    for stored in (
        '{"$type": "money", "value": "5"}',
        '{"$type": "decimal", "value": "x"}',
        '{"$type": "date", "value": "2026-01-01", "extra": 1}',
        '{"$type": "decimal", "value": 5}',
    ):
        assert loads(stored) == json.loads(stored)


def test_loads_refuses_text_that_is_not_json() -> None:
    with pytest.raises(VariableError, match="not valid JSON"):
        loads("{oops")


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"activities": [1, 2, b"\x00"]}, "lead.activities[2]", "bytes are not supported"),
        ({"activities": [1, 2, object()]}, "lead.activities[2]", "a object is not a storable value"),
        ({"first name": {"x": bytearray(b"a")}}, 'lead["first name"].x', "bytes"),
        ({"scores": {1: "a"}}, "lead.scores[1]", "dictionary keys must be text, not int"),
        ({"ratio": float("nan")}, "lead.ratio", "not a finite number"),
        ({"ratio": float("-inf")}, "lead.ratio", "not a finite number"),
        ({"amount": Decimal("NaN")}, "lead.amount", "not a finite number"),
        ([{"when": lambda: 1}], "lead[0].when", "function"),
    ],
)
def test_unstorable_values_are_refused_with_their_path(value: Any, path: str, reason: str) -> None:
    for attempt in (lambda: check_storable("lead", value), lambda: dumps(value, name="lead")):
        with pytest.raises(VariableError) as caught:
            attempt()
        assert f"`{path}`" in str(caught.value)
        assert reason in str(caught.value)
        assert caught.value.context["path"] == path


def test_a_value_that_contains_itself_is_refused() -> None:
    loop: list[Any] = [1]
    loop.append({"back": loop})
    with pytest.raises(VariableError, match=r"`v\[1\]\.back` cannot be stored: the value contains itself"):
        check_storable("v", loop)


def test_shared_references_are_not_cycles() -> None:
    shared = [1, 2]
    assert check_storable("v", {"a": shared, "b": shared}) == {"a": [1, 2], "b": [1, 2]}


def test_subclasses_of_builtins_become_the_builtin() -> None:
    class Level(IntEnum):
        HIGH = 3

    class Color(StrEnum):
        RED = "red"

    stored = check_storable("v", OrderedDict([("level", Level.HIGH), ("color", Color.RED)]))
    assert stored == {"level": 3, "color": "red"}
    assert type(stored) is dict and type(stored["level"]) is int and type(stored["color"]) is str
    assert loads(dumps(Level.HIGH)) == 3


def test_check_storable_does_not_change_the_original() -> None:
    original = {"pair": (1, 2)}
    assert check_storable("v", original) == {"pair": [1, 2]}
    assert original == {"pair": (1, 2)}


# --- CLI assignments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount=1200", ("amount", 1200)),
        ("ratio=1.5", ("ratio", 1.5)),
        ("urgent=true", ("urgent", True)),
        ("nothing=null", ("nothing", None)),
        ('lead={"name": "Acme", "tags": [1]}', ("lead", {"name": "Acme", "tags": [1]})),
        ("note=hello world", ("note", "hello world")),
        ('quoted="42"', ("quoted", "42")),
        ("empty=", ("empty", "")),
        ("formula=a=b", ("formula", "a=b")),
        ("odd=NaN", ("odd", "NaN")),
        (" spaced =x", ("spaced", "x")),
        ("amount:Long=1200", ("amount", 1200)),
        ("amount:long=1200", ("amount", 1200)),
        ("code:String=007", ("code", "007")),
        ("ok:Boolean=false", ("ok", False)),
        ("ratio:Double=2", ("ratio", 2.0)),
        ("price:Decimal=12.30", ("price", Decimal("12.30"))),
        ('lead:Json={"a": 1}', ("lead", {"a": 1})),
        ("gone:Null=", ("gone", None)),
        ("when:Date=2026-11-22", ("when", datetime(2026, 11, 22, tzinfo=UTC))),
        ("when:Date=2026-11-22T10:00:00.000+0100", ("when", datetime(2026, 11, 22, 9, tzinfo=UTC))),
    ],
)
def test_cli_assignments(text: str, expected: tuple[str, Any]) -> None:
    name, value = parse_cli_assignment(text)
    assert name == expected[0]
    assert same(value, expected[1]) or (isinstance(value, datetime) and value == expected[1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount", "write name=value or name:Type=value"),
        ("my-amount=5", "not a valid variable name"),
        ("=5", "not a valid variable name"),
        ("amount:Long=abc", 'variable `amount`: "abc" is not a valid Long'),
        ("amount:=5", "give a type such as Long"),
        ("lead:Object={}", "give a type such as Long"),
        ("doc:Bytes=AAEC", "type Bytes is not supported"),
        ("price:Decimal=cheap", "is not a valid Object"),
    ],
)
def test_bad_cli_assignments_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(VariableError, match=message.replace("(", r"\(")):
        parse_cli_assignment(text)
