"""``flowdesk erp``: set up the ERP data the built-in handlers work on (products, stock)."""

from __future__ import annotations

import sys
from decimal import Decimal

import click

from engine import Engine, database_url
from engine.exceptions import FlowdeskError
from handlers.erp.catalogue import DEFAULT_WAREHOUSE, UNITS, add_product, set_stock, stock_levels
from handlers.inputs import decimal, show

db_option = click.option(
    "--db",
    envvar="FLOWDESK_DATABASE_URL",
    default=None,
    help="Database URL (default: sqlite:///var/flowdesk.sqlite).",
)


def _run(db: str | None, action: str) -> Engine:
    try:
        return Engine.from_url(database_url(db))
    except FlowdeskError as err:
        click.echo(f"error: {action}: {err.message}", err=True)
        sys.exit(1)


def _number(raw: str | None, what: str) -> Decimal | None:
    if raw is None:
        return None
    try:
        return decimal(raw, what)
    except FlowdeskError as err:
        raise click.BadParameter(err.message) from err


@click.group("erp")
def erp() -> None:
    """ERP set-up: products and stock for the built-in handlers."""


@erp.group()
def product() -> None:
    """Products (SKU, name, unit of measure)."""


@product.command("add")
@db_option
@click.option("--name", required=True, help="What the product is called on invoices.")
@click.option(
    "--uom", default="unit", show_default=True, type=click.Choice(sorted(UNITS)), help="Unit of measure."
)
@click.option("--price", default=None, help="List price, e.g. 899.00 (used when an order line gives none).")
@click.option("--tax-rate", default=None, help="Default tax rate as a fraction, e.g. 0.19.")
@click.argument("sku")
def product_add(
    db: str | None, name: str, uom: str, price: str | None, tax_rate: str | None, sku: str
) -> None:
    """Add product SKU, or update its name, unit and price."""
    engine = _run(db, f"adding product {sku}")
    try:
        with engine.database.write() as session:
            add_product(session, sku, name, uom, _number(price, "--price"), _number(tax_rate, "--tax-rate"))
    except FlowdeskError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    finally:
        engine.close()
    click.echo(f"product {sku}: {name} ({uom})")


@erp.group()
def stock() -> None:
    """Stock levels per product and warehouse."""


@stock.command("set")
@db_option
@click.option("--warehouse", default=DEFAULT_WAREHOUSE, show_default=True)
@click.argument("sku")
@click.argument("quantity")
def stock_set(db: str | None, warehouse: str, sku: str, quantity: str) -> None:
    """Set the quantity of SKU on hand in a warehouse (a stock count); it cannot go below what is reserved."""
    engine = _run(db, f"setting stock of {sku}")
    try:
        with engine.database.write() as session:
            level = set_stock(session, sku, quantity, warehouse)
            line = f"{sku} in {warehouse}: on hand {show(level.on_hand)}, reserved {show(level.reserved)}"
    except FlowdeskError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    finally:
        engine.close()
    click.echo(line)


@stock.command("show")
@db_option
@click.argument("sku")
def stock_show(db: str | None, sku: str) -> None:
    """Show SKU's stock in every warehouse."""
    engine = _run(db, f"reading stock of {sku}")
    try:
        with engine.database.read() as session:
            levels = stock_levels(session, sku)
            rows = [
                f"{lvl.warehouse:<12} on hand {show(lvl.on_hand):>10}  reserved {show(lvl.reserved):>10}  "
                f"available {show(lvl.available):>10}"
                for lvl in levels
            ]
    finally:
        engine.close()
    click.echo("\n".join(rows) if rows else f"{sku} has no stock in any warehouse")
