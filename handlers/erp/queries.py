"""What the ERP pages list: stock levels, reservations and invoices, with their filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.erp.catalogue import in_unit
from handlers.erp.invoicing import get_invoice
from handlers.erp.models import (
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Product,
    Reservation,
    StockLevel,
)
from handlers.exceptions import HandlerInputError
from handlers.paging import Slice, page_of


@dataclass(frozen=True)
class StockRow:
    """A product's level in one warehouse, quantities at its unit's precision."""

    sku: str
    name: str
    uom: str
    warehouse: str
    on_hand: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


def stock_rows(session: Session, *, sku: str | None = None) -> list[StockRow]:
    """Every (product, warehouse) level by SKU then warehouse; only ``sku``'s when given."""
    query = (
        select(StockLevel, Product)
        .join(Product, Product.sku == StockLevel.sku)
        .order_by(StockLevel.sku, StockLevel.warehouse)
    )
    if sku:
        query = query.where(StockLevel.sku == sku)
    return [
        StockRow(
            sku=level.sku,
            name=product.name,
            uom=product.uom,
            warehouse=level.warehouse,
            on_hand=in_unit(level.on_hand, product.uom),
            reserved=in_unit(level.reserved, product.uom),
        )
        for level, product in session.execute(query)
    ]


def reservations(session: Session, *, sku: str | None, first: int, max_results: int) -> Slice[Reservation]:
    """Newest first, then by order line."""
    query = select(Reservation).order_by(
        Reservation.created_at.desc(), Reservation.order_ref, Reservation.line_no
    )
    if sku:
        query = query.where(Reservation.sku == sku)
    return page_of(session, query, first, max_results)


def invoices(
    session: Session,
    *,
    order: str | None = None,
    status: InvoiceStatus | None = None,
    first: int = 0,
    max_results: int = 20,
) -> Slice[Invoice]:
    """Invoices and credit notes, newest first; ``order`` is the order id (business key)."""
    query = select(Invoice).order_by(Invoice.created_at.desc(), Invoice.id)
    if order:
        query = query.where(Invoice.order_ref == order)
    if status is not None:
        query = query.where(Invoice.status == status.value)
    return page_of(session, query, first, max_results)


def order_invoices(session: Session, order: str) -> list[Invoice]:
    """An order's invoice and credit notes, oldest first (what /api/erp/invoices?orderId= lists)."""
    return list(
        session.scalars(select(Invoice).where(Invoice.order_ref == order).order_by(Invoice.created_at))
    )


def credit_notes(session: Session, invoice_id: str) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.credit_of_id == invoice_id, Invoice.kind == InvoiceKind.CREDIT_NOTE.value)
            .order_by(Invoice.created_at, Invoice.id)
        )
    )


def customer_names(session: Session, invoices: list[Invoice]) -> dict[str, str]:
    """The names of the customers of ``invoices``, by customer id (one query)."""
    ids = {invoice.customer_id for invoice in invoices}
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {customer_id: name for customer_id, name in rows}


def frozen_html(session: Session, invoice_id: str) -> str:
    """The document rendered at posting: exactly what the customer received."""
    invoice = get_invoice(session, invoice_id)
    if invoice.html is None:
        raise HandlerInputError(
            f"invoice {invoice_id} is a {invoice.status} draft: it is rendered when it is posted"
        )
    return invoice.html
