"""The queries behind the CRM/ERP pages: pages and totals, filters, activities, stock at unit precision."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import update

from engine import Engine
from handlers.crm import queries as crm
from handlers.crm.leads import capture
from handlers.crm.models import Lead, LeadStatus
from handlers.erp import queries as erp
from handlers.erp.models import Invoice, InvoiceStatus
from handlers.exceptions import HandlerInputError
from handlers.paging import status_filter
from tests.handlers.crm_erp_seed import run_lead_to_cash
from tests.handlers.factories import NOW, stock_catalogue


def _leads(engine: Engine, count: int) -> list[str]:
    ids = []
    with engine.database.write() as session:
        for n in range(count):
            result = capture(
                session, {"email": f"p{n}@x.example"}, key=f"k{n}", now=NOW + timedelta(minutes=n)
            )
            ids.append(str(result["leadId"]))
    return ids


def test_leads_come_newest_first_a_page_at_a_time_with_the_total(engine: Engine) -> None:
    ids = _leads(engine, 5)
    with engine.database.write() as session:
        session.execute(update(Lead).where(Lead.id == ids[0]).values(status="disqualified"))
    with engine.database.read() as session:
        first = crm.leads(session, status=None, first=0, max_results=3)
        rest = crm.leads(session, status=None, first=3, max_results=3)
        lost = crm.leads(session, status=LeadStatus.DISQUALIFIED, first=0, max_results=3)
        assert (first.total, rest.total) == (5, 5)
        assert [lead.id for lead in first.rows + rest.rows] == ids[::-1]
        assert ([lead.id for lead in lost.rows], lost.total) == ([ids[0]], 1)


def test_status_filters_name_the_statuses_that_exist() -> None:
    assert status_filter(InvoiceStatus, "", "invoice state") is None
    assert status_filter(InvoiceStatus, "posted", "invoice state") is InvoiceStatus.POSTED
    with pytest.raises(
        HandlerInputError, match="invoice state 'paid' is unknown; use one of draft, posted, cancelled"
    ):
        status_filter(InvoiceStatus, "paid", "invoice state")


def test_activities_newest_first_and_unreadable_times_last() -> None:
    lead = Lead(
        data={
            "activities": [
                {"type": "download", "at": "2026-06-10T10:00:00+00:00"},
                {"type": "webinar", "at": "last tuesday"},
                {"type": "demo_request", "at": "2026-06-12T09:30:00"},
                "not an activity",
            ]
        }
    )
    found = crm.activities(lead)
    assert [a.kind for a in found] == ["demo_request", "download", "webinar"]
    assert found[0].at is not None and found[0].at.tzinfo is not None and found[2].at is None


def test_duplicate_links_go_both_ways(engine: Engine) -> None:
    with engine.database.write() as session:
        first = capture(
            session, {"email": "a@beta.example", "phone": "030 7654321", "country": "DE"}, key="1", now=NOW
        )
        second = capture(session, {"email": "b@beta.example", "phone": "+49 30 7654321"}, key="2", now=NOW)
        other = capture(session, {"email": "c@gamma.example"}, key="3", now=NOW)
    with engine.database.read() as session:
        original, copy, alone = (session.get(Lead, r["leadId"]) for r in (first, second, other))
        assert original and copy and alone
        assert [lead.id for lead in crm.duplicate_links(session, original)] == [copy.id]
        assert [lead.id for lead in crm.duplicate_links(session, copy)] == [original.id]
        assert crm.duplicate_links(session, alone) == []


def test_stock_rows_are_at_their_units_precision_and_filter_by_sku(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session, widgets=7)
    with engine.database.read() as session:
        rows = erp.stock_rows(session)
        assert [(r.sku, r.warehouse, str(r.on_hand), str(r.available), r.uom) for r in rows] == [
            ("CABLE", "MAIN", "1000.000", "1000.000", "m"),
            ("WIDGET", "MAIN", "7", "7", "unit"),
        ]
        assert [r.sku for r in erp.stock_rows(session, sku="WIDGET")] == ["WIDGET"]
        assert erp.stock_rows(session, sku="NOPE") == []


def test_invoices_reservations_and_the_frozen_document_of_a_real_order(engine: Engine) -> None:
    seeded = run_lead_to_cash(engine)
    with engine.database.read() as session:
        posted = erp.invoices(session, order="ORD-1", status=InvoiceStatus.POSTED)
        assert [i.number for i in posted.rows] == [seeded.invoice_number] and posted.total == 1
        assert erp.invoices(session, status=InvoiceStatus.DRAFT).total == 0
        assert erp.customer_names(session, posted.rows) == {seeded.customer_id: "ACME Manufacturing GmbH"}
        held = erp.reservations(session, sku="CABLE", first=0, max_results=10)
        assert [(r.order_ref, r.line_no, r.quantity) for r in held.rows] == [("ORD-1", 2, D("2.5"))]
        assert seeded.invoice_number in erp.frozen_html(session, seeded.invoice_id)
        assert erp.credit_notes(session, seeded.invoice_id) == []
    with engine.database.write() as session:
        session.execute(
            update(Invoice).where(Invoice.id == seeded.invoice_id).values(status="draft", html=None)
        )
    with (
        engine.database.read() as session,
        pytest.raises(HandlerInputError, match="rendered when it is posted"),
    ):
        erp.frozen_html(session, seeded.invoice_id)
