"""ERP tables: customers, products, warehouses, stock, reservations, invoices, number series.

Quantities have 3 decimals and money 4 (wide enough for three-decimal currencies); both are
``Decimal`` in Python and exact in the database, never float (see ``handlers.types``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from handlers.base import Base
from handlers.status import GuardedStatus
from handlers.types import ExactDecimal

Quantity = ExactDecimal(18, 3)
Money = ExactDecimal(18, 4)
Rate = ExactDecimal(7, 4)


class Customer(Base):
    __tablename__ = "erp_customers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The back-link to the CRM lead it was created from (ERPNext's lead_name): unique.
    lead_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320), unique=True)
    # With its country prefix when known (unique), and the number alone for prefix-less matches.
    vat_normalized: Mapped[str | None] = mapped_column(String(32), unique=True)
    vat_number: Mapped[str | None] = mapped_column(String(32), index=True)
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    credit_limit: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class Product(Base):
    __tablename__ = "erp_products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uom: Mapped[str] = mapped_column(String(16), default="unit")
    list_price: Mapped[Decimal | None] = mapped_column(Money)
    tax_rate: Mapped[Decimal | None] = mapped_column(Rate)


class Warehouse(Base):
    __tablename__ = "erp_warehouses"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class StockLevel(Base):
    __tablename__ = "erp_stock"
    __table_args__ = (
        UniqueConstraint("sku", "warehouse"),
        # The last line of defence against overselling, whatever the code above does.
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("erp_products.sku"))
    warehouse: Mapped[str] = mapped_column(ForeignKey("erp_warehouses.code"))
    on_hand: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    reserved: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved


class ReservationStatus(GuardedStatus):
    RESERVED = "reserved"
    RELEASED = "released"
    FULFILLED = "fulfilled"

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return {
            "reserved": frozenset({"released", "fulfilled"}),
            # A cancelled hold can be taken again for the same order line (reserve after release).
            "released": frozenset({"reserved"}),
            "fulfilled": frozenset(),
        }


class Reservation(Base):
    __tablename__ = "erp_reservations"
    # One reservation per order line: a second reserve for the line finds the first.
    __table_args__ = (UniqueConstraint("order_ref", "line_no"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(100), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(ForeignKey("erp_products.sku"))
    warehouse: Mapped[str] = mapped_column(ForeignKey("erp_warehouses.code"))
    requested: Mapped[Decimal] = mapped_column(Quantity)
    quantity: Mapped[Decimal] = mapped_column(Quantity)  # reserved; less than requested when partial
    backorder: Mapped[Decimal] = mapped_column(Quantity)
    status: Mapped[str] = mapped_column(String(16), default=ReservationStatus.RESERVED.value)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class InvoiceStatus(GuardedStatus):
    DRAFT = "draft"
    POSTED = "posted"
    CANCELLED = "cancelled"  # only a draft; a posted invoice is corrected by a credit note

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return {"draft": frozenset({"posted", "cancelled"}), "posted": frozenset(), "cancelled": frozenset()}


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class Invoice(Base):
    __tablename__ = "erp_invoices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=InvoiceKind.INVOICE.value)
    # Set for invoices only: one invoice per order (credit notes leave it empty).
    order_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    order_ref: Mapped[str] = mapped_column(String(100), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("erp_customers.id"), index=True)
    credit_of_id: Mapped[str | None] = mapped_column(ForeignKey("erp_invoices.id"))
    status: Mapped[str] = mapped_column(String(16), default=InvoiceStatus.DRAFT.value)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    rounding: Mapped[str] = mapped_column(String(8))  # "line" or "total"
    net_total: Mapped[Decimal] = mapped_column(Money)
    tax_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    tax_breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    issue_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    # The rendering frozen at posting: what the customer received, whatever templates do later.
    html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    posted_at: Mapped[datetime | None] = mapped_column()
    # Payment and dunning sit beside the status, as Odoo's payment_state does: a posted invoice
    # stays posted (never edited) while money comes in and reminders go out.
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    payment_state: Mapped[str] = mapped_column(String(16), default="not_paid")
    dunning_level: Mapped[int] = mapped_column(Integer, default=0)
    last_dunned_on: Mapped[date | None] = mapped_column(Date)

    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.line_no", lazy="selectin")


class InvoiceLine(Base):
    __tablename__ = "erp_invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "line_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("erp_invoices.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    tax_included: Mapped[bool] = mapped_column(Boolean)
    tax_rates: Mapped[list[str]] = mapped_column(JSON)  # decimal strings, e.g. ["0.19"]
    net: Mapped[Decimal] = mapped_column(Money)
    tax: Mapped[Decimal] = mapped_column(Money)
    gross: Mapped[Decimal] = mapped_column(Money)


class PaymentState(enum.StrEnum):
    NOT_PAID = "not_paid"
    PARTIAL = "partial"
    PAID = "paid"


class Payment(Base):
    """Money received against an invoice; the invoice's ``amount_paid`` is the sum of these."""

    __tablename__ = "erp_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("erp_invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()


class DunningLetter(Base):
    """A payment reminder to send: the outbox row written with the dunning level, one per level."""

    __tablename__ = "erp_dunning_letters"
    __table_args__ = (UniqueConstraint("invoice_id", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("erp_invoices.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    amount_due: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column()
    # Set by whatever delivers the mail (at least once; the receiver de-duplicates by id).
    sent_at: Mapped[datetime | None] = mapped_column()


class NumberSequence(Base):
    """The next number of a series in a year; its row is locked while a number is taken."""

    __tablename__ = "erp_number_sequences"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer)
