"""ERP pages: stock levels and reservations, invoices and the document frozen at posting.

Thin faces over ``handlers.erp.queries``; who may read what is ``webui.api.access``, as for /api.
The stored invoice HTML is never put into a page: it is served from its own route under a
Content-Security-Policy that allows no script, no request and no navigation, and shown in a
sandboxed ``iframe``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Response, render_template, request

from handlers.crm.queries import get_customer
from handlers.erp import queries
from handlers.erp.invoicing import get_invoice, money_of
from handlers.erp.models import InvoiceStatus
from handlers.inputs import show
from handlers.paging import status_filter
from webui.api.access import INVOICE_READERS, require_group
from webui.pages.common import engine, page_blueprint, window

bp = page_blueprint("erp")

# The frozen document needs its own inline <style> and nothing else: no script, no fetch, no form,
# no base URL, only framed by Flowdesk's pages; ``sandbox`` gives it an opaque origin as well.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox"
)


@bp.get("/stock")
def stock() -> Any:
    """Any logged-in user, as ``/api/erp/stock``."""
    sku = request.args.get("sku", "").strip() or None
    wanted = window()
    with engine().database.read() as session:
        held = queries.reservations(session, sku=sku, first=wanted.first, max_results=wanted.size)
        return render_template(
            "erp/stock.html",
            levels=queries.stock_rows(session, sku=sku),
            reservations=held.rows,
            pager=wanted.pager(held.total),
            sku=sku or "",
        )


@bp.get("/invoices")
def invoice_list() -> Any:
    require_group(INVOICE_READERS, "invoices")
    order = request.args.get("order", "").strip() or None
    status = status_filter(InvoiceStatus, request.args.get("state", "").strip(), "invoice state")
    wanted = window()
    with engine().database.read() as session:
        found = queries.invoices(
            session, order=order, status=status, first=wanted.first, max_results=wanted.size
        )
        return render_template(
            "erp/invoices.html",
            invoices=found.rows,
            customers=queries.customer_names(session, found.rows),
            pager=wanted.pager(found.total),
            order=order or "",
            state=status.value if status else "",
            states=[s.value for s in InvoiceStatus],
            money=money_of,
        )


@bp.get("/invoices/<invoice_id>")
def invoice_page(invoice_id: str) -> Any:
    require_group(INVOICE_READERS, "invoices")
    with engine().database.read() as session:
        invoice = get_invoice(session, invoice_id)
        return render_template(
            "erp/invoice.html",
            invoice=invoice,
            customer=get_customer(session, invoice.customer_id),
            credited=get_invoice(session, invoice.credit_of_id) if invoice.credit_of_id else None,
            credit_notes=queries.credit_notes(session, invoice.id),
            taxes=[
                (show(Decimal(row["rate"]) * 100), money_of(invoice, Decimal(row["amount"])))
                for row in invoice.tax_breakdown
            ],
            money=money_of,
        )


@bp.get("/invoices/<invoice_id>/document")
def invoice_document(invoice_id: str) -> Any:
    """The HTML rendered at posting, byte for byte, under a policy that lets it do nothing but show."""
    require_group(INVOICE_READERS, "invoices")
    with engine().database.read() as session:
        response = Response(queries.frozen_html(session, invoice_id), mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCUMENT_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    return response
