"""Money and taxes: half-up rounding to the currency, prices with and without tax, rounding modes."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from handlers.erp.taxes import Rounding, TaxLine, compute_invoice, round_money
from handlers.exceptions import HandlerInputError


def test_1000_including_10_percent_is_909_09_plus_90_91() -> None:
    result = compute_invoice(
        [TaxLine(D("1"), D("1000.00"), (D("0.10"),), tax_included=True)], "EUR", Rounding.PER_LINE
    )

    assert (result.net_total, result.tax_total, result.total) == (D("909.09"), D("90.91"), D("1000.00"))
    assert result.by_rate == {D("0.10"): D("90.91")}


def test_price_excluding_tax_adds_the_tax() -> None:
    result = compute_invoice([TaxLine(D("3"), D("19.99"), (D("0.19"),))], "EUR", Rounding.PER_LINE)

    assert (result.net_total, result.tax_total, result.total) == (D("59.97"), D("11.39"), D("71.36"))


def test_rounding_is_half_up_not_pythons_half_even() -> None:
    assert round_money(D("0.125"), 2) == D("0.13")
    assert round_money(D("2.5"), 0) == D("3")
    result = compute_invoice([TaxLine(D("1"), D("0.25"), (D("0.10"),))], "EUR", Rounding.PER_LINE)
    assert result.tax_total == D("0.03")  # 0.025 -> 0.03


def test_per_line_and_total_rounding_differ_and_lines_add_up_to_the_totals() -> None:
    lines = [TaxLine(D("1"), D("1.05"), (D("0.10"),)) for _ in range(3)]

    per_line = compute_invoice(lines, "EUR", Rounding.PER_LINE)
    on_total = compute_invoice(lines, "EUR", Rounding.TOTAL)

    assert per_line.tax_total == D("0.33")  # 3 x round(0.105)
    assert on_total.tax_total == D("0.32")  # round(0.315)
    for result in (per_line, on_total):
        assert sum(line.net for line in result.lines) == result.net_total
        assert sum(line.tax for line in result.lines) == result.tax_total
        assert sum(line.gross for line in result.lines) == result.total
    assert [line.tax for line in on_total.lines] == [
        D("0.11"),
        D("0.11"),
        D("0.10"),
    ]  # the difference: last line


def test_several_rates_on_one_line_and_a_fixed_amount() -> None:
    line = TaxLine(D("2"), D("50.00"), (D("0.19"), D("0.02")), fixed_tax=D("1.50"))

    result = compute_invoice([line], "EUR", Rounding.PER_LINE)

    assert result.by_rate == {D("0.19"): D("19.00"), D("0.02"): D("2.00")}
    assert (result.net_total, result.tax_total, result.total) == (D("100.00"), D("22.50"), D("122.50"))


def test_several_rates_included_in_the_price_keep_the_price() -> None:
    line = TaxLine(D("1"), D("100.00"), (D("0.19"), D("0.05")), tax_included=True)

    result = compute_invoice([line], "EUR", Rounding.PER_LINE)

    assert result.total == D("100.00")
    assert result.net_total == D("80.65")  # 100 / 1.24
    assert result.by_rate == {D("0.19"): D("15.32"), D("0.05"): D("4.03")}


def test_currency_precision_comes_from_the_currency() -> None:
    yen = compute_invoice([TaxLine(D("3"), D("333"), (D("0.10"),))], "JPY", Rounding.PER_LINE)
    dinar = compute_invoice([TaxLine(D("1"), D("1.2345"), ())], "KWD", Rounding.PER_LINE)

    assert yen.tax_total == D("100") and yen.total == D("1099")
    assert dinar.total == D("1.235")


def test_unknown_currency_and_empty_invoice_are_refused() -> None:
    with pytest.raises(HandlerInputError, match="'EURO' is not an ISO 4217 code"):
        compute_invoice([TaxLine(D("1"), D("1"))], "EURO", Rounding.PER_LINE)
    with pytest.raises(HandlerInputError, match="at least one line"):
        compute_invoice([], "EUR", Rounding.PER_LINE)
