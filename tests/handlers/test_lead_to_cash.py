"""processes/lead_to_cash.bpmn end to end with the real handlers, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from engine import Engine, FakeClock
from handlers.crm.models import Lead
from handlers.erp.catalogue import set_stock, stock_levels
from handlers.erp.models import Customer, Invoice, Reservation
from tests.handlers.factories import cold_lead, hot_lead, invoice_number, order_lines
from tests.handlers.l2c import complete, open_tasks, path, rows, start
from tests.helpers import FINANCE, SALES, WAREHOUSE

RESULT_VARIABLES = (
    "leadScore",
    "leadGrade",
    "qualified",
    "customerId",
    "reservationStatus",
    "invoiceNumber",
    "invoiceTotal",
)


def test_an_accepted_lead_becomes_a_customer_with_reserved_stock_and_a_posted_invoice(l2c: Engine) -> None:
    instance = start(l2c, "ORD-1")
    assert open_tasks(l2c, instance) == ["sales_review"]

    complete(l2c, instance, "sales_review", {"accepted": True, "notes": "budget confirmed"}, SALES)

    variables = l2c.runtime.variables(instance)
    assert path(l2c, instance)[-5:] == [
        "Task_reserve",
        "Task_create_invoice",
        "Task_post_invoice",
        "Gateway_await_payment",
        "Gateway_payment_or_due",
    ]
    assert l2c.runtime.open_activities(instance) == ["Gateway_payment_or_due"]  # waiting to be paid
    assert all(variables.get(name) is not None for name in RESULT_VARIABLES)
    assert (variables["leadGrade"], variables["qualified"], variables["reservationStatus"]) == (
        "A",
        True,
        "reserved",
    )
    # 2 x 100.00 + 2.5 m x 1.10, 19 % each: 202.75 + 38.52
    assert (variables["invoiceNumber"], variables["invoiceTotal"]) == (invoice_number(1), D("241.27"))
    with l2c.database.read() as session:
        lead = session.scalars(select(Lead)).one()
        customer = session.get(Customer, variables["customerId"])
        assert (
            customer is not None and customer.lead_id == lead.id and customer.vat_normalized == "DE123456789"
        )
        assert (lead.status, lead.customer_id, lead.grade) == ("sql", customer.id, "A")
        assert [lvl.reserved for lvl in stock_levels(session, "WIDGET")] == [D("2")]


def test_a_lead_that_is_not_an_mql_is_disqualified_and_kept(l2c: Engine) -> None:
    instance = start(l2c, "ORD-2", lead=cold_lead())

    assert l2c.runtime.get(instance).ended
    assert path(l2c, instance)[-2:] == ["Task_disqualify", "EndEvent_disqualified"]
    with l2c.database.read() as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.status, lead.lost_reason, lead.grade) == ("disqualified", "not_mql", "F")


def test_a_lead_rejected_in_sales_review_is_lost_with_the_note(l2c: Engine) -> None:
    instance = start(l2c, "ORD-3")

    complete(l2c, instance, "sales_review", {"accepted": False, "notes": "no budget this year"}, SALES)

    assert path(l2c, instance)[-2:] == ["Task_mark_lost", "EndEvent_lost"]
    with l2c.database.read() as session:
        lead = session.scalars(select(Lead)).one()
        assert (lead.status, lead.lost_reason, lead.lost_note) == (
            "disqualified",
            "rejected_in_sales_review",
            "no budget this year",
        )
    assert rows(l2c, Customer) == 0


def test_the_same_email_again_is_reported_as_a_duplicate_not_created_twice(l2c: Engine) -> None:
    first = start(l2c, "ORD-4")
    second = start(l2c, "ORD-5", lead=hot_lead(email=" ANN.BUYER@acme.example"))

    assert l2c.runtime.variables(second)["leadDuplicate"] is True
    assert l2c.runtime.variables(second)["leadId"] == l2c.runtime.variables(first)["leadId"]
    assert rows(l2c, Lead) == 1


def test_an_order_over_the_credit_limit_needs_finance(l2c: Engine) -> None:
    instance = start(l2c, "ORD-6", orderLines=order_lines(quantity=90), creditLimit=5000)
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)

    assert open_tasks(l2c, instance) == ["credit_approval"]
    assert l2c.runtime.variables(instance)["creditExposure"] > D("5000")
    complete(l2c, instance, "credit_approval", {"approved": True}, FINANCE)

    assert l2c.runtime.variables(instance)["invoiceNumber"] == invoice_number(1)


def test_a_refused_credit_ends_without_reserving(l2c: Engine) -> None:
    instance = start(l2c, "ORD-7", orderLines=order_lines(quantity=90), creditLimit=5000)
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
    complete(l2c, instance, "credit_approval", {"approved": False}, FINANCE)

    assert path(l2c, instance)[-1] == "EndEvent_credit_refused"
    assert rows(l2c, Reservation) == 0


@pytest.mark.parametrize("decision", ["partial", "cancel", "wait"])
def test_out_of_stock_goes_to_the_backorder_decision(l2c: Engine, decision: str) -> None:
    instance = start(
        l2c, "ORD-8", orderLines=order_lines(quantity=150), creditLimit=50000
    )  # 100 widgets in stock
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)

    assert open_tasks(l2c, instance) == ["backorder_decision"]
    assert l2c.runtime.variables(instance)["reservationStatus"] == "out_of_stock"
    [shortage] = l2c.runtime.variables(instance)["shortages"]
    assert (shortage["sku"], shortage["missing"]) == ("WIDGET", D("50"))
    complete(l2c, instance, "backorder_decision", {"decision": decision}, WAREHOUSE)

    variables = l2c.runtime.variables(instance)
    if decision == "partial":
        assert variables["reservationStatus"] == "partial"
        assert variables["invoiceNumber"] == invoice_number(1)
        # 100 widgets (not 150) + the cable: 10000.00 + 2.75, 19 %
        assert variables["invoiceTotal"] == D("11903.27")
    elif decision == "cancel":
        assert path(l2c, instance)[-2:] == ["Task_release", "EndEvent_cancelled"]
        assert rows(l2c, Invoice) == 0
    else:  # waiting for stock to arrive (or the daily re-check), holding nothing
        assert l2c.runtime.open_activities(instance) == ["Gateway_stock_or_recheck"]
    with l2c.database.read() as session:
        [level] = stock_levels(session, "WIDGET")
        assert level.reserved == (D("100") if decision == "partial" else D("0"))


def test_stock_received_sends_every_waiting_order_back_to_the_reservation(l2c: Engine) -> None:
    waiting = []
    for order in ("ORD-9", "ORD-10"):
        instance = start(l2c, order, orderLines=order_lines(quantity=150), creditLimit=50000)
        complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
        complete(l2c, instance, "backorder_decision", {"decision": "wait"}, WAREHOUSE)
        waiting.append(instance)
    with l2c.database.write() as session:
        set_stock(session, "WIDGET", 200)

    # The goods receipt tells every order that waits (no business key, "all": true).
    delivered = l2c.messages.correlate("stock_received", all=True)

    assert len(delivered) == 2
    # Whichever is delivered first reserves 150; 50 are left for the other, which is short again
    # and goes back to the warehouse.
    served, short = sorted(waiting, key=lambda i: l2c.runtime.variables(i)["reservationStatus"] != "reserved")
    assert l2c.runtime.variables(served)["invoiceNumber"] == invoice_number(1)
    assert path(l2c, served).count("Task_reserve") == 2
    assert l2c.runtime.variables(short)["reservationStatus"] == "out_of_stock"
    assert open_tasks(l2c, short) == ["backorder_decision"]
    with l2c.database.read() as session:
        assert [level.reserved for level in stock_levels(session, "WIDGET")] == [D("150")]


def test_the_daily_re_check_asks_the_warehouse_again_while_stock_is_short(
    l2c: Engine, clock: FakeClock
) -> None:
    instance = start(l2c, "ORD-11", orderLines=order_lines(quantity=150), creditLimit=50000)
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
    complete(l2c, instance, "backorder_decision", {"decision": "wait"}, WAREHOUSE)
    clock.advance(hours=23)
    assert l2c.timers.fire_due("w") == 0

    clock.advance(hours=1)
    assert l2c.timers.fire_due("w") == 1

    assert open_tasks(l2c, instance) == ["backorder_decision"]  # still 100 of 150: asked again
    assert l2c.runtime.variables(instance)["reservationStatus"] == "out_of_stock"
