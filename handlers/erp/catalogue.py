"""Products, units of measure, warehouses and stock levels: the set-up the CLI and the demo use."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.erp.models import Product, StockLevel, Warehouse
from handlers.exceptions import HandlerInputError, NotFoundError
from handlers.inputs import decimal, places, show

DEFAULT_WAREHOUSE = "MAIN"
# Decimal places each unit of measure allows: whole-number units refuse fractions.
UNITS: dict[str, int] = {"unit": 0, "pcs": 0, "box": 0, "pack": 0, "kg": 3, "g": 0, "m": 3, "l": 3, "h": 2}


def in_unit(amount: Decimal, uom: str) -> Decimal:
    """``amount`` at the precision of ``uom``: 2.000 pcs -> 2, 2.5 m -> 2.500."""
    return amount.quantize(Decimal(1).scaleb(-UNITS.get(uom, 3)))


def check_uom(uom: str) -> str:
    if uom not in UNITS:
        raise HandlerInputError(f"unit of measure {uom!r} is unknown; use one of {', '.join(UNITS)}")
    return uom


def quantity(raw: object, product: Product, what: str) -> Decimal:
    """A quantity of ``product`` in its unit: positive, and whole for whole-number units."""
    amount = decimal(raw, what)
    if amount <= 0:
        raise HandlerInputError(f"{what} must be above zero, not {amount}")
    places = UNITS.get(product.uom, 3)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        kind = "whole numbers" if places == 0 else f"at most {places} decimals"
        raise HandlerInputError(
            f"{what} is {amount} {product.uom} of {product.sku}, but {product.uom} allows {kind} only"
        )
    return amount


def get_product(session: Session, sku: str) -> Product:
    product = session.get(Product, sku)
    if product is None:
        raise NotFoundError(
            f"no product has SKU {sku!r}; add it with `flowdesk erp product add {sku} --name ...`", sku=sku
        )
    return product


def add_product(
    session: Session,
    sku: str,
    name: str,
    uom: str = "unit",
    list_price: Decimal | None = None,
    tax_rate: Decimal | None = None,
) -> Product:
    """Create the product, or update its name, unit and price when it exists."""
    if not sku or not sku.strip():
        raise HandlerInputError("a product needs a SKU")
    product = session.get(Product, sku)
    if product is None:
        product = Product(sku=sku, name=name, uom=check_uom(uom))
        session.add(product)
    else:
        product.name, product.uom = name, check_uom(uom)
    product.list_price = None if list_price is None else places(list_price, 4, f"the list price of {sku}")
    product.tax_rate = None if tax_rate is None else places(tax_rate, 4, f"the tax rate of {sku}")
    session.flush()
    return product


def ensure_warehouse(session: Session, code: str, name: str | None = None) -> Warehouse:
    warehouse = session.get(Warehouse, code)
    if warehouse is None:
        warehouse = Warehouse(code=code, name=name or code)
        session.add(warehouse)
        session.flush()
    return warehouse


def stock_levels(session: Session, sku: str) -> list[StockLevel]:
    return list(
        session.scalars(select(StockLevel).where(StockLevel.sku == sku).order_by(StockLevel.warehouse))
    )


def set_stock(session: Session, sku: str, on_hand: object, warehouse: str = DEFAULT_WAREHOUSE) -> StockLevel:
    """Set the quantity on hand (a stock count); it may not fall below what is reserved."""
    product = get_product(session, sku)
    amount = decimal(on_hand, "the quantity on hand")
    if amount < 0:
        raise HandlerInputError(f"the quantity on hand of {sku} cannot be negative ({amount})")
    if amount != 0:
        quantity(amount, product, "the quantity on hand")
    ensure_warehouse(session, warehouse)
    level = session.scalars(
        select(StockLevel).where(StockLevel.sku == sku, StockLevel.warehouse == warehouse).with_for_update()
    ).first()
    if level is None:
        level = StockLevel(sku=sku, warehouse=warehouse, on_hand=amount, reserved=Decimal("0"))
        session.add(level)
    else:
        if amount < level.reserved:
            raise HandlerInputError(
                f"{sku} in {warehouse} has {show(level.reserved)} reserved; on hand cannot go below that "
                f"(asked {show(amount)}); release reservations first"
            )
        level.on_hand = amount
    session.flush()
    return level
