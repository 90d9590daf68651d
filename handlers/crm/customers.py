"""CRM -> ERP master data: get-or-create the customer of a won lead.

Order of matching (ERPNext, Odoo): back-link to the lead, normalised e-mail, VAT id with and
without its country prefix (archived customers included, and reactivated), else create. Unique
indexes back every key; when two transactions create the same customer at once, the loser's insert
fails on the index and it re-reads the winner's row instead of failing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.handlers import HandlerContext
from handlers.crm.leads import get_lead
from handlers.crm.models import LeadStatus
from handlers.effects import Result, once
from handlers.erp.models import Customer
from handlers.exceptions import HandlerInputError
from handlers.inputs import decimal, places, utcnow, value
from handlers.normalize import VatId, normalize_email, split_vat
from handlers.registry import builtin

DEFAULT_CREDIT_LIMIT = Decimal("10000")
DEFAULT_CURRENCY = "EUR"


def find_customer(
    session: Session, *, lead_id: str | None, email: str | None, vat: VatId | None
) -> tuple[Customer | None, str | None]:
    """The customer these keys point at (archived ones too), and the key that matched."""
    if lead_id:
        found = session.scalars(select(Customer).where(Customer.lead_id == lead_id)).first()
        if found is not None:
            return found, "lead"
    if email:
        found = session.scalars(select(Customer).where(Customer.email_normalized == email)).first()
        if found is not None:
            return found, "email"
    if vat is not None:
        if vat.full:
            # Stored with the prefix, or stored without one (the country was unknown then).
            found = session.scalars(
                select(Customer).where(
                    or_(
                        Customer.vat_normalized == vat.full,
                        (Customer.vat_normalized.is_(None)) & (Customer.vat_number == vat.number),
                    )
                )
            ).first()
        else:
            # No prefix given: the number alone decides, and only when it is unambiguous.
            candidates = list(
                session.scalars(select(Customer).where(Customer.vat_number == vat.number).limit(2))
            )
            found = candidates[0] if len(candidates) == 1 else None
            if len(candidates) > 1:
                raise HandlerInputError(
                    f"VAT number {vat.number} without a country prefix matches several customers; "
                    "give the VAT id with its prefix (e.g. DE123456789) or the lead's country"
                )
        if found is not None:
            return found, "vat"
    return None, None


def ensure(
    session: Session,
    *,
    lead_id: str | None,
    name: str,
    email_raw: Any,
    vat_raw: Any,
    country: str | None,
    currency: str,
    credit_limit: Decimal,
    now: datetime,
) -> Result:
    email = normalize_email(email_raw, where="lead.email")
    vat = split_vat(vat_raw, country, where="lead.vatId")
    if not (lead_id or email or vat):
        raise HandlerInputError("a customer needs a lead id, an e-mail or a VAT id to be found or created")
    customer, matched = find_customer(session, lead_id=lead_id, email=email, vat=vat)
    created = False
    if customer is None:
        candidate = Customer(
            id=str(uuid.uuid4()),
            lead_id=lead_id,
            name=name,
            email=str(email_raw).strip() if email else None,
            email_normalized=email,
            vat_normalized=vat.full if vat else None,
            vat_number=vat.number if vat else None,
            country=country,
            currency=currency,
            credit_limit=credit_limit,
            payment_terms_days=30,
            archived=False,
            created_at=now,
            updated_at=now,
        )
        savepoint = session.begin_nested()
        try:
            session.add(candidate)
            session.flush()
        except IntegrityError:
            # Someone else created this customer since we looked: their row wins.
            savepoint.rollback()
            customer, matched = find_customer(session, lead_id=lead_id, email=email, vat=vat)
            if customer is None:
                raise
        else:
            savepoint.commit()
            customer, matched, created = candidate, None, True
    reactivated = customer.archived
    if reactivated:
        customer.archived = False
        customer.updated_at = now
    if customer.lead_id is None and lead_id and matched != "lead":
        linked = session.scalars(select(Customer.id).where(Customer.lead_id == lead_id)).first()
        if linked is None:
            customer.lead_id = lead_id
    return {
        "customerId": customer.id,
        "customerCreated": created,
        "customerMatchedBy": matched,
        "customerReactivated": reactivated,
    }


def _country(lead: Mapping[str, Any]) -> str | None:
    raw = lead.get("country")
    return str(raw).strip().upper()[:2] or None if raw else None


@builtin("crm.ensure_customer")
def ensure_customer(ctx: HandlerContext) -> Result:
    """Inputs ``leadId`` (the won lead), optional ``currency`` and ``creditLimit`` for a new customer."""
    lead_id = str(value(ctx, "leadId"))
    currency = str(value(ctx, "currency", DEFAULT_CURRENCY)).upper()
    limit = places(decimal(value(ctx, "creditLimit", DEFAULT_CREDIT_LIMIT), "creditLimit"), 4, "creditLimit")

    def work() -> Result:
        lead = get_lead(ctx.session, lead_id, lock=True)
        data = lead.data
        now = utcnow()
        result = ensure(
            ctx.session,
            lead_id=lead.id,
            name=str(data.get("company") or data.get("name") or lead.email or lead.id)[:200],
            email_raw=data.get("email"),
            vat_raw=data.get("vatId"),
            country=_country(data),
            currency=currency,
            credit_limit=limit,
            now=now,
        )
        # Sales accepted the lead and it became a customer: it is sales-qualified now.
        if lead.status == LeadStatus.MQL.value:
            lead.move_to(LeadStatus.SQL)
        lead.customer_id = result["customerId"]
        lead.updated_at = now
        return result

    return once(ctx, "crm.ensure_customer", work)
