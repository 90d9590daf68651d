"""Credit check: the customer's open invoices plus this order against the credit limit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.handlers import HandlerContext
from handlers.effects import Result
from handlers.erp.invoicing import DEFAULT_CURRENCY, invoice_lines
from handlers.erp.models import Customer, Invoice, InvoiceKind, InvoiceStatus
from handlers.erp.taxes import Rounding, compute_invoice, currency_places, round_money
from handlers.exceptions import NotFoundError
from handlers.inputs import value
from handlers.registry import builtin


def open_balance(session: Session, customer_id: str) -> Decimal:
    """Posted invoices less posted credit notes (no payments are recorded yet: all posted is open)."""

    def total(kind: InvoiceKind) -> Decimal:
        found = session.scalar(
            select(func.sum(Invoice.total)).where(
                Invoice.customer_id == customer_id,
                Invoice.kind == kind.value,
                Invoice.status == InvoiceStatus.POSTED.value,
            )
        )
        return found if isinstance(found, Decimal) else Decimal("0")

    return total(InvoiceKind.INVOICE) - total(InvoiceKind.CREDIT_NOTE)


def check(session: Session, customer_id: str, order_total: Decimal, currency: str) -> Result:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer has id {customer_id!r}; run crm.ensure_customer first")
    places = currency_places(currency)
    exposure = round_money(open_balance(session, customer_id) + order_total, places)
    limit = round_money(customer.credit_limit, places)
    return {
        "creditOk": exposure <= limit,
        "creditExposure": exposure,
        "creditLimit": limit,
        "orderTotal": round_money(order_total, places),
    }


@builtin("erp.check_credit")
def check_credit(ctx: HandlerContext) -> Result:
    """Inputs ``customerId``, ``orderLines``, optional ``currency``; reads only, so no idempotency record."""
    customer_id = str(value(ctx, "customerId"))
    currency = str(value(ctx, "currency", DEFAULT_CURRENCY)).upper()
    lines = invoice_lines(ctx.session, value(ctx, "orderLines"))
    order_total = compute_invoice([tax for _, tax in lines], currency, Rounding.PER_LINE).total
    return check(ctx.session, customer_id, order_total, currency)
