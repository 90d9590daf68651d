"""CRM pages: leads (scores, grade, reasons, activities, duplicate links) and customers with their invoices.

Thin faces over ``handlers.crm.queries``; who may read what is ``webui.api.access``, as for /api.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from handlers.crm import queries
from handlers.crm.leads import get_lead
from handlers.crm.models import Lead, LeadStatus
from handlers.erp.invoicing import money_of
from handlers.paging import status_filter
from webui.api.access import CUSTOMER_READERS, LEAD_READERS, require_group
from webui.pages.common import engine, page_blueprint, window

bp = page_blueprint("crm")

CUSTOMER_STATES = {"active": False, "archived": True, "all": None}


@bp.get("/leads")
def lead_list() -> Any:
    require_group(LEAD_READERS, "leads")
    status = status_filter(LeadStatus, request.args.get("status", "").strip(), "lead status")
    wanted = window()
    with engine().database.read() as session:
        found = queries.leads(session, status=status, first=wanted.first, max_results=wanted.size)
        return render_template(
            "crm/leads.html",
            leads=found.rows,
            pager=wanted.pager(found.total),
            status=status.value if status else "",
            statuses=[s.value for s in LeadStatus],
        )


@bp.get("/leads/<lead_id>")
def lead_page(lead_id: str) -> Any:
    require_group(LEAD_READERS, "leads")
    with engine().database.read() as session:
        lead = get_lead(session, lead_id)
        return render_template(
            "crm/lead.html",
            lead=lead,
            activities=queries.activities(lead),
            duplicates=queries.duplicate_links(session, lead),
            customer=queries.get_customer(session, lead.customer_id) if lead.customer_id else None,
        )


@bp.get("/customers")
def customer_list() -> Any:
    require_group(CUSTOMER_READERS, "customers")
    state = request.args.get("state", "active")
    if state not in CUSTOMER_STATES:
        state = "active"
    wanted = window()
    with engine().database.read() as session:
        found = queries.customers(
            session, archived=CUSTOMER_STATES[state], first=wanted.first, max_results=wanted.size
        )
        return render_template(
            "crm/customers.html",
            customers=found.rows,
            pager=wanted.pager(found.total),
            state=state,
            states=list(CUSTOMER_STATES),
        )


@bp.get("/customers/<customer_id>")
def customer_page(customer_id: str) -> Any:
    require_group(CUSTOMER_READERS, "customers")
    with engine().database.read() as session:
        customer = queries.get_customer(session, customer_id)
        return render_template(
            "crm/customer.html",
            customer=customer,
            lead=session.get(Lead, customer.lead_id) if customer.lead_id else None,
            invoices=queries.customer_invoices(session, customer.id),
            money=money_of,
        )
