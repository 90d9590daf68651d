"""Money and taxes: Decimal amounts rounded half-up to the currency's precision (as Odoo does).

Prices may exclude tax (tax = base x rate) or include it (base = price / (1 + sum of rates), so
1000.00 including 10 % is 909.09 + 90.91); a line may carry several rates (each on the base) and a
fixed amount. Rounding happens per line or once on the totals (a setting); with total rounding
the lines are shown rounded too and the difference goes to the last line, so the lines always
add up to the totals.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision, is_currency

from handlers.exceptions import HandlerInputError

ZERO = Decimal("0")
EXACT = Decimal("1e-10")  # intermediate amounts: far below any currency's cent, never float


class Rounding(enum.StrEnum):
    PER_LINE = "line"
    TOTAL = "total"


def currency_places(currency: str) -> int:
    if not isinstance(currency, str) or not is_currency(currency.upper()):
        raise HandlerInputError(f"currency {currency!r} is not an ISO 4217 code such as EUR, USD or JPY")
    places: int = get_currency_precision(currency.upper())
    return places


def round_money(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxLine:
    quantity: Decimal
    unit_price: Decimal
    rates: tuple[Decimal, ...] = ()
    tax_included: bool = False
    fixed_tax: Decimal = ZERO  # a fixed amount for the line (eco fee, excise), never scaled by a rate


@dataclass
class LineAmounts:
    net: Decimal
    taxes: list[Decimal]  # one per rate, in the order of ``TaxLine.rates``
    fixed: Decimal
    gross: Decimal

    @property
    def tax(self) -> Decimal:
        return sum(self.taxes, ZERO) + self.fixed


@dataclass
class InvoiceAmounts:
    lines: list[LineAmounts]
    net_total: Decimal
    tax_total: Decimal
    total: Decimal
    by_rate: dict[Decimal, Decimal] = field(default_factory=dict)  # rate -> tax amount


def exact_line(line: TaxLine) -> LineAmounts:
    """The line's amounts before any rounding to the currency."""
    amount = line.quantity * line.unit_price
    total_rate = sum(line.rates, ZERO)
    if line.tax_included:
        net = ((amount - line.fixed_tax) / (1 + total_rate)).quantize(EXACT)
        taxes = [(net * rate).quantize(EXACT) for rate in line.rates]
        gross = amount
    else:
        net = amount
        taxes = [(net * rate).quantize(EXACT) for rate in line.rates]
        gross = net + sum(taxes, ZERO) + line.fixed_tax
    return LineAmounts(net, taxes, line.fixed_tax, gross)


def _round_line(line: TaxLine, places: int) -> LineAmounts:
    exact = exact_line(line)
    net = round_money(exact.net, places)
    fixed = round_money(line.fixed_tax, places)
    if line.tax_included:
        # The price the customer sees is the gross: it stays exact, the tax absorbs the rounding.
        gross = round_money(exact.gross, places)
        taxes = [round_money(t, places) for t in exact.taxes]
        if taxes:
            taxes[-1] += gross - net - fixed - sum(taxes, ZERO)
    else:
        taxes = [round_money(net * rate, places) for rate in line.rates]
        gross = net + sum(taxes, ZERO) + fixed
    return LineAmounts(net, taxes, fixed, gross)


def _by_rate(lines: Sequence[TaxLine], amounts: Sequence[LineAmounts]) -> dict[Decimal, Decimal]:
    totals: dict[Decimal, Decimal] = {}
    for line, amount in zip(lines, amounts, strict=True):
        for rate, tax in zip(line.rates, amount.taxes, strict=True):
            totals[rate] = totals.get(rate, ZERO) + tax
    return totals


def compute_invoice(lines: Sequence[TaxLine], currency: str, rounding: Rounding) -> InvoiceAmounts:
    places = currency_places(currency)
    if not lines:
        raise HandlerInputError("an invoice needs at least one line with a quantity above zero")
    if rounding is Rounding.PER_LINE:
        rounded = [_round_line(line, places) for line in lines]
        by_rate = _by_rate(lines, rounded)
        fixed = sum((a.fixed for a in rounded), ZERO)
        net_total = sum((a.net for a in rounded), ZERO)
        tax_total = sum(by_rate.values(), ZERO) + fixed
        return InvoiceAmounts(rounded, net_total, tax_total, net_total + tax_total, by_rate)
    exact = [exact_line(line) for line in lines]
    exact_by_rate = _by_rate(lines, exact)
    by_rate = {rate: round_money(tax, places) for rate, tax in exact_by_rate.items()}
    fixed = round_money(sum((a.fixed for a in exact), ZERO), places)
    if all(line.tax_included for line in lines):
        total = round_money(sum((a.gross for a in exact), ZERO), places)
        net_total = round_money(sum((a.net for a in exact), ZERO), places)
        if by_rate:  # the gross the customer agreed to stays; the last rate absorbs the cent
            last = list(by_rate)[-1]
            by_rate[last] += total - net_total - fixed - sum(by_rate.values(), ZERO)
    else:
        net_total = round_money(sum((a.net for a in exact), ZERO), places)
        total = net_total + sum(by_rate.values(), ZERO) + fixed
    tax_total = total - net_total
    shown = [_round_line(line, places) for line in lines]
    _push_difference_to_last_line(lines, shown, net_total, by_rate, fixed)
    return InvoiceAmounts(shown, net_total, tax_total, total, by_rate)


def _push_difference_to_last_line(
    lines: Sequence[TaxLine],
    shown: list[LineAmounts],
    net_total: Decimal,
    by_rate: dict[Decimal, Decimal],
    fixed: Decimal,
) -> None:
    last = shown[-1]
    last.net += net_total - sum((a.net for a in shown), ZERO)
    last.fixed += fixed - sum((a.fixed for a in shown), ZERO)
    shown_by_rate = _by_rate(lines, shown)
    for index, rate in enumerate(lines[-1].rates):
        last.taxes[index] += by_rate.get(rate, ZERO) - shown_by_rate.get(rate, ZERO)
    # A rate that the last line does not carry keeps its (cent) difference on the totals only.
    last.gross = last.net + last.tax
