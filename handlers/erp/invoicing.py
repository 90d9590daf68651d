"""Invoices from order lines: draft, then posted with a gapless number and a frozen rendering.

A posted invoice is never edited or deleted; a credit note (series RINV) that references it
corrects it. One invoice per order (a unique key on the order), so a repeated create finds the
first one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.handlers import HandlerContext
from handlers.effects import Result, once
from handlers.erp.catalogue import get_product
from handlers.erp.models import Customer, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from handlers.erp.numbering import CREDIT_NOTE_SERIES, INVOICE_SERIES, next_document_number
from handlers.erp.rendering import render_invoice
from handlers.erp.taxes import Rounding, TaxLine, compute_invoice, currency_places, round_money
from handlers.exceptions import HandlerInputError, NotFoundError
from handlers.inputs import date_value, decimal, order_ref, places, utcnow, value
from handlers.registry import builtin

DEFAULT_CURRENCY = "EUR"


def _rates(item: Mapping[str, Any], what: str) -> tuple[Decimal, ...]:
    raw = item.get("taxRates", item.get("taxRate"))
    if raw is None:
        return ()
    values = raw if isinstance(raw, list) else [raw]
    rates = tuple(places(decimal(v, f"{what}.taxRate"), 4, f"{what}.taxRate") for v in values)
    for rate in rates:
        if not 0 <= rate < 1:
            raise HandlerInputError(f"{what}.taxRate must be a fraction such as 0.19 for 19 %, not {rate}")
    return rates


def invoice_lines(
    session: Session, raw: Any, reserved: Sequence[Mapping[str, Any]] | None = None
) -> list[tuple[dict[str, Any], TaxLine]]:
    """Lines to invoice: the ordered quantities, or what was reserved when a reservation is given."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise HandlerInputError(
            "orderLines must be a non-empty Json list of {sku, quantity, unitPrice} objects"
        )
    reserved_by_line = {int(r["line"]): decimal(r["reserved"], "reserved") for r in reserved or []}
    result: list[tuple[dict[str, Any], TaxLine]] = []
    for index, item in enumerate(raw, start=1):
        what = f"orderLines[{index - 1}]"
        if not isinstance(item, Mapping):
            raise HandlerInputError(f"{what} must be an object with sku, quantity and unitPrice")
        line_no = int(item.get("line") or index)
        sku = item.get("sku")
        product = get_product(session, str(sku)) if sku else None
        quantity = decimal(item.get("quantity"), f"{what}.quantity")
        if reserved_by_line:
            quantity = reserved_by_line.get(line_no, Decimal("0"))
        if quantity <= 0:
            continue  # nothing of this line is delivered: nothing to invoice
        price_raw = item.get("unitPrice", product.list_price if product else None)
        if price_raw is None:
            raise HandlerInputError(f"{what} needs a unitPrice (the product has no list price)")
        tax = TaxLine(
            quantity=quantity,
            unit_price=places(decimal(price_raw, f"{what}.unitPrice"), 4, f"{what}.unitPrice"),
            rates=_rates(item, what)
            or ((product.tax_rate,) if product and product.tax_rate is not None else ()),
            tax_included=bool(item.get("taxIncluded", False)),
            fixed_tax=places(decimal(item.get("fixedTax", 0), f"{what}.fixedTax"), 4, f"{what}.fixedTax"),
        )
        meta = {
            "line_no": line_no,
            "sku": product.sku if product else None,
            "description": str(
                item.get("description") or (product.name if product else sku or f"line {line_no}")
            ),
        }
        result.append((meta, tax))
    return result


