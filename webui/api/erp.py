"""GET /api/erp/stock/{sku}, /api/erp/invoices?orderId=, /api/erp/invoices/{id} and its HTML."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from engine.exceptions import InvalidRequest, NotFound
from handlers.erp.catalogue import get_product, in_unit, stock_levels
from handlers.erp.invoicing import get_invoice, money_of
from handlers.erp.models import Invoice
from handlers.erp.queries import frozen_html, order_invoices
from handlers.inputs import show
from webui.api.access import INVOICE_READERS, require_group
from webui.rest.common import engine

bp = Blueprint("api_erp", __name__, url_prefix="/erp")


def _quantity(amount: Decimal, uom: str) -> str:
    return str(in_unit(amount, uom))


@bp.get("/stock/<sku>")
def stock(sku: str) -> Any:
    """Totals over the warehouses (or one, with ``?warehouse=``), and each warehouse's level."""
    wanted = request.args.get("warehouse")
    with engine().database.read() as session:
        product = get_product(session, sku)
        levels = [lvl for lvl in stock_levels(session, sku) if wanted in (None, lvl.warehouse)]
        if wanted is not None and not levels:
            raise NotFound(f"{sku} has no stock level in warehouse {wanted!r}")
        on_hand = sum((lvl.on_hand for lvl in levels), Decimal("0"))
        reserved = sum((lvl.reserved for lvl in levels), Decimal("0"))
        return jsonify(
            {
                "sku": product.sku,
                "name": product.name,
                "uom": product.uom,
                "warehouse": wanted,
                "onHand": _quantity(on_hand, product.uom),
                "reserved": _quantity(reserved, product.uom),
                "available": _quantity(on_hand - reserved, product.uom),
                "levels": [
                    {
                        "warehouse": lvl.warehouse,
                        "onHand": _quantity(lvl.on_hand, product.uom),
                        "reserved": _quantity(lvl.reserved, product.uom),
                        "available": _quantity(lvl.available, product.uom),
                    }
                    for lvl in levels
                ],
            }
        )


def _summary(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "kind": invoice.kind,
        "number": invoice.number,
        "status": invoice.status,
        "orderId": invoice.order_ref,
        "customerId": invoice.customer_id,
        "creditOfId": invoice.credit_of_id,
        "currency": invoice.currency,
        "netTotal": str(money_of(invoice, invoice.net_total)),
        "taxTotal": str(money_of(invoice, invoice.tax_total)),
        "total": str(money_of(invoice, invoice.total)),
        "issueDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "dueDate": invoice.due_date.isoformat() if invoice.due_date else None,
        "postedAt": invoice.posted_at.isoformat() if invoice.posted_at else None,
        "paymentState": invoice.payment_state,
        "amountPaid": str(money_of(invoice, invoice.amount_paid)),
        "dunningLevel": invoice.dunning_level,
    }


@bp.get("/invoices")
def invoices() -> Any:
    require_group(INVOICE_READERS, "invoices")
    order = request.args.get("orderId")
    if not order:
        raise InvalidRequest("give the order: /api/erp/invoices?orderId=ORD-1")
    with engine().database.read() as session:
        return jsonify([_summary(invoice) for invoice in order_invoices(session, order)])


@bp.get("/invoices/<invoice_id>")
def invoice(invoice_id: str) -> Any:
    require_group(INVOICE_READERS, "invoices")
    with engine().database.read() as session:
        found = get_invoice(session, invoice_id)
        body = _summary(found)
        body["rounding"] = found.rounding
        body["taxes"] = [
            {"rate": row["rate"], "amount": str(money_of(found, Decimal(row["amount"])))}
            for row in found.tax_breakdown
        ]
        body["lines"] = [
            {
                "line": line.line_no,
                "sku": line.sku,
                "description": line.description,
                "quantity": show(line.quantity),
                "unitPrice": show(line.unit_price),
                "taxIncluded": line.tax_included,
                "taxRates": line.tax_rates,
                "net": str(money_of(found, line.net)),
                "tax": str(money_of(found, line.tax)),
                "gross": str(money_of(found, line.gross)),
            }
            for line in found.lines
        ]
        return jsonify(body)


@bp.get("/invoices/<invoice_id>/html")
def invoice_html(invoice_id: str) -> Any:
    """The rendering frozen at posting: exactly what the customer received."""
    require_group(INVOICE_READERS, "invoices")
    with engine().database.read() as session:
        return Response(frozen_html(session, invoice_id), mimetype="text/html")
