"""Stock per (product, warehouse): reservations all-or-nothing or partial, release, fulfil, the CHECK."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine import Engine
from engine.handlers import BpmnError
from handlers.erp.catalogue import add_product, set_stock, stock_levels
from handlers.erp.models import Reservation, StockLevel
from handlers.erp.stock import parse_lines, release, reserve
from handlers.exceptions import HandlerInputError, InvalidTransition, NotFoundError
from tests.handlers.factories import NOW, stock_catalogue


def levels(engine: Engine, sku: str) -> tuple[D, D]:
    with engine.database.read() as session:
        [level] = stock_levels(session, sku)
        return level.on_hand, level.reserved


def test_reserving_takes_stock_once_per_order_line(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session, widgets=10)
    for _ in range(2):  # the second run finds the lines reserved and takes nothing more
        with engine.database.write() as session:
            lines = parse_lines(
                session, [{"sku": "WIDGET", "quantity": 4}, {"sku": "CABLE", "quantity": "2.5"}]
            )
            result = reserve(session, "ORD-1", lines, partial=False, now=NOW)
        assert result["reservationStatus"] == "reserved"

    assert levels(engine, "WIDGET") == (D("10"), D("4"))
    assert levels(engine, "CABLE") == (D("1000"), D("2.5"))
    with engine.database.read() as session:
        assert len(session.scalars(select(Reservation)).all()) == 2


def test_a_shortage_reserves_nothing_and_names_what_is_missing(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session, widgets=3)

    with pytest.raises(BpmnError) as raised, engine.database.write() as session:
        lines = parse_lines(session, [{"sku": "CABLE", "quantity": 1}, {"sku": "WIDGET", "quantity": 5}])
        reserve(session, "ORD-2", lines, partial=False, now=NOW)

    assert raised.value.code == "OUT_OF_STOCK"
    assert "missing 2 x WIDGET (line 2)" in raised.value.message
    [shortage] = raised.value.variables["shortages"]
    assert (shortage["requested"], shortage["available"], shortage["missing"]) == (D("5"), D("3"), D("2"))
    assert levels(engine, "CABLE")[1] == 0  # the line that fitted was rolled back with the rest


def test_partial_reservation_takes_what_is_there_and_backorders_the_rest(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session, widgets=3)
        lines = parse_lines(session, [{"sku": "WIDGET", "quantity": 5}])
        result = reserve(session, "ORD-3", lines, partial=True, now=NOW)

    assert result["reservationStatus"] == "partial"
    [line] = result["reservations"]
    assert (line["reserved"], line["backorder"]) == (D("3"), D("2"))
    assert levels(engine, "WIDGET") == (D("3"), D("3"))


def test_whole_number_units_refuse_fractions(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session)
    whole_only = r"2\.5 unit of WIDGET, but unit allows whole numbers only"
    with pytest.raises(HandlerInputError, match=whole_only), engine.database.write() as session:
        parse_lines(session, [{"sku": "WIDGET", "quantity": "2.5"}])
    with pytest.raises(HandlerInputError, match="at most 3 decimals"), engine.database.write() as session:
        parse_lines(session, [{"sku": "CABLE", "quantity": "0.0005"}])


def test_release_is_idempotent_and_a_fulfilled_reservation_cannot_be_released(engine: Engine) -> None:
    from handlers.erp.stock import fulfil

    with engine.database.write() as session:
        stock_catalogue(session, widgets=10)
        reserve(
            session, "ORD-4", parse_lines(session, [{"sku": "WIDGET", "quantity": 4}]), partial=False, now=NOW
        )
        reserve(
            session, "ORD-5", parse_lines(session, [{"sku": "WIDGET", "quantity": 2}]), partial=False, now=NOW
        )
    for _ in range(2):
        with engine.database.write() as session:
            release(session, "ORD-4", NOW)
    assert levels(engine, "WIDGET") == (D("10"), D("2"))
    with engine.database.write() as session:  # the released line can be held again
        again = reserve(
            session, "ORD-4", parse_lines(session, [{"sku": "WIDGET", "quantity": 4}]), partial=False, now=NOW
        )
    assert again["reservations"][0]["status"] == "reserved"
    assert levels(engine, "WIDGET") == (D("10"), D("6"))
    with engine.database.write() as session:
        release(session, "ORD-4", NOW)

    with engine.database.write() as session:
        fulfil(session, "ORD-5", NOW)
    assert levels(engine, "WIDGET") == (D("8"), D("0"))
    fulfilled = "is fulfilled; it cannot become released"
    with pytest.raises(InvalidTransition, match=fulfilled), engine.database.write() as session:
        release(session, "ORD-5", NOW)


def test_the_database_refuses_reserved_above_on_hand(engine: Engine) -> None:
    with engine.database.write() as session:
        stock_catalogue(session, widgets=5)
    with pytest.raises(IntegrityError), engine.database.write() as session:
        session.execute(update(StockLevel).where(StockLevel.sku == "WIDGET").values(reserved=D("6")))
    below = "has 2 reserved; on hand cannot go below that"
    with pytest.raises(HandlerInputError, match=below), engine.database.write() as session:
        reserve(
            session, "ORD-6", parse_lines(session, [{"sku": "WIDGET", "quantity": 2}]), partial=False, now=NOW
        )
        set_stock(session, "WIDGET", 1)


def test_unknown_products_and_units_are_clear_errors(engine: Engine) -> None:
    unknown = "no product has SKU 'NOPE'; add it with `flowdesk erp product add NOPE"
    with pytest.raises(NotFoundError, match=unknown), engine.database.write() as session:
        parse_lines(session, [{"sku": "NOPE", "quantity": 1}])
    unit = "unit of measure 'furlong' is unknown"
    with pytest.raises(HandlerInputError, match=unit), engine.database.write() as session:
        add_product(session, "X", "X", "furlong")


def test_fractions_add_up_exactly_on_every_database(engine: Engine) -> None:
    """0.1 + 0.1 + 0.1 is 0.3 here: SQLite's float NUMERIC would refuse the last 0.1 m."""
    with engine.database.write() as session:
        stock_catalogue(session)
        set_stock(session, "CABLE", "0.3")
    for order in ("A", "B", "C"):
        with engine.database.write() as session:
            lines = parse_lines(session, [{"sku": "CABLE", "quantity": "0.1"}])
            assert reserve(session, order, lines, partial=False, now=NOW)["reservationStatus"] == "reserved"

    assert levels(engine, "CABLE") == (D("0.3"), D("0.3"))