def create(
    session: Session,
    *,
    order: str,
    customer_id: str,
    lines: list[tuple[dict[str, Any], TaxLine]],
    currency: str,
    rounding: Rounding,
    now: datetime,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    credit_of: Invoice | None = None,
) -> Invoice:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer has id {customer_id!r}; run crm.ensure_customer first")
    order_key = order if kind is InvoiceKind.INVOICE else None
    if order_key is not None:
        existing = session.scalars(select(Invoice).where(Invoice.order_key == order_key)).first()
        if existing is not None:
            return existing  # one invoice per order
    amounts = compute_invoice([tax for _, tax in lines], currency, rounding)
    invoice = Invoice(
        id=str(uuid.uuid4()),
        kind=kind.value,
        order_key=order_key,
        order_ref=order,
        customer_id=customer.id,
        credit_of_id=credit_of.id if credit_of else None,
        status=InvoiceStatus.DRAFT.value,
        currency=currency.upper(),
        rounding=rounding.value,
        net_total=amounts.net_total,
        tax_total=amounts.tax_total,
        total=amounts.total,
        tax_breakdown=[
            {"rate": str(rate), "amount": str(tax)} for rate, tax in sorted(amounts.by_rate.items())
        ],
        created_at=now,
    )
    session.add(invoice)
    for (meta, tax), line in zip(lines, amounts.lines, strict=True):
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                line_no=meta["line_no"],
                sku=meta["sku"],
                description=meta["description"][:300],
                quantity=tax.quantity,
                unit_price=tax.unit_price,
                tax_included=tax.tax_included,
                tax_rates=[str(rate) for rate in tax.rates],
                net=line.net,
                tax=line.tax,
                gross=line.gross,
            )
        )
    session.flush()
    session.refresh(invoice)
    return invoice


def get_invoice(session: Session, invoice_id: str, *, lock: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id)
    if lock:
        query = query.with_for_update()
    invoice = session.scalars(query).first()
    if invoice is None:
        raise NotFoundError(f"no invoice has id {invoice_id!r}", invoice_id=invoice_id)
    return invoice


def post(session: Session, invoice_id: str, issue_date: date, now: datetime) -> Invoice:
    """Draft -> posted: the number is taken now, in this transaction; the HTML is frozen."""
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.status == InvoiceStatus.POSTED.value:
        return invoice  # posting twice changes nothing and takes no second number
    InvoiceStatus(invoice.status).check(InvoiceStatus.POSTED, what=f"invoice {invoice.id}")
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None  # a foreign key
    series = CREDIT_NOTE_SERIES if invoice.kind == InvoiceKind.CREDIT_NOTE.value else INVOICE_SERIES
    invoice.number = next_document_number(session, series, issue_date.year)
    invoice.status = InvoiceStatus.POSTED.value
    invoice.issue_date = issue_date
    invoice.due_date = issue_date + timedelta(days=customer.payment_terms_days)
    invoice.posted_at = now
    credit_of = session.get(Invoice, invoice.credit_of_id) if invoice.credit_of_id else None
    invoice.html = render_invoice(invoice, customer, credit_of)
    session.flush()
    return invoice


def credit(session: Session, invoice_id: str, issue_date: date, now: datetime) -> Invoice:
    """A posted credit note for all of a posted invoice; the invoice itself stays as it was."""
    original = get_invoice(session, invoice_id, lock=True)
    if original.status != InvoiceStatus.POSTED.value or original.kind != InvoiceKind.INVOICE.value:
        raise HandlerInputError(
            f"invoice {invoice_id} is a {original.kind} in status {original.status}: only posted invoices "
            "are credited (a draft is simply cancelled)"
        )
    existing = session.scalars(
        select(Invoice).where(
            Invoice.credit_of_id == original.id, Invoice.kind == InvoiceKind.CREDIT_NOTE.value
        )
    ).first()
    if existing is not None:
        return existing  # credited in full already
    lines = [
        (
            {"line_no": line.line_no, "sku": line.sku, "description": line.description},
            TaxLine(
                line.quantity, line.unit_price, tuple(Decimal(r) for r in line.tax_rates), line.tax_included
            ),
        )
        for line in original.lines
    ]
    note = create(
        session,
        order=original.order_ref,
        customer_id=original.customer_id,
        lines=lines,
        currency=original.currency,
        rounding=Rounding(original.rounding),
        now=now,
        kind=InvoiceKind.CREDIT_NOTE,
        credit_of=original,
    )
    return post(session, note.id, issue_date, now)


def cancel_draft(session: Session, invoice_id: str) -> Invoice:
    """Draft -> cancelled (it never had a number); a posted invoice is refused: credit it instead."""
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.status == InvoiceStatus.CANCELLED.value:
        return invoice
    InvoiceStatus(invoice.status).check(InvoiceStatus.CANCELLED, what=f"invoice {invoice.id}")
    invoice.status = InvoiceStatus.CANCELLED.value
    session.flush()
    return invoice


