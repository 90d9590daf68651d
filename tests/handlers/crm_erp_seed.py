"""CRM/ERP records made the way production makes them: lead_to_cash run through the engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine import Engine
from handlers.crm.leads import capture
from handlers.crm.models import Lead
from handlers.erp.models import Invoice
from tests.handlers.factories import NOW, cold_lead, stock_catalogue
from tests.handlers.l2c import complete, start
from tests.helpers import SALES, bpmn


@dataclass(frozen=True)
class Seeded:
    hot_lead_id: str
    cold_lead_id: str
    customer_id: str
    invoice_id: str
    invoice_number: str


def run_lead_to_cash(engine: Engine) -> Seeded:
    """ORD-1: an accepted hot lead -> customer, reserved stock, posted invoice; ORD-2: a cold lead, lost."""
    engine.deployments.deploy([bpmn("lead_to_cash.bpmn")])
    with engine.database.write() as session:
        stock_catalogue(session)
    won = start(engine, "ORD-1")
    complete(engine, won, "sales_review", {"accepted": True, "notes": "budget confirmed"}, SALES)
    start(engine, "ORD-2", lead=cold_lead())
    variables = engine.runtime.variables(won)
    with engine.database.read() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.order_ref == "ORD-1")).one()
        cold = session.scalars(select(Lead).where(Lead.status == "disqualified")).one()
        return Seeded(
            hot_lead_id=str(session.scalars(select(Lead.id).where(Lead.status == "sql")).one()),
            cold_lead_id=cold.id,
            customer_id=str(variables["customerId"]),
            invoice_id=invoice.id,
            invoice_number=str(invoice.number),
        )


def phone_duplicates(engine: Engine) -> tuple[str, str]:
    """Two leads with one phone number and two e-mails: the second is linked to the first."""
    with engine.database.write() as session:
        first = capture(
            session,
            {"email": "pat@beta.example", "name": "Pat Beta", "phone": "030 7654321", "country": "DE"},
            key="dup-1",
            now=NOW,
        )
        second = capture(
            session,
            {"email": "sam@beta.example", "name": "Sam Beta", "phone": "+49 30 7654321"},
            key="dup-2",
            now=NOW,
        )
    return str(first["leadId"]), str(second["leadId"])
