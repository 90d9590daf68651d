"""The sandbox refuses escapes at compile time, bounds time and single huge operations, and runs ordinary
scripts with SpiffWorkflow's task-data semantics."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest

from engine.exceptions import SandboxViolation, ScriptError, ScriptTimeout
from engine.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(timeout_seconds=0.3)


def run(sandbox: Sandbox, script: str, **variables: Any) -> dict[str, Any]:
    sandbox.execute(script, variables)
    return variables


# --- escapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("import os", "import statements are not allowed"),
        ("from os import system", "import statements are not allowed"),
        ("__import__('os')", "access to '__import__' is not allowed: names starting with '_' are private"),
        ("().__class__.__base__.__subclasses__()", "access to '__"),
        ("'{0.__class__}'.format(1)", "str.format() is not allowed"),
        ("open('/etc/passwd')", "calling 'open' is not allowed"),
        ("exec('x = 1')", "calling 'exec' is not allowed"),
        ("eval('1')", "calling 'eval' is not allowed"),
        ("compile('1', 'f', 'eval')", "calling 'compile' is not allowed"),
        ("globals()", "calling 'globals' is not allowed"),
        ("vars()", "calling 'vars' is not allowed"),
        ("(lambda: 0).__code__", "access to '__code__' is not allowed"),
        ("type('X', (), {})", "calling 'type' is not allowed"),
        ("(x for x in ()).gi_frame", "access to 'gi_frame' is not allowed"),
        ("ValueError.mro()", "access to 'mro' is not allowed"),
        ("__builtins__", "access to '__builtins__' is not allowed"),
    ],
)
def test_escapes_are_refused_at_compile_time_with_a_message_naming_them(
    sandbox: Sandbox, source: str, named: str
) -> None:
    modes: tuple[Literal["eval", "exec"], ...] = ("exec",) if "import " in source else ("eval", "exec")
    for mode in modes:
        with pytest.raises(SandboxViolation) as err:
            sandbox.check(source, mode)
        assert named in err.value.message
        assert err.value.context["line"] == 1
    with pytest.raises(SandboxViolation):
        sandbox.execute(source, {})


@pytest.mark.parametrize(
    "script",
    [
        "class A:\n    pass",
        "try:\n    x = 1\nexcept:\n    pass",
        "try:\n    x = 1\nexcept BaseException:\n    pass",
        "try:\n    x = 1\nfinally:\n    pass",
        "async def f():\n    pass",
        "setattr(d, 'x', 1)",
    ],
)
def test_constructs_that_could_hide_from_the_watchdog_or_build_classes_are_refused(
    sandbox: Sandbox, script: str
) -> None:
    with pytest.raises(SandboxViolation):
        sandbox.check(script, "exec")


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ("name = '__cl' + 'ass__'\nleak = getattr((), name)", "'__class__'"),
        ("g = (x for x in ())\nframe = getattr(g, 'gi' + '_frame')", "'gi_frame'"),
        ("template = '{0.__class__}'\nleak = template.format(1)", "str.format() is not allowed"),
        ("f = open\nf('/etc/passwd')", "calling 'open' is not allowed"),
        ("text = 'abc'\ntext.upper = None", "cannot be changed in place"),
        ("handler = hasattr\nhandler(1, '__class__')", "'__class__'"),
    ],
)
def test_escapes_built_at_run_time_are_refused_by_the_guards(
    sandbox: Sandbox, script: str, named: str
) -> None:
    sandbox.check(script, "exec")  # nothing to see at compile time
    with pytest.raises(SandboxViolation) as err:
        sandbox.execute(script, {})
    assert named in err.value.message
    assert err.value.context["line"] == 2


def test_a_forbidden_second_line_stops_the_script_before_its_first_line_runs(sandbox: Sandbox) -> None:
    orders: list[str] = []
    variables = {"orders": orders}
    with pytest.raises(SandboxViolation) as err:
        sandbox.execute("orders.append('side effect')\nimport os", variables)
    assert orders == []
    assert err.value.context["line"] == 2


def test_catching_an_exception_class_found_at_run_time_cannot_swallow_the_timeout() -> None:
    sandbox = Sandbox(timeout_seconds=0.2)
    script = "kinds = (ValueError, Exception)\ntry:\n    while True:\n        pass\nexcept kinds:\n    x = 1"
    with pytest.raises(ScriptTimeout):
        sandbox.execute(script, {})


# --- time -----------------------------------------------------------------------------------------


def test_an_endless_loop_ends_with_script_timeout_after_about_the_timeout(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptTimeout) as err:
        sandbox.execute("x = 1\nwhile True:\n    pass", {})
    elapsed = time.monotonic() - started
    assert 0.25 < elapsed < 1.5
    assert err.value.context["line"] in (2, 3)  # the loop's jump back belongs to its header
    assert err.value.context["timeout_seconds"] == 0.3


def test_except_exception_around_an_endless_loop_still_times_out(sandbox: Sandbox) -> None:
    script = "try:\n    while True:\n        pass\nexcept Exception:\n    pass"
    with pytest.raises(ScriptTimeout):
        sandbox.execute(script, {})


def test_a_loop_that_keeps_catching_exceptions_still_times_out(sandbox: Sandbox) -> None:
    script = (
        "def spin():\n    while True:\n        try:\n            while True:\n                pass\n"
        "        except Exception:\n            pass\nspin()"
    )
    with pytest.raises(ScriptTimeout):
        sandbox.execute(script, {})


def test_an_expression_times_out_too(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptTimeout):
        sandbox.evaluate("[i for i in range(10_000_000) for j in range(10_000_000)]", {})


def test_after_a_timeout_the_thread_runs_normally(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptTimeout):
        sandbox.execute("while True:\n    pass", {})
    total = 0
    deadline = time.monotonic() + 0.6  # longer than the timeout: a stray late exception would hit here
    while time.monotonic() < deadline:
        total += 1
    assert sandbox.evaluate("1 + 1", {}) == 2


@pytest.mark.parametrize(
    "expression",
    [
        "10 ** 10 ** 10",
        "'a' * 10 ** 10",
        "[0] * 10 ** 9",
        "10 ** 9 * 'a'",
        "(7 ** 30000) * (7 ** 30000)",
        "1 << 10 ** 9",
        "pow(10, 10 ** 10)",
        "list(range(10 ** 9))",
        "'a'.center(10 ** 10)",
        "str.ljust('a', 10 ** 10)",
        "'ab'.replace('a', 'a' * 100_000).replace('a', 'a' * 100_000)",
        "f'{1:>10000000000}'",
        "'%10000000000d' % 1",
        "int(Decimal('1e999999'))",
        "f\"{Decimal('1e999999999'):f}\"",
        "(1).to_bytes(10 ** 10, 'big')",
        "sum([[0] * 1000] * 10000, [])",
    ],
)
def test_single_operations_that_would_build_a_huge_value_are_refused_before_they_run(
    sandbox: Sandbox, expression: str
) -> None:
    # A guard refuses the operation before it runs (SandboxViolation); had it run, building the value
    # would have ended in a ScriptTimeout or a MemoryError instead.
    with pytest.raises(SandboxViolation):
        sandbox.evaluate(expression, {})


def test_augmented_repetition_is_bounded_too(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxViolation):
        sandbox.execute("x = [1, 2]\nx *= 10 ** 8", {})


def test_a_nested_sandbox_call_keeps_the_outer_deadline() -> None:
    inner = Sandbox(timeout_seconds=0.1)

    def helper() -> str:
        try:
            inner.execute("while True:\n    pass", {})
        except ScriptTimeout:
            return "inner timed out"
        return "finished"

    outer = Sandbox(timeout_seconds=0.4, extra_globals={"helper": helper})
    assert run(outer, "result = helper()") == {"result": "inner timed out"}
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        outer.execute("result = helper()\nwhile True:\n    pass", {})
    assert time.monotonic() - started < 1.5


def test_an_outer_deadline_stops_a_slower_inner_evaluation() -> None:
    inner = Sandbox(timeout_seconds=5)
    helper = lambda: inner.execute("while True:\n    pass", {})  # noqa: E731
    outer = Sandbox(timeout_seconds=0.2, extra_globals={"helper": helper})
    started = time.monotonic()
    with pytest.raises(ScriptTimeout) as err:
        outer.execute("helper()", {})
    assert err.value.context["timeout_seconds"] == 0.2
    assert time.monotonic() - started < 1.5


def test_concurrent_evaluations_are_not_disturbed_by_one_that_times_out() -> None:
    # One watchdog serves every sandbox: the one that fires at thread 0 must hit nobody else. The
    # others get a long timeout of their own, so a thread that waits for the GIL while the machine
    # is busy is not mistaken for one the watchdog disturbed.
    slow = Sandbox(timeout_seconds=0.3)
    sandbox = Sandbox(timeout_seconds=10)
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}
    barrier = threading.Barrier(8)

    def work(index: int) -> None:
        barrier.wait()
        try:
            if index == 0:
                slow.execute("while True:\n    pass", {})
            else:
                deadline = time.monotonic() + 0.8
                values = []
                while time.monotonic() < deadline:
                    values.append(sandbox.evaluate("amount * 2 > limit", {"amount": index, "limit": 7}))
                    data = {"items": list(range(index))}
                    sandbox.execute("total = sum(items)\ncount = len(items)", data)
                    assert data["total"] == sum(range(index))
                results[index] = set(values)
        except BaseException as exc:  # every failure must show up in the assertions below
            errors[index] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert isinstance(errors.pop(0), ScriptTimeout)
    assert errors == {}
    assert results == {i: {i * 2 > 7} for i in range(1, 8)}


# --- ordinary scripts -----------------------------------------------------------------------------


def test_evaluate_returns_values(sandbox: Sandbox) -> None:
    assert sandbox.evaluate("amount > 1000", {"amount": 1500}) is True
    order = {"customer": {"name": "acme"}}
    assert sandbox.evaluate("order['customer']['name'].upper()", {"order": order}) == "ACME"
    lines = [{"qty": 2}]
    assert sandbox.evaluate("[line['qty'] * rate for line in lines]", {"lines": lines, "rate": 3}) == [6]
    assert sandbox.evaluate("'PT1H'", {}) == "PT1H"
    assert sandbox.evaluate("(n := 5) + n", {}) == 10
    assert sandbox.evaluate("isinstance(count, int) and int('12') == 12", {"count": 3}) is True


def test_evaluate_does_not_change_the_variables(sandbox: Sandbox) -> None:
    variables = {"amount": 1}
    sandbox.evaluate("(amount := 2) + 1", variables)
    assert variables == {"amount": 1}


def test_a_script_builds_and_changes_data(sandbox: Sandbox) -> None:
    script = """
