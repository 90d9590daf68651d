"""Stock reservations: one per (order, line), never more than is available, even under concurrency.

A full reservation is a conditional update (``reserved = reserved + q WHERE on_hand - reserved >=
q``) whose row count says whether it took: two orders racing for the last units cannot both win,
because PostgreSQL re-checks the condition on the row the winner committed. A partial reservation
locks the row (``FOR UPDATE``) and takes what is there. Lines are handled in (SKU, warehouse) order
so that two orders never lock the same rows in opposite orders (Saleor). The CHECK constraint
``0 <= reserved <= on_hand`` stops any path that gets this wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.handlers import BpmnError, HandlerContext
from handlers.effects import Result, once
from handlers.erp.catalogue import DEFAULT_WAREHOUSE, UNITS, get_product, quantity
from handlers.erp.models import Reservation, ReservationStatus, StockLevel
from handlers.exceptions import HandlerInputError
from handlers.inputs import order_ref, show, utcnow, value, where
from handlers.registry import builtin

OUT_OF_STOCK = "OUT_OF_STOCK"
ZERO = Decimal("0")


@dataclass(frozen=True)
class OrderLine:
    line_no: int
    sku: str
    warehouse: str
    quantity: Decimal


def parse_lines(session: Session, raw: Any, *, default_warehouse: str = DEFAULT_WAREHOUSE) -> list[OrderLine]:
    """``orderLines`` (Json list of {sku, quantity, warehouse?, line?}) checked against the catalogue."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise HandlerInputError("orderLines must be a non-empty Json list of {sku, quantity, ...} objects")
    lines: list[OrderLine] = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping) or not item.get("sku"):
            raise HandlerInputError(
                f"orderLines[{index - 1}] must be an object with a 'sku' and a 'quantity'"
            )
        line_no = int(item.get("line") or index)
        product = get_product(session, str(item["sku"]))
        amount = quantity(item.get("quantity"), product, f"orderLines[{index - 1}].quantity")
        lines.append(OrderLine(line_no, product.sku, str(item.get("warehouse") or default_warehouse), amount))
    numbers = [line.line_no for line in lines]
    if len(set(numbers)) != len(numbers):
        raise HandlerInputError(f"orderLines repeat a line number: {numbers}")
    return lines


