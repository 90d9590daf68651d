"""A crash after each handler's effect and before the engine's commit leaves no effect behind, and
the retry does the effect exactly once (a rolled-back posting burns no invoice number either)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import select

from engine import Engine, FakeClock
from handlers.crm.models import Lead
from handlers.effects import HandlerEffect
from handlers.erp.catalogue import stock_levels
from handlers.erp.models import Customer, DunningLetter, Invoice, Payment, Reservation
from tests.handlers.conftest import InjectedCrash, crash_before_commit
from tests.handlers.factories import cold_lead, invoice_number
from tests.handlers.l2c import complete, open_tasks, rows, start
from tests.helpers import SALES


@pytest.mark.parametrize("handler", ["crm.capture_lead", "crm.qualify_lead", "crm.disqualify_lead"])
def test_a_crash_while_starting_leaves_no_lead(l2c: Engine, handler: str) -> None:
    lead = cold_lead() if handler == "crm.disqualify_lead" else None
    extra = {"lead": lead} if lead else {}
    with crash_before_commit(handler) as fired, pytest.raises(InjectedCrash):
        start(l2c, "ORD-1", **extra)
    assert fired
    assert (rows(l2c, Lead), rows(l2c, HandlerEffect)) == (0, 0)

    start(l2c, "ORD-1", **extra)  # the caller tries again

    assert rows(l2c, Lead) == 1
    with l2c.database.read() as session:
        assert len(session.scalars(select(HandlerEffect).where(HandlerEffect.handler == handler)).all()) == 1


@pytest.mark.parametrize(
    "handler", ["crm.ensure_customer", "erp.reserve_stock", "erp.create_invoice", "erp.post_invoice"]
)
def test_a_crash_after_the_sales_review_leaves_no_half_order(l2c: Engine, handler: str) -> None:
    instance = start(l2c, "ORD-2")
    with crash_before_commit(handler) as fired, pytest.raises(InjectedCrash):
        complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
    assert fired
    assert open_tasks(l2c, instance) == ["sales_review"]  # nothing of the step was kept
    assert (rows(l2c, Customer), rows(l2c, Reservation), rows(l2c, Invoice)) == (0, 0, 0)

    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)

    assert (rows(l2c, Customer), rows(l2c, Reservation), rows(l2c, Invoice)) == (1, 2, 1)
    assert l2c.runtime.variables(instance)["invoiceNumber"] == invoice_number(1)  # the crash burned none
    with l2c.database.read() as session:
        assert [level.reserved for level in stock_levels(session, "WIDGET")] == [D("2")]


def test_a_replayed_execution_returns_the_stored_result_without_a_second_effect(l2c: Engine) -> None:
    """Calling a handler again with an idempotency key that already committed changes nothing."""
    import logging
    from types import MappingProxyType

    from engine.handlers import HandlerContext
    from handlers.erp.stock import reserve_stock
    from tests.handlers.factories import order_lines

    results = []
    for _ in range(2):
        with l2c.database.write() as session:
            ctx = HandlerContext(
                variables=MappingProxyType({"orderLines": order_lines(quantity=7)}),
                business_key="ORD-R",
                process_instance_id="instance-r",
                activity_id="Task_reserve",
                idempotency_key="instance-r:task-1",
                session=session,
                log=logging.getLogger("test"),
            )
            results.append(reserve_stock(ctx))

    assert results[0] == results[1]
    with l2c.database.read() as session:
        assert [level.reserved for level in stock_levels(session, "WIDGET")] == [D("7")]


@pytest.mark.parametrize(
    ("message", "handler"),
    [("payment_received", "erp.record_payment"), ("cancel_order", "erp.issue_credit_note")],
)
def test_a_crash_while_a_message_is_handled_keeps_the_message_waiting(
    l2c: Engine, message: str, handler: str
) -> None:
    instance = start(l2c, "ORD-3")
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
    with crash_before_commit(handler) as fired, pytest.raises(InjectedCrash):
        l2c.messages.correlate(message, business_key="ORD-3", variables={"amount": "241.27"})
    assert fired
    assert l2c.runtime.open_activities(instance) == ["Gateway_payment_or_due"]
    assert (rows(l2c, Payment), rows(l2c, Invoice)) == (0, 1)

    l2c.messages.correlate(message, business_key="ORD-3", variables={"amount": "241.27"})  # sent again

    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert (rows(l2c, Payment), rows(l2c, Invoice)) == ((1, 1) if message == "payment_received" else (0, 2))
    with l2c.database.read() as session:
        [invoice] = session.scalars(select(Invoice).where(Invoice.kind == "invoice")).all()
        assert invoice.amount_paid == (D("241.27") if message == "payment_received" else D("0"))


def test_a_crash_while_dunning_sends_one_reminder_when_the_timer_fires_again(
    l2c: Engine, clock: FakeClock
) -> None:
    instance = start(l2c, "ORD-4")
    complete(l2c, instance, "sales_review", {"accepted": True}, SALES)
    [timer] = l2c.timers.list(instance_id=instance)
    clock.now = timer.due_at
    with crash_before_commit("erp.start_dunning") as fired:
        l2c.timers.fire_due("w")  # the firing fails: recorded on the timer row, tried again later
    assert fired and rows(l2c, DunningLetter) == 0

    clock.advance(minutes=1)
    assert l2c.timers.fire_due("w") == 1

    assert l2c.runtime.variables(instance)["dunningLevel"] == 1
    assert rows(l2c, DunningLetter) == 1