total = price * quantity
lines = [{'sku': s, 'qty': q} for s, q in zip(skus, qtys) if q > 0]
summary = {'count': 0}
for line in lines:
    summary['count'] += 1
order['status'] = 'priced'
order['tags'].append('checked')
labels = sorted({s.lower() for s in skus}, reverse=True)
first, *rest = skus
a, (b, c) = 1, (2, 3)
note = f"{customer} owes {total:.2f} for {len(lines)} lines"
"""
    variables = run(
        sandbox,
        script,
        price=Decimal("10.05"),
        quantity=2,
        skus=["B", "A"],
        qtys=[1, 0],
        customer="ACME",
        order={"tags": []},
    )
    assert variables["total"] == Decimal("20.10")
    assert variables["lines"] == [{"sku": "B", "qty": 1}]
    assert variables["summary"] == {"count": 1}
    assert variables["order"] == {"status": "priced", "tags": ["checked"]}
    assert variables["labels"] == ["b", "a"]
    assert (variables["first"], variables["rest"], variables["c"]) == ("B", ["A"], 3)
    assert variables["note"] == "ACME owes 20.10 for 1 lines"


def test_dates_decimals_and_string_methods_work(sandbox: Sandbox) -> None:
    script = """
due = start + timedelta(days=30)
late = due < date(2027, 1, 1)
stamp = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc).isoformat()
parsed = datetime.strptime('2026-05-01', '%Y-%m-%d').date()
today = date.today()
now = datetime.now(timezone.utc)
net = (gross / Decimal('1.2')).quantize(Decimal('0.01'))
rounded = round(Decimal('2.567'), 2)
words = ' '.join(w.capitalize() for w in 'hello big world'.split())
padded = '7'.zfill(3) + '-' + 'x'.center(5, '*')
percent = '%s: %d%%' % ('done', 50)
"""
    variables = run(sandbox, script, start=date(2026, 12, 1), gross=Decimal("120"))
    assert variables["due"] == date(2026, 12, 31)
    assert variables["late"] is True
    assert variables["stamp"] == "2026-01-02T03:04:00+00:00"
    assert variables["parsed"] == date(2026, 5, 1)
    assert isinstance(variables["today"], date)
    assert isinstance(variables["now"], datetime)
    assert variables["net"] == Decimal("100.00")
    assert variables["rounded"] == Decimal("2.57")
    assert variables["words"] == "Hello Big World"
    assert variables["padded"] == "007-**x**"
    assert variables["percent"] == "done: 50%"
    assert sandbox.evaluate("timezone.utc", {}) is UTC
    assert sandbox.evaluate("timedelta(hours=1)", {}) == timedelta(hours=1)


def test_str_format_is_refused_even_on_a_harmless_literal(sandbox: Sandbox) -> None:
    # Documented limitation: str.format/format_map can walk '{0.__class__}' fields, so they are refused
    # wholesale; f-strings go through the same guards as code and are the way to format.
    with pytest.raises(SandboxViolation, match="use an f-string"):
        sandbox.check("'{} items'.format(3)", "eval")
    assert sandbox.evaluate("f'{n} items'", {"n": 3}) == "3 items"


def test_execute_keeps_spiffworkflow_task_data_semantics(sandbox: Sandbox) -> None:
    script = """