def _add_reserved(session: Session, line: OrderLine, amount: Decimal) -> bool:
    """Reserve ``amount`` if it is available; False (nothing changed) if it is not."""
    result = session.execute(
        update(StockLevel)
        .where(
            StockLevel.sku == line.sku,
            StockLevel.warehouse == line.warehouse,
            # reserved + q on the left binds q in the column's units (exact on SQLite too).
            StockLevel.on_hand >= StockLevel.reserved + amount,
        )
        .values(reserved=StockLevel.reserved + amount)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _available_locked(session: Session, line: OrderLine) -> Decimal:
    level = session.scalars(
        select(StockLevel)
        .where(StockLevel.sku == line.sku, StockLevel.warehouse == line.warehouse)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    return level.available if level is not None else ZERO


def reserve(
    session: Session, order: str, lines: Sequence[OrderLine], *, partial: bool, now: datetime
) -> Result:
    """Reserve every line (all or nothing), or what there is (``partial``) with the rest on backorder."""
    existing = {
        r.line_no: r
        for r in session.scalars(select(Reservation).where(Reservation.order_ref == order).with_for_update())
    }
    done: dict[int, Reservation] = {}
    shortages: list[dict[str, Any]] = []
    for line in sorted(lines, key=lambda item: (item.sku, item.warehouse, item.line_no)):
        current = existing.get(line.line_no)
        if current is not None and current.status != ReservationStatus.RELEASED.value:
            done[line.line_no] = current  # this line is reserved already: never twice
            continue
        if _add_reserved(session, line, line.quantity):
            taken = line.quantity
        else:
            available = max(_available_locked(session, line), ZERO)
            if not partial:
                shortages.append(
                    {
                        "line": line.line_no,
                        "sku": line.sku,
                        "warehouse": line.warehouse,
                        "requested": line.quantity,
                        "available": available,
                        "missing": line.quantity - available,
                    }
                )
                continue
            product = get_product(session, line.sku)
            taken = _whole(min(available, line.quantity), product.uom)
            # The row is locked now: this update cannot lose a race.
            if taken > 0 and not _add_reserved(session, line, taken):
                raise RuntimeError(f"stock of {line.sku} in {line.warehouse} changed under a row lock")
        done[line.line_no] = _record(session, current, order, line, taken, now)
    if partial and lines and all(d.quantity == 0 for d in done.values()):
        # Nothing at all is there: a partial shipment of nothing is still a shortage.
        shortages = [
            {
                "line": line.line_no,
                "sku": line.sku,
                "warehouse": line.warehouse,
                "requested": line.quantity,
                "available": ZERO,
                "missing": line.quantity,
            }
            for line in lines
        ]
    if shortages:
        # The handler's savepoint rolls back the lines reserved above: all or nothing.
        missing = ", ".join(f"{show(s['missing'])} x {s['sku']} (line {s['line']})" for s in shortages)
        raise BpmnError(
            OUT_OF_STOCK,
            f"order {order} cannot be reserved in full: missing {missing}",
            {"reservationStatus": "out_of_stock", "shortages": shortages},
        )
    session.flush()
    reservations = [_describe(done[line.line_no]) for line in sorted(lines, key=lambda item: item.line_no)]
    backordered = any(r["backorder"] > 0 for r in reservations)
    return {
        "reservationStatus": "partial" if backordered else "reserved",
        "reservations": reservations,
    }


def _whole(amount: Decimal, uom: str) -> Decimal:
    """What may be taken of ``amount`` in the unit: 2.5 available units reserve 2."""
    places = UNITS.get(uom, 3)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def _record(
    session: Session, current: Reservation | None, order: str, line: OrderLine, taken: Decimal, now: datetime
) -> Reservation:
    if current is None:
        current = Reservation(id=str(uuid.uuid4()), order_ref=order, line_no=line.line_no, created_at=now)
        session.add(current)
    current.sku, current.warehouse = line.sku, line.warehouse
    current.requested, current.quantity, current.backorder = line.quantity, taken, line.quantity - taken
    if current.status is not None:  # a released line reserved again (after a "wait" decision)
        ReservationStatus(current.status).check(
            ReservationStatus.RESERVED, what=f"reservation of {order} line {line.line_no}"
        )
    current.status = ReservationStatus.RESERVED.value
    current.updated_at = now
    return current


def _describe(r: Reservation) -> dict[str, Any]:
    return {
        "line": r.line_no,
        "sku": r.sku,
        "warehouse": r.warehouse,
        "requested": r.requested,
        "reserved": r.quantity,
        "backorder": r.backorder,
        "status": r.status,
    }


def _locked_reservations(session: Session, order: str) -> list[Reservation]:
    """The order's reservations, locked, in the (SKU, warehouse) order every change uses."""
    return list(
        session.scalars(
            select(Reservation)
            .where(Reservation.order_ref == order)
            .order_by(Reservation.sku, Reservation.warehouse)
            .with_for_update()
        )
    )


def release(session: Session, order: str, now: datetime) -> Result:
    """Give back what the order holds. Releasing twice is harmless; a fulfilled line cannot be released."""
    reservations = _locked_reservations(session, order)
    released = ZERO
    for r in reservations:
        if r.status == ReservationStatus.RELEASED.value:
            continue
        ReservationStatus(r.status).check(
            ReservationStatus.RELEASED, what=f"reservation of {order} line {r.line_no}"
        )
        session.execute(
            update(StockLevel)
            .where(StockLevel.sku == r.sku, StockLevel.warehouse == r.warehouse)
            .values(reserved=StockLevel.reserved - r.quantity)
            .execution_options(synchronize_session=False)
        )
        released += r.quantity
        r.status = ReservationStatus.RELEASED.value
        r.updated_at = now
    session.flush()
    return {"reservationStatus": "released", "releasedQuantity": released}


def fulfil(session: Session, order: str, now: datetime) -> Result:
    """The goods left the warehouse: on hand and reserved both drop by the reserved quantity."""
    reservations = _locked_reservations(session, order)
    if not reservations:
        raise HandlerInputError(f"order {order} has no reservation to fulfil; reserve stock first")
    for r in reservations:
        if r.status == ReservationStatus.FULFILLED.value:
            continue
        ReservationStatus(r.status).check(
            ReservationStatus.FULFILLED, what=f"reservation of {order} line {r.line_no}"
        )
        session.execute(
            update(StockLevel)
            .where(StockLevel.sku == r.sku, StockLevel.warehouse == r.warehouse)
            .values(on_hand=StockLevel.on_hand - r.quantity, reserved=StockLevel.reserved - r.quantity)
            .execution_options(synchronize_session=False)
        )
        r.status = ReservationStatus.FULFILLED.value
        r.updated_at = now
    session.flush()
    return {"reservationStatus": "fulfilled"}


@builtin("erp.reserve_stock")
def reserve_stock(ctx: HandlerContext) -> Result:
    """Inputs ``orderLines``, optional ``orderId``, ``allowPartial`` (or ``decision`` == "partial")."""
    partial_raw = value(ctx, "allowPartial", None)
    partial = partial_raw is True or (partial_raw is None and value(ctx, "decision", None) == "partial")
    raw_lines = value(ctx, "orderLines")

    def work() -> Result:
        lines = parse_lines(ctx.session, raw_lines)
        return reserve(ctx.session, order_ref(ctx), lines, partial=partial, now=utcnow())

    try:
        return once(ctx, "erp.reserve_stock", work)
    except HandlerInputError as err:
        raise HandlerInputError(f"{where(ctx)}: {err.message}", **err.context) from err


@builtin("erp.release_stock")
def release_stock(ctx: HandlerContext) -> Result:
    order = order_ref(ctx)
    return once(ctx, "erp.release_stock", lambda: release(ctx.session, order, utcnow()))


@builtin("erp.fulfil_reservation")
def fulfil_reservation(ctx: HandlerContext) -> Result:
    order = order_ref(ctx)
    return once(ctx, "erp.fulfil_reservation", lambda: fulfil(ctx.session, order, utcnow()))
