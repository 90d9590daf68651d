"""Camunda 7 EL (JUEL) translated to sandboxed Python: operators, coercions, null and empty, errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.el import ELError, compile_el, is_single_expression, translate
from engine.references import split_list
from engine.sandbox import Sandbox

SANDBOX = Sandbox(timeout_seconds=1.0)
VARS: dict[str, Any] = {
    "amount": 1500,
    "approved": True,
    "vip": False,
    "x": "a",
    "name": "Kim",
    "none": None,
    "blank": "",
    "items": [1, 2, 3],
    "nothing": [],
    "order": {"id": 7, "lines": [{"sku": "A-1", "qty": 2}], "customer": {"name": "ACME"}, "empty": {}},
    "price": Decimal("19.99"),
    "rate": 0.5,
    "text_number": "12",
    "text_true": "TRUE",
    "when": date(2026, 12, 1),
}


def ev(text: str, variables: dict[str, Any] | None = None) -> Any:
    return compile_el(text).evaluate(VARS if variables is None else variables, SANDBOX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples
        ("${amount > 1000}", True),
        ("${approved && !vip}", True),
        ("${x eq 'a'}", True),
        ("${x ne 'a'}", False),
        # keywords and symbols
        ("${approved and not vip}", True),
        ("${vip or approved}", True),
        ("${vip || vip}", False),
        ("${amount lt 2000 and amount ge 1500}", True),
        ("${amount gt 1500 or amount le 1000}", False),
        ("${amount == 1500}", True),
        ("${amount != 1500}", False),
        ("${amount <= 1500 && amount >= 1500 && !(amount < 1500) && !(amount > 1500)}", True),
        # arithmetic: Long, Double, BigDecimal
        ("${1 + 2 * 3}", 7),
        ("${(1 + 2) * 3}", 9),
        ("${10 - 4 - 3}", 3),
        ("${7 / 2}", 3.5),
        ("${8 div 2}", 4.0),
        ("${7 % 3}", 1),
        ("${7 mod 3}", 1),
        ("${-7 % 3}", -1),
        ("${7.5 % 2}", 1.5),
        ("${-amount}", -1500),
        ("${- -3}", 3),
        ("${amount * rate}", 750.0),
        ("${price * 2}", Decimal("39.98")),
        ("${price + 0.01}", Decimal("20.00")),
        ("${1.5e3}", 1500.0),
        ("${.5 + 1}", 1.5),
        # null in arithmetic is 0; strings are read as numbers
        ("${none + 1}", 1),
        ("${null + null}", 0),
        ("${null / null}", 0),
        ("${-null}", 0),
        ("${text_number + 1}", 13),
        ("${'1.5' + 1}", 2.5),
        ("${text_number * 2}", 24),
        # comparisons with coercion; null compares false
        ("${text_number > 9}", True),
        ("${'10' == 10}", True),
        ("${1 == 1.0}", True),
        ("${'b' > 'a'}", True),
        ("${none < 1}", False),
        ("${none > 1}", False),
        ("${none == null}", True),
        ("${none != null}", False),
        ("${amount == null}", False),
        ("${text_true == true}", True),
        ("${'x' == 'x'}", True),
        ("${price > 19}", True),
        ("${price == 19.99}", True),
        # empty
        ("${empty none}", True),
        ("${empty blank}", True),
        ("${empty nothing}", True),
        ("${empty order.empty}", True),
        ("${empty items}", False),
        ("${empty name}", False),
        ("${not empty name}", True),
        ("${!empty order.missing}", False),
        ("${empty 0}", False),
        # boolean coercion of strings and null
        ("${!none}", True),
        ("${!blank}", True),
        ("${!text_true}", False),
        ("${'yes' ? 1 : 2}", 2),
        # ternary
        ("${approved ? 'go' : 'stop'}", "go"),
        ("${vip ? 'gold' : amount > 1000 ? 'big' : 'small'}", "big"),
        # literals
        ("${true}", True),
        ("${false}", False),
        ("${null}", None),
        ("${'it\\'s'}", "it's"),
        ('${"say \\"hi\\""}', 'say "hi"'),
        ("${'back\\\\slash'}", "back\\slash"),
        ("${'}'}", "}"),
        # property access on maps and lists
        ("${order.id}", 7),
        ("${order['id']}", 7),
        ("${order.customer.name}", "ACME"),
        ("${order.lines[0].sku}", "A-1"),
        ("${order['lines'][0]['qty'] * 10}", 20),
        ("${order.missing}", None),
        ("${order.missing.deeper}", None),
        ("${items[5]}", None),
        ("${items['1']}", 2),
        ("${none.anything}", None),
        # whitelisted methods
        ("${items.size()}", 3),
        ("${name.length()}", 3),
        ("${nothing.isEmpty()}", True),
        ("${items.contains(2)}", True),
        ("${items.contains('2')}", True),
        ("${name.contains('im')}", True),
        ("${order.containsKey('id')}", True),
        ("${amount.toString()}", "1500"),
        ("${execution.getVariable('amount')}", 1500),
        ("${execution.getVariable('missing')}", None),
        ("${execution.hasVariable('missing')}", False),
        ("#{amount > 1}", True),
        # names that start like keywords are names
        ("${orderly}", "o"),
    ],
)
def test_expression_value(text: str, expected: Any) -> None:
    variables = {**VARS, "orderly": "o"}
    value = ev(text, variables)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Order ${order.id} for ${order.customer.name}", "Order 7 for ACME"),
        ("${approved}!", "true!"),
        ("none: [${none}]", "none: []"),
        ("${rate}", 0.5),
        ("rate ${rate} big ${1.0E10} small ${0.0001}", "rate 0.5 big 1.0E10 small 1.0E-4"),
        ("plain text", "plain text"),
        ("costs \\${price}", "costs ${price}"),
        ("${items} ${order.customer}", "[1, 2, 3] {name=ACME}"),
        ("on ${when}", "on 2026-12-01"),
    ],
)
def test_composite_text_is_a_string(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_a_whole_expression_keeps_its_type() -> None:
    assert ev("${items}") == [1, 2, 3]
    assert ev("${order.customer}") == {"name": "ACME"}
    assert compile_el("${a}").kind == "expression"
    assert compile_el("a ${a}").kind == "composite"
    assert compile_el("a").kind == "literal"


def test_operators_short_circuit() -> None:
    # The right side would fail (unknown variable) if it were evaluated.
    assert ev("${vip && missing}") is False
    assert ev("${approved || missing}") is True
    assert ev("${approved ? 1 : missing}") == 1


def test_translation_is_python_over_el_helpers_only() -> None:
    assert translate("${amount > 1000}") == "el.gt(el.var('amount'), 1000)"
    assert translate("${a.b}") == "el.prop(el.var('a'), 'b')"
    python = translate("${approved && !vip ? x.size() : -1}")
    assert "el.to_bool" in python and " and " in python and " if " in python


def test_translation_is_cached() -> None:
    assert compile_el("${cache_me + 1}") is compile_el("${cache_me + 1}")


def test_every_translation_passes_the_sandbox_policy() -> None:
    for text in ("${a.b[c] + -d * e div f mod g}", "${x ? y : z}", "${empty a || not b}", "A ${b} C"):
        SANDBOX.check(compile_el(text).python, "eval")


def test_conditions_must_be_booleans() -> None:
    condition = compile_el("${approved}", condition=True)
    assert condition.evaluate({"approved": True}, SANDBOX) is True
    assert condition.evaluate({"approved": False}, SANDBOX) is False
    with pytest.raises(ELError, match="returned String 'false', not a Boolean"):
        condition.evaluate({"approved": "false"}, SANDBOX)
    with pytest.raises(ELError, match="returned null"):
        condition.evaluate({"approved": None}, SANDBOX)
    with pytest.raises(ELError, match="a condition must be one expression"):
        compile_el("approved is ${approved}", condition=True)
    assert compile_el("  ${amount > 1}\n ", condition=True).evaluate({"amount": 2}, SANDBOX) is True


@pytest.mark.parametrize(
    ("text", "variables", "message"),
    [
        ("${missing > 1}", {}, "cannot resolve identifier 'missing'"),
        ("${'a' + 'b'}", {}, "'+' adds numbers in EL"),
        ("${name + 1}", {"name": "Kim"}, "cannot coerce String 'Kim'"),
        ("${1 / 0}", {}, "division by zero"),
        ("${1 % 0}", {}, "division by zero"),
        ("${p / 0}", {"p": Decimal(1)}, "division by zero"),
        ("${1 == 'a'}", {}, "cannot coerce String 'a' to a Long"),
        ("${true + 1}", {}, "cannot coerce Boolean true to a number"),
        ("${amount && true}", {"amount": 1}, "cannot coerce Long 1 to a Boolean"),
        ("${true < false}", {}, "cannot order Boolean and Boolean"),
        ("${name.missing}", {"name": "Kim"}, "cannot read property 'missing' of a String"),
        ("${big * big}", {"big": 2**62}, "does not fit in a Long"),
        ("${big + big}", {"big": 2**62}, "does not fit in a Long"),
        ("${huge * 2}", {"huge": 2**100_000}, "does not fit in a Long"),
        ("${n.size()}", {"n": 5}, "size() needs a list, map or string"),
        ("${n.contains(1)}", {"n": 5}, "contains() needs a list or string"),
        ("${n.containsKey(1)}", {"n": [1]}, "containsKey() needs a map"),
    ],
)
def test_evaluation_errors_name_the_expression(text: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises(ELError) as err:
        ev(text, variables)
    assert message in err.value.message
    assert err.value.message.startswith(f"`{text}`: ")
    assert err.value.expression == text


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("${a +}", "the expression ends too early", 6),
        ("${a = 1}", "compare with == or eq", 5),
        ("${a += 1}", "compare with == or eq", 6),
        ("${a; b}", "unexpected character `;`", 4),
        ("${[1, 2]}", "unexpected", 3),
        ("${(x) -> x}", "unexpected `>`", 8),
        ("${a", "is never closed", 1),
        ("text ${a} and ${b", "is never closed", 15),
        ("${}", "empty expression", None),
        ("${ a b }", "unexpected `b`", 6),
        ("${'open}", "is never closed", 1),
        ("${'\\n'}", "is not an escape in EL strings", 3),
        ("${x.getClass()}", "the method call `getClass()` is not supported", 5),
        ("${order.lines.get(0)}", "the method call `get(…)` is not supported", 15),
        ("${execution.setVariable('a', 1)}", "`setVariable(…, …)` is not supported", 13),
        ("${execution.getVariable()}", "`getVariable()` is not supported", 13),
        ("${execution}", "`execution` can only be used as execution.getVariable", 3),
        ("${execution.processBusinessKey}", "`execution` can only be used", 3),
        ("${''.__class__}", "property `__class__` is not allowed: names starting with '_' are private", 6),
        ("${x.__class__.__mro__}", "names starting with '_' are private", None),
        ("${_secret}", "identifier `_secret` is not allowed", 3),
        ("${a.b$c}", "'$' cannot be part of a name", 5),
        ("${fn:upper(x)}", "the function `fn:upper()` is not available", 3),
        ("${dateTime()}", "the function `dateTime()` is not available", 3),
        ("${x instanceof y}", "unexpected", None),
        ("${instanceof}", "`instanceof` is not supported", 3),
        ("${99999999999999999999}", "larger than a Long (64 bits)", 3),
        ("${9" + "9" * 5000 + "}", "the expression is 5,004 characters long", None),
        ("${1e999999999}", "out of range for a Double", 3),
        ("${" + "-(" * 60 + "1" + ")" * 60 + "}", "nested more than 40 levels deep", None),
        ("${" + "!" * 60 + "x}", "nested more than 40 levels deep", None),
        ("${" + " + ".join(["a"] * 60) + "}", "nested more than 40 levels deep", None),
    ],
)
def test_refused_at_compile_time_with_a_position(text: str, message: str, position: int | None) -> None:
    with pytest.raises(ELError) as err:
        compile_el(text)
    assert message in err.value.message
    if position is not None:
        assert err.value.position == position
        assert f"column {position}" in err.value.message
    assert err.value.expression is not None


def test_runtime_keys_read_maps_never_attributes() -> None:
    # A dynamic key can name anything, but it only ever reads a dict entry or a list item.
    assert ev("${d[k]}", {"d": {"__class__": 1}, "k": "__class__"}) == 1
    with pytest.raises(ELError, match="cannot read property '__class__' of a String"):
        ev("${s[k]}", {"s": "text", "k": "__class__"})


def test_is_single_expression() -> None:
    assert is_single_expression(" ${a} ")
    assert not is_single_expression("a ${a}")
    assert not is_single_expression("a > 1")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("kim, lee", ["kim", "lee"]),
        ("finance,${extraGroup}", ["finance", "${extraGroup}"]),
        ("${vip ? 'gold,silver' : 'bronze'}, ops", ["${vip ? 'gold,silver' : 'bronze'}", "ops"]),
        ("", []),
        (" , a ,", ["a"]),
    ],
)
def test_comma_lists_keep_expressions_whole(text: str, parts: list[str]) -> None:
    assert split_list(text) == parts
