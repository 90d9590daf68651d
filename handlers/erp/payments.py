"""Payments against posted invoices, and dunning when they do not come.

A posted invoice is never edited: payments are rows of their own, and the invoice carries only
their sum and a payment state (not paid / partially paid / paid) beside its status, as Odoo's
``payment_state`` does. Dunning raises the invoice's level (1, 2, 3 ...) and writes one reminder
letter per level into an outbox table, in the same transaction, for a mailer to deliver.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.handlers import HandlerContext
from handlers.effects import Result, once
from handlers.erp.invoicing import get_invoice, money_of
from handlers.erp.models import DunningLetter, Invoice, InvoiceKind, InvoiceStatus, Payment, PaymentState
from handlers.erp.taxes import currency_places
from handlers.exceptions import HandlerInputError
from handlers.inputs import date_value, decimal, moment_value, places, utcnow, value, where
from handlers.registry import builtin

DEFAULT_DUNNING_INTERVAL_DAYS = 14


def _payable(invoice: Invoice) -> None:
    if invoice.kind != InvoiceKind.INVOICE.value or invoice.status != InvoiceStatus.POSTED.value:
        raise HandlerInputError(
            f"invoice {invoice.id} is a {invoice.kind} in status {invoice.status}: payments and "
            "reminders are for posted invoices; post it first"
        )


def amount_due(invoice: Invoice) -> Decimal:
    return max(Decimal("0"), money_of(invoice, invoice.total - invoice.amount_paid))


def pay(
    session: Session, invoice_id: str, amount: Decimal, paid_on: date, reference: str | None, now: datetime
) -> Invoice:
    """Record ``amount`` against the invoice (row-locked: two payments at once both count)."""
    invoice = get_invoice(session, invoice_id, lock=True)
    _payable(invoice)
    session.add(
        Payment(
            id=str(uuid.uuid4()),
            invoice_id=invoice.id,
            amount=amount,
            paid_on=paid_on,
            reference=reference,
            created_at=now,
        )
    )
    invoice.amount_paid = invoice.amount_paid + amount
    # An overpayment still settles the invoice; the surplus is reported, not refused, because
    # the money has arrived whatever the process thinks of it.
    invoice.payment_state = (
        PaymentState.PAID.value if invoice.amount_paid >= invoice.total else PaymentState.PARTIAL.value
    )
    session.flush()
    return invoice


def dun(session: Session, invoice_id: str, on: date, now: datetime) -> DunningLetter | None:
    """The next dunning level and its letter; ``None`` when the invoice was paid meanwhile."""
    invoice = get_invoice(session, invoice_id, lock=True)
    _payable(invoice)
    if invoice.payment_state == PaymentState.PAID.value:
        return None
    invoice.dunning_level += 1
    invoice.last_dunned_on = on
    letter = DunningLetter(
        invoice_id=invoice.id, level=invoice.dunning_level, amount_due=amount_due(invoice), created_at=now
    )
    session.add(letter)
    session.flush()
    return letter


def letters(session: Session, invoice_id: str) -> list[DunningLetter]:
    query = select(DunningLetter).where(DunningLetter.invoice_id == invoice_id).order_by(DunningLetter.level)
    return list(session.scalars(query))


def _amount(ctx: HandlerContext, invoice_currency: str) -> Decimal:
    amount = decimal(value(ctx, "amount"), "amount")
    if amount <= 0:
        raise HandlerInputError(f"{where(ctx)}: amount must be above 0, not {amount}")
    return places(amount, currency_places(invoice_currency), f"amount in {invoice_currency}")


@builtin("erp.record_payment")
def record_payment(ctx: HandlerContext) -> Result:
    """Inputs ``invoiceId``, ``amount``; optional ``paymentDate`` (today by default), ``paymentReference``."""
    invoice_id = str(value(ctx, "invoiceId"))
    paid_on = date_value(ctx, "paymentDate")
    reference = value(ctx, "paymentReference", None)

    def work() -> Result:
        currency = get_invoice(ctx.session, invoice_id).currency
        invoice = pay(
            ctx.session,
            invoice_id,
            _amount(ctx, currency),
            paid_on,
            str(reference)[:200] if reference is not None else None,
            utcnow(),
        )
        overpaid = money_of(invoice, invoice.amount_paid - invoice.total)
        return {
            "paymentStatus": invoice.payment_state,
            "amountPaid": money_of(invoice, invoice.amount_paid),
            "amountDue": amount_due(invoice),
            "amountOverpaid": max(Decimal("0"), overpaid),
        }

    return once(ctx, "erp.record_payment", work)


@builtin("erp.start_dunning")
def start_dunning(ctx: HandlerContext) -> Result:
    """Inputs ``invoiceId``, ``paymentReminderAt`` (when this reminder fell due), ``dunningIntervalDays``."""
    invoice_id = str(value(ctx, "invoiceId"))
    # The next reminder counts from when this one was due, not from when a worker got to it, so
    # reminders keep their rhythm (and follow the engine's clock in tests).
    due = moment_value(ctx, "paymentReminderAt") or utcnow()
    raw_interval = value(ctx, "dunningIntervalDays", DEFAULT_DUNNING_INTERVAL_DAYS)
    whole = isinstance(raw_interval, int | str) and not isinstance(raw_interval, bool)
    if not whole or not str(raw_interval).isdigit():
        raise HandlerInputError(f"dunningIntervalDays must be a whole number of days, not {raw_interval!r}")
    interval = int(raw_interval)
    if interval < 1:
        raise HandlerInputError("dunningIntervalDays must be at least 1")

    def work() -> Result:
        letter = dun(ctx.session, invoice_id, due.date(), utcnow())
        invoice = get_invoice(ctx.session, invoice_id)
        return {
            "dunningLevel": invoice.dunning_level,
            "dunningLetterId": letter.id if letter else None,
            "amountDue": amount_due(invoice),
            "paymentStatus": invoice.payment_state,
            "paymentReminderAt": due + timedelta(days=interval),
        }

    return once(ctx, "erp.start_dunning", work)