def _issue_date(ctx: HandlerContext) -> date:
    return date_value(ctx, "invoiceDate")


def _rounding(ctx: HandlerContext) -> Rounding:
    raw = value(ctx, "invoiceRounding", Rounding.PER_LINE.value)
    try:
        return Rounding(raw)
    except ValueError as err:
        raise HandlerInputError(f"invoiceRounding must be 'line' or 'total', not {raw!r}") from err


@builtin("erp.create_invoice")
def create_invoice(ctx: HandlerContext) -> Result:
    """Inputs ``customerId``, ``orderLines``, optional ``currency``, ``reservations``, ``invoiceRounding``."""
    customer_id = str(value(ctx, "customerId"))
    currency = str(value(ctx, "currency", DEFAULT_CURRENCY)).upper()
    raw_lines = value(ctx, "orderLines")
    reserved = (
        value(ctx, "reservations", None) if value(ctx, "reservationStatus", None) == "partial" else None
    )
    rounding = _rounding(ctx)

    def work() -> Result:
        lines = invoice_lines(ctx.session, raw_lines, reserved)
        invoice = create(
            ctx.session,
            order=order_ref(ctx),
            customer_id=customer_id,
            lines=lines,
            currency=currency,
            rounding=rounding,
            now=utcnow(),
        )
        return {
            "invoiceId": invoice.id,
            "invoiceStatus": invoice.status,
            "invoiceTotal": money_of(invoice, invoice.total),
        }

    return once(ctx, "erp.create_invoice", work)


@builtin("erp.post_invoice")
def post_invoice(ctx: HandlerContext) -> Result:
    """Input ``invoiceId``, optional ``invoiceDate`` (default: today, UTC)."""
    invoice_id = str(value(ctx, "invoiceId"))
    issue_date = _issue_date(ctx)

    def work() -> Result:
        invoice = post(ctx.session, invoice_id, issue_date, utcnow())
        return _posted(invoice)

    return once(ctx, "erp.post_invoice", work)


@builtin("erp.issue_credit_note")
def issue_credit_note(ctx: HandlerContext) -> Result:
    """Input ``invoiceId`` (posted); the credit note is posted at once in the RINV series."""
    invoice_id = str(value(ctx, "invoiceId"))
    issue_date = _issue_date(ctx)

    def work() -> Result:
        note = credit(ctx.session, invoice_id, issue_date, utcnow())
        return {
            "creditNoteId": note.id,
            "creditNoteNumber": note.number,
            "creditNoteTotal": money_of(note, note.total),
        }

    return once(ctx, "erp.issue_credit_note", work)


@builtin("erp.cancel_invoice")
def cancel_invoice(ctx: HandlerContext) -> Result:
    """Input ``invoiceId`` (a draft); a posted invoice is corrected by ``erp.issue_credit_note``."""
    invoice_id = str(value(ctx, "invoiceId"))

    def work() -> Result:
        return {"invoiceStatus": cancel_draft(ctx.session, invoice_id).status}

    return once(ctx, "erp.cancel_invoice", work)


def money_of(invoice: Invoice, amount: Decimal) -> Decimal:
    """An amount of ``invoice`` at its currency's precision (the column keeps four decimals)."""
    return round_money(amount, currency_places(invoice.currency))


def _posted(invoice: Invoice) -> Result:
    return {
        "invoiceStatus": invoice.status,
        "invoiceNumber": invoice.number,
        "invoiceTotal": money_of(invoice, invoice.total),
        "invoiceDueDate": invoice.due_date,
        # What the process's due-date timer waits for: overdue from the day after the due date.
        "paymentReminderAt": first_reminder_at(invoice.due_date) if invoice.due_date else None,
        "paymentStatus": invoice.payment_state,
    }


def first_reminder_at(due_date: date) -> datetime:
    """The moment an unpaid invoice is overdue: the start of the day after its due date, UTC."""
    return datetime.combine(due_date + timedelta(days=1), time.min, tzinfo=UTC)
