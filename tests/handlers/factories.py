"""Test data: leads, order lines and a small catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from handlers.erp.catalogue import add_product, set_stock

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def activity(kind: str, days_ago: float, now: datetime | None = None) -> dict[str, str]:
    return {"type": kind, "at": ((now or datetime.now(UTC)) - timedelta(days=days_ago)).isoformat()}


def hot_lead(email: str = "ann.buyer@acme.example", **overrides: Any) -> dict[str, Any]:
    """A good fit (A) that asked for a demo yesterday: an MQL under the default rules."""
    lead: dict[str, Any] = {
        "email": email,
        "name": "Ann Buyer",
        "company": "ACME Manufacturing GmbH",
        "country": "DE",
        "employees": 1200,
        "industry": "manufacturing",
        "role": "Head of Procurement",
        "budget": 25000,
        "vatId": "DE 123 456 789",
        "activities": [activity("demo_request", 1), activity("download", 3)],
    }
    lead.update(overrides)
    return lead


def cold_lead(email: str = "someone@gmail.com") -> dict[str, Any]:
    """Engaged but a poor fit (free mail, tiny, no budget): never an MQL."""
    return {
        "email": email,
        "name": "Some One",
        "employees": 2,
        "activities": [activity("demo_request", 1), activity("reply", 1), activity("webinar", 2)],
    }


def order_lines(quantity: int | str = 2, sku: str = "WIDGET") -> list[dict[str, Any]]:
    return [
        {"sku": sku, "quantity": quantity, "unitPrice": "100.00", "taxRate": "0.19"},
        {"sku": "CABLE", "quantity": "2.5", "unitPrice": "1.10", "taxRate": "0.19"},
    ]


def stock_catalogue(session: Session, widgets: int | str = 100) -> None:
    add_product(session, "WIDGET", "Widget", "unit")
    add_product(session, "CABLE", "Cable", "m")
    set_stock(session, "WIDGET", widgets)
    set_stock(session, "CABLE", "1000")


def start_variables(
    lead: dict[str, Any] | None = None, lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"lead": lead or hot_lead(), "orderLines": lines or order_lines(), "currency": "EUR"}


D = Decimal


def invoice_number(n: int, series: str = "INV") -> str:
    """The number the n-th posting of this year gets (the handlers post on today's date, UTC)."""
    return f"{series}/{datetime.now(UTC).year}/{n:05d}"
