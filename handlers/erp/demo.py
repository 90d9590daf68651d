"""A small demo catalogue with stock, for ``flowdesk serve --demo``."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from handlers.erp.catalogue import DEFAULT_WAREHOUSE, add_product, ensure_warehouse, set_stock, stock_levels

DEMO_PRODUCTS = [
    # sku, name, unit, list price, tax rate, stock on hand
    ("LAPTOP-14", "Laptop 14 inch", "unit", Decimal("899.00"), Decimal("0.19"), Decimal("25")),
    ("DOCK-USB-C", "USB-C docking station", "unit", Decimal("149.00"), Decimal("0.19"), Decimal("10")),
    ("CABLE-CAT6", "Network cable Cat 6", "m", Decimal("0.85"), Decimal("0.19"), Decimal("500.000")),
    (
        "COFFEE-BEANS",
        "Coffee beans, espresso roast",
        "kg",
        Decimal("18.50"),
        Decimal("0.07"),
        Decimal("40.000"),
    ),
]


def load_demo_catalogue(session: Session) -> list[str]:
    """Create the demo products and stock once; a second call leaves counted stock alone."""
    ensure_warehouse(session, DEFAULT_WAREHOUSE, "Main warehouse")
    loaded: list[str] = []
    for sku, name, uom, price, rate, on_hand in DEMO_PRODUCTS:
        add_product(session, sku, name, uom, price, rate)
        if not stock_levels(session, sku):
            set_stock(session, sku, on_hand, DEFAULT_WAREHOUSE)
            loaded.append(sku)
    return loaded
