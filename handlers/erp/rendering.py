"""The HTML of an invoice or credit note (Jinja2, autoescaped), rendered once at posting and kept."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, select_autoescape

from handlers.erp.models import Customer, Invoice, InvoiceKind
from handlers.erp.taxes import currency_places, round_money
from handlers.inputs import show

_env = Environment(
    loader=PackageLoader("handlers.erp", "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)
LOCALE = "en_US"


def render_invoice(invoice: Invoice, customer: Customer, credit_of: Invoice | None = None) -> str:
    places = currency_places(invoice.currency)

    def money(amount: Any) -> str:
        return str(
            format_currency(round_money(Decimal(str(amount)), places), invoice.currency, locale=LOCALE)
        )

    def percent(rate: Any) -> str:
        return f"{format_decimal(Decimal(str(rate)) * 100, locale=LOCALE)} %"

    def rates(values: list[str]) -> str:
        return ", ".join(percent(v) for v in values) or "-"

    title = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE.value else "Invoice"
    template = _env.get_template("erp/invoice.html")
    return template.render(
        invoice=invoice,
        customer=customer,
        credit_of=credit_of,
        title=title,
        money=money,
        percent=percent,
        rates=rates,
        qty=show,
    )
