"""What the CRM pages list: leads page by page, a lead's duplicate links, customers and their invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from handlers.crm.models import Lead, LeadStatus
from handlers.erp.models import Customer, Invoice
from handlers.exceptions import NotFoundError
from handlers.paging import Slice, page_of


def leads(session: Session, *, status: LeadStatus | None, first: int, max_results: int) -> Slice[Lead]:
    """Newest first."""
    query = select(Lead).order_by(Lead.created_at.desc(), Lead.id)
    if status is not None:
        query = query.where(Lead.status == status.value)
    return page_of(session, query, first, max_results)


@dataclass(frozen=True)
class Activity:
    kind: str
    at: datetime | None  # None when the captured value is not a timestamp


def activities(lead: Lead) -> list[Activity]:
    """What the lead did, newest first, as captured (the scoring reads the same list)."""
    found = []
    for raw in lead.data.get("activities") or []:
        if not isinstance(raw, dict):
            continue
        try:
            at: datetime | None = datetime.fromisoformat(str(raw.get("at")))
        except ValueError:
            at = None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        found.append(Activity(str(raw.get("type") or "activity"), at))
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda a: a.at or oldest, reverse=True)


def duplicate_links(session: Session, lead: Lead) -> list[Lead]:
    """The lead this one duplicates and the leads that duplicate it (same phone, never merged)."""
    query = select(Lead).where(Lead.id != lead.id).order_by(Lead.created_at, Lead.id)
    links = [Lead.duplicate_of_id == lead.id]
    if lead.duplicate_of_id is not None:
        links.append(Lead.id == lead.duplicate_of_id)
    return list(session.scalars(query.where(or_(*links))))


def customers(session: Session, *, archived: bool | None, first: int, max_results: int) -> Slice[Customer]:
    """By name; ``archived=None`` lists both."""
    query = select(Customer).order_by(Customer.name, Customer.id)
    if archived is not None:
        query = query.where(Customer.archived == archived)
    return page_of(session, query, first, max_results)


def get_customer(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer has id {customer_id!r}", customer_id=customer_id)
    return customer


def customer_invoices(session: Session, customer_id: str) -> list[Invoice]:
    """Invoices and credit notes, oldest first."""
    return list(
        session.scalars(
            select(Invoice).where(Invoice.customer_id == customer_id).order_by(Invoice.created_at, Invoice.id)
        )
    )