def double(v):
    return v * 2
doubled = double(value)
del obsolete
fn = len
kind = int
increment = lambda v: v + 1
bumped = increment(1)
"""
    variables = run(sandbox, script, value=21, obsolete="gone", untouched={"a": 1})
    assert variables == {"value": 21, "untouched": {"a": 1}, "doubled": 42, "bumped": 2}


def test_a_global_set_inside_a_function_is_task_data(sandbox: Sandbox) -> None:
    assert run(sandbox, "def mark():\n    global marked\n    marked = True\nmark()") == {"marked": True}


def test_variables_shadow_the_sandbox_names(sandbox: Sandbox) -> None:
    assert sandbox.evaluate("date", {"date": "2026-01-01"}) == "2026-01-01"
    assert run(sandbox, "type = 'invoice'\nkind = type.upper()") == {"type": "invoice", "kind": "INVOICE"}


def test_print_is_harmless(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(sandbox, "print('hello', 1)\nx = 1") == {"x": 1}
    assert sandbox.evaluate("print('hi')", {}) is None
    assert capsys.readouterr().out == ""


def test_a_failed_script_leaves_the_top_level_names_as_they_were(sandbox: Sandbox) -> None:
    variables = {"x": 1}
    with pytest.raises(ScriptError):
        sandbox.execute("x = 2\ny = 1 / 0", variables)
    assert variables == {"x": 1}


# --- errors ---------------------------------------------------------------------------------------


def test_a_syntax_error_names_the_line_and_offset(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.check("x = 1\nif x\n    y = 2", "exec")
    assert type(err.value) is ScriptError
    assert "line 2, column 5" in err.value.message
    assert (err.value.context["line"], err.value.context["offset"]) == (2, 5)


def test_a_runtime_error_keeps_its_type_message_line_and_cause(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute("a = 1\nb = {}\nc = b['missing']", {})
    assert type(err.value) is ScriptError
    assert err.value.message == "KeyError: 'missing' (line 3 of the script)"
    assert err.value.context == {"line": 3, "error_type": "KeyError"}
    assert isinstance(err.value.__cause__, KeyError)


def test_an_error_inside_a_script_function_points_at_its_line(sandbox: Sandbox) -> None:
    with pytest.raises(ScriptError) as err:
        sandbox.execute("def f():\n    return missing_name\nvalue = f()", {})
    assert err.value.context["line"] == 2
    assert "NameError: name 'missing_name' is not defined" in err.value.message


def test_all_violations_are_listed(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxViolation) as err:
        sandbox.check("import os\nx = y.__dict__", "exec")
    assert err.value.context["line"] == 1
    assert len(err.value.context["violations"]) == 2
    assert "1 more problem" in err.value.message


def test_refused_expressions_stay_refused_when_cached(sandbox: Sandbox) -> None:
    for _ in range(3):
        with pytest.raises(SandboxViolation):
            sandbox.evaluate("__import__('os')", {})


def test_extra_globals_are_available_but_private_names_are_refused() -> None:
    sandbox = Sandbox(extra_globals={"VAT": Decimal("0.2"), "half": lambda v: v / 2})
    assert sandbox.evaluate("half(net) * (1 + VAT)", {"net": Decimal(10)}) == Decimal("6.0")
    with pytest.raises(ValueError, match="must not start with '_'"):
        Sandbox(extra_globals={"_hidden": 1})
