"""FEEL, the common subset Camunda 8 files use, translated to sandboxed Python."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.feel import FeelError, compile_feel, is_feel
from engine.sandbox import Sandbox

SANDBOX = Sandbox(timeout_seconds=1.0)
VARS: dict[str, Any] = {
    "amount": 150,
    "rate": 0.1,
    "price": Decimal("2.50"),
    "approved": True,
    "vip": False,
    "name": "Kim",
    "none": None,
    "order": {"id": 7, "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}], "customer": {"vip": True}},
    "items": [10, 20, 30],
}


def ev(text: str, variables: dict[str, Any] | None = None) -> Any:
    return compile_feel(text).evaluate(VARS if variables is None else variables, SANDBOX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=amount > 100", True),
        ("=amount >= 150", True),
        ("=amount < 150", False),
        ("=amount <= 150", True),
        ("=amount = 150", True),
        ("=amount != 150", False),
        ('=name = "Kim"', True),
        ('=name < "Lee"', True),
        ("=approved and not(vip)", True),
        ("=vip or approved", True),
        ("=vip or vip", False),
        ("=not(approved)", False),
        ("=order.customer.vip", True),
        ("=order.lines[1].sku", "a"),
        ("=order.lines[-1].qty", 2),
        ("=items[4]", None),
        ("=order.lines.sku", ["a", "b"]),
        ("=order.missing.deeper", None),
        ("=missing", None),
        ("=1 + 2 * 3", 7),
        ("=(1 + 2) * 3", 9),
        ("=7 / 2", 3.5),
        ("=0.1 + 0.2", 0.3),
        ("=rate + 0.2", 0.3),
        ("=price * 2", 5),
        ("=-amount", -150),
        ('="a" + "b"', "ab"),
        ('=[1, "two", null]', [1, "two", None]),
        ("=[]", []),
        ('=if amount > 100 then "big" else "small"', "big"),
        ("=if none then 1 else 2", 2),
        ("=true", True),
        ("=null", None),
        ('="say \\"hi\\"\\n"', 'say "hi"\n'),
        ("plain text", "plain text"),
        ("  =amount", 150),
    ],
)
def test_expression_value(text: str, expected: Any) -> None:
    value = ev(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # null and wrong types never fail: they are null, and logic is three-valued
        ("=none > 1", None),
        ("=none = null", True),
        ("=amount = null", False),
        ("=none != null", False),
        ("=amount + none", None),
        ('=amount + "x"', None),
        ("=amount / 0", None),
        ("=name > 1", None),
        ('=amount = "150"', None),
        ("=true and none", None),
        ("=false and none", False),
        ("=true or none", True),
        ("=false or none", None),
        ("=not(none)", None),
        ("=not(1)", None),
        ("=approved and 1", None),
        ("=-name", None),
        ("=name.length", None),
        ("=true < false", None),
    ],
)
def test_null_and_type_mismatches_are_null(text: str, expected: Any) -> None:
    assert ev(text) is expected


def test_conditions_must_be_booleans() -> None:
    condition = compile_feel("=ok", condition=True)
    assert condition.evaluate({"ok": True}, SANDBOX) is True
    with pytest.raises(FeelError, match="evaluated to null, not a boolean"):
        condition.evaluate({}, SANDBOX)
    with pytest.raises(FeelError, match="evaluated to str 'yes'"):
        condition.evaluate({"ok": "yes"}, SANDBOX)
    with pytest.raises(FeelError, match="start it with ="):
        compile_feel("ok", condition=True)


def test_static_values_and_caching() -> None:
    assert compile_feel("sales").kind == "literal"
    assert not is_feel("sales") and is_feel(" =x")
    assert compile_feel("=a > 1") is compile_feel("=a > 1")
    assert compile_feel("=a > 1").python == "feel.compare('>', feel.var('a'), 1)"


def test_keys_read_maps_never_attributes() -> None:
    assert ev("=d.keys", {"d": {"keys": 1}}) == 1
    assert ev("=s.upper", {"s": "text"}) is None


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("=a && b", "FEEL writes and, or and not(x)", 4),
        ("=a || b", "FEEL writes and, or and not(x)", 4),
        ("=!a", "FEEL writes and, or and not(x)", 2),
        ("=a == b", "FEEL compares with a single =", 5),
        ("='x'", "FEEL strings are written in double quotes", 2),
        ("=string length(x)", "names with spaces", 9),
        ("=count(items)", "the FEEL function `count()` is not supported", 2),
        ("=not(a, b)", "the FEEL function `not()` is not supported", 2),
        ("=items[item > 3]", "filters are not", 2),
        ("=items[x]", "only a literal position", 2),
        ("=x.__class__", "names starting with '_' are private", 4),
        ("=_x", "names starting with '_' are private", 2),
        ("=", "the expression after = is empty", 1),
        ("=a +", "the expression ends too early", 4),
        ('="\\q"', "an escape FEEL does not know", 2),
        ("=1" + "0" * 40, "more than 30 digits", 2),
        ("=" + "-(" * 50 + "1" + ")" * 50, "nested more than 40 levels deep", None),
        ("=" + "x" * 5000, "5,001 characters long", None),
        ("=a instance of b", "unexpected `instance`", 4),
        ("=for x in items return x", "unexpected", None),
        ("=some x in items satisfies x > 1", "unexpected", None),
        ("={a: 1}", "unexpected character `{`", 2),
        ('=date("2026-01-01")', "the FEEL function `date()` is not supported", 2),
    ],
)
def test_unsupported_feel_is_refused_with_a_position(text: str, message: str, position: int | None) -> None:
    with pytest.raises(FeelError) as err:
        compile_feel(text)
    assert message in err.value.message
    if position is not None:
        assert err.value.position == position


def test_every_translation_passes_the_sandbox_policy() -> None:
    for text in ("=a.b[1] + -c * d / e", "=if a then [b, 1] else not(c)", '=a = null or b != "x"'):
        SANDBOX.check(compile_feel(text).python, "eval")
