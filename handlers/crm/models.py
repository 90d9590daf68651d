"""CRM tables: leads, kept for good (disqualified leads are never deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from handlers.base import Base
from handlers.status import GuardedStatus


class LeadStatus(GuardedStatus):
    NEW = "new"
    MQL = "mql"
    SQL = "sql"
    DISQUALIFIED = "disqualified"

    @classmethod
    def transitions(cls) -> dict[str, frozenset[str]]:
        return {
            "new": frozenset({"new", "mql", "disqualified"}),
            # Qualifying again (new activities) may move a lead either way until sales takes it.
            "mql": frozenset({"new", "mql", "sql", "disqualified"}),
            "sql": frozenset({"disqualified"}),
            # Reopening puts a lost lead back in front of marketing.
            "disqualified": frozenset({"new"}),
        }


class Lead(Base):
    __tablename__ = "crm_leads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The capture's idempotency key: a retried capture finds its own lead instead of a duplicate.
    capture_key: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # One lead per person: a second capture of the e-mail reuses this lead (see leads.capture).
    email_normalized: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone_normalized: Mapped[str | None] = mapped_column(String(40), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.NEW.value)
    fit: Mapped[int | None] = mapped_column(Integer)
    engagement: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(1))
    reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    lost_reason: Mapped[str | None] = mapped_column(String(64))
    lost_note: Mapped[str | None] = mapped_column(Text)
    # A duplicate is linked to the first lead with the same e-mail (or phone), never merged.
    duplicate_of_id: Mapped[str | None] = mapped_column(ForeignKey("crm_leads.id"))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    process_instance_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()

    def move_to(self, target: LeadStatus) -> None:
        LeadStatus(self.status).check(target, what=f"lead {self.id}")
        self.status = target.value
