"""Leads: capture (with duplicate detection), qualification, disqualification and reopening."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.handlers import HandlerContext
from handlers.crm.models import Lead, LeadStatus
from handlers.crm.scoring import LeadScore, ScoringConfig, load_config, score_lead
from handlers.effects import Result, once
from handlers.exceptions import HandlerInputError, NotFoundError
from handlers.inputs import mapping, utcnow, value, where
from handlers.normalize import normalize_email, normalize_phone
from handlers.registry import builtin


def get_lead(session: Session, lead_id: str, *, lock: bool = False) -> Lead:
    query = select(Lead).where(Lead.id == lead_id)
    if lock:
        query = query.with_for_update()
    lead = session.scalars(query).first()
    if lead is None:
        raise NotFoundError(
            f"no lead has id {lead_id!r}; capture it first (crm.capture_lead)", lead_id=lead_id
        )
    return lead


def find_duplicate(session: Session, email: str | None, phone: str | None) -> tuple[Lead | None, str | None]:
    """The oldest lead with this e-mail, else with this phone; and which key matched."""
    if email:
        found = session.scalars(
            select(Lead).where(Lead.email_normalized == email).order_by(Lead.created_at, Lead.id).limit(1)
        ).first()
        if found is not None:
            return found, "email"
    if phone:
        found = session.scalars(
            select(Lead).where(Lead.phone_normalized == phone).order_by(Lead.created_at, Lead.id).limit(1)
        ).first()
        if found is not None:
            return found, "phone"
    return None, None


def capture(
    session: Session, data: Mapping[str, Any], *, key: str, now: datetime, instance_id: str | None = None
) -> Result:
    """Store a lead, or report the one it duplicates.

    The same e-mail is the same person (Odoo, ERPNext): the existing lead is reused and the new
    activities are appended, never a second record; a disqualified one is reopened. The same phone
    with another e-mail may be a colleague: a new lead is created and linked to the first one for
    a person to review (never merged automatically).
    """
    email = normalize_email(data.get("email"), where="lead.email")
    country = str(data.get("country") or "").upper()[:2] or None
    phone = normalize_phone(data.get("phone"), country)
    if email is None and phone is None:
        raise HandlerInputError("a lead needs an e-mail address or a phone number (lead.email, lead.phone)")
    existing, matched_by = find_duplicate(session, email, phone)
    if existing is not None and matched_by == "email":
        return _merge(existing, data, now)
    lead = Lead(
        id=str(uuid.uuid4()),
        capture_key=key,
        email=str(data["email"]).strip() if data.get("email") else None,
        email_normalized=email,
        phone_normalized=phone,
        name=_text(data.get("name")),
        company=_text(data.get("company")),
        country=country,
        data=dict(data),
        status=LeadStatus.NEW.value,
        duplicate_of_id=existing.id if existing is not None else None,
        process_instance_id=instance_id,
        created_at=now,
        updated_at=now,
    )
    savepoint = session.begin_nested()
    try:
        session.add(lead)
        session.flush()
    except IntegrityError:
        # The same e-mail was captured by a concurrent transaction (a unique index): theirs wins.
        savepoint.rollback()
        winner, _ = find_duplicate(session, email, None)
        if winner is None:
            raise
        return _merge(winner, data, now)
    savepoint.commit()
    return {
        "leadId": lead.id,
        "leadDuplicate": existing is not None,
        "duplicateOfLeadId": existing.id if existing is not None else None,
        "duplicateMatchedBy": matched_by,
        "leadReopened": False,
    }


def _merge(existing: Lead, data: Mapping[str, Any], now: datetime) -> Result:
    """The known lead takes the new activities (and non-empty fields); a lost one is reopened."""
    activities = list(existing.data.get("activities") or []) + list(data.get("activities") or [])
    existing.data = {
        **existing.data,
        **{k: v for k, v in data.items() if v is not None},
        "activities": activities,
    }
    reopened = existing.status == LeadStatus.DISQUALIFIED.value
    if reopened:
        existing.move_to(LeadStatus.NEW)
    existing.updated_at = now
    return {
        "leadId": existing.id,
        "leadDuplicate": True,
        "duplicateOfLeadId": existing.id,
        "duplicateMatchedBy": "email",
        "leadReopened": reopened,
    }


def _text(raw: Any) -> str | None:
    return str(raw).strip()[:200] if raw not in (None, "") else None


def apply_score(lead: Lead, result: LeadScore, now: datetime) -> None:
    lead.fit, lead.engagement, lead.score, lead.grade = (
        result.fit,
        result.engagement,
        result.score,
        result.grade,
    )
    lead.reasons = [reason.as_dict() for reason in result.reasons]
    if lead.status != LeadStatus.SQL.value:  # sales already took it: scores inform, status stays
        lead.move_to(LeadStatus(result.status))
        if result.status == LeadStatus.DISQUALIFIED.value:
            lead.lost_reason = "poor_fit"
    lead.updated_at = now


def qualify(session: Session, lead_id: str, config: ScoringConfig, now: datetime) -> Result:
    lead = get_lead(session, lead_id, lock=True)
    if lead.status == LeadStatus.DISQUALIFIED.value:
        raise HandlerInputError(
            f"lead {lead_id} is disqualified ({lead.lost_reason}); reopen it before qualifying it again"
        )
    result = score_lead(lead.data, config, now)
    apply_score(lead, result, now)
    return {
        "leadScore": result.score,
        "leadFit": result.fit,
        "leadEngagement": result.engagement,
        "leadGrade": result.grade,
        "leadStatus": lead.status,
        "qualified": lead.status in (LeadStatus.MQL.value, LeadStatus.SQL.value),
        "leadReasons": [reason.as_dict() for reason in result.reasons],
    }


def disqualify(session: Session, lead_id: str, reason: str, note: str | None, now: datetime) -> Result:
    if not reason:
        raise HandlerInputError(
            "disqualifying a lead needs a lost reason code, e.g. 'not_mql' or 'no_budget'"
        )
    lead = get_lead(session, lead_id, lock=True)
    if lead.status != LeadStatus.DISQUALIFIED.value:
        lead.move_to(LeadStatus.DISQUALIFIED)
    lead.lost_reason = reason[:64]
    lead.lost_note = note
    lead.updated_at = now
    return {"leadStatus": lead.status, "lostReason": lead.lost_reason}


def reopen(session: Session, lead_id: str, now: datetime) -> Result:
    """A disqualified lead goes back to new; its last lost reason stays for the record."""
    lead = get_lead(session, lead_id, lock=True)
    lead.move_to(LeadStatus.NEW)
    lead.updated_at = now
    return {"leadStatus": lead.status}


# --- the handlers -----------------------------------------------------------------------------------


@builtin("crm.capture_lead")
def capture_lead(ctx: HandlerContext) -> Result:
    """Input ``lead`` (Json: email, phone, name, company, country, ..., activities[])."""
    data = mapping(ctx, "lead")
    return once(
        ctx,
        "crm.capture_lead",
        lambda: capture(
            ctx.session, data, key=ctx.idempotency_key, now=utcnow(), instance_id=ctx.process_instance_id
        ),
    )


@builtin("crm.qualify_lead")
def qualify_lead(ctx: HandlerContext) -> Result:
    """Input ``leadId``; scores with the operator's rules (FLOWDESK_CRM_SCORING or the default file)."""
    lead_id = str(value(ctx, "leadId"))
    config = load_config()
    return once(ctx, "crm.qualify_lead", lambda: qualify(ctx.session, lead_id, config, utcnow()))


@builtin("crm.disqualify_lead")
def disqualify_lead(ctx: HandlerContext) -> Result:
    """Inputs ``leadId``, ``lostReason`` (a code), optional ``lostNote``."""
    lead_id = str(value(ctx, "leadId"))
    reason = value(ctx, "lostReason", "not_mql")
    note = value(ctx, "lostNote", None)
    if not isinstance(reason, str):
        raise HandlerInputError(f"{where(ctx)}: lostReason must be a text code, not {reason!r}")
    return once(
        ctx,
        "crm.disqualify_lead",
        lambda: disqualify(ctx.session, lead_id, reason, None if note is None else str(note), utcnow()),
    )


@builtin("crm.reopen_lead")
def reopen_lead(ctx: HandlerContext) -> Result:
    lead_id = str(value(ctx, "leadId"))
    return once(ctx, "crm.reopen_lead", lambda: reopen(ctx.session, lead_id, utcnow()))
