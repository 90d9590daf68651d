"""lead_to_cash after posting: payment by message, dunning by the due-date timer, cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine, FakeClock
from engine.messages import MessageCorrelationError
from handlers.erp.catalogue import stock_levels
from handlers.erp.models import DunningLetter, Invoice, Payment, Reservation
from handlers.erp.payments import letters
from tests.handlers.factories import invoice_number, order_lines
from tests.handlers.l2c import complete, open_tasks, path, rows, start
from tests.helpers import SALES, WAREHOUSE

TOTAL = D("241.27")  # 2 x 100.00 + 2.5 m x 1.10, 19 % each


def accepted(engine: Engine, order: str, **variables: Any) -> str:
    """An instance past the sales review: with enough stock its invoice is posted and it waits to be paid."""
    instance = start(engine, order, **variables)
    complete(engine, instance, "sales_review", {"accepted": True}, SALES)
    return instance


def pay(engine: Engine, order: str, amount: str) -> None:
    engine.messages.correlate("payment_received", business_key=order, variables={"amount": amount})


def invoice_of(engine: Engine, order: str) -> Invoice:
    with engine.database.read() as session:
        invoice = session.scalars(select(Invoice).where(Invoice.order_key == order)).one()
        session.expunge(invoice)
        return invoice


def test_a_posted_invoice_waits_for_the_payment_then_the_order_is_done(l2c: Engine) -> None:
    instance = accepted(l2c, "ORD-1")
    assert l2c.runtime.open_activities(instance) == ["Gateway_payment_or_due"]
    assert l2c.runtime.variables(instance)["paymentStatus"] == "not_paid"

    pay(l2c, "ORD-1", "241.27")

    variables = l2c.runtime.variables(instance)
    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert path(l2c, instance)[-3:] == ["Task_record_payment", "Gateway_paid", "EndEvent_paid"]
    assert (variables["paymentStatus"], variables["amountDue"], variables["invoiceNumber"]) == (
        "paid",
        D("0.00"),
        invoice_number(1),
    )
    invoice = invoice_of(l2c, "ORD-1")
    assert (invoice.status, invoice.payment_state, invoice.amount_paid) == ("posted", "paid", TOTAL)
    assert l2c.timers.list() == []  # the due-date timer went with the payment


def test_a_partial_payment_keeps_waiting_for_the_rest(l2c: Engine) -> None:
    instance = accepted(l2c, "ORD-2")

    pay(l2c, "ORD-2", "200")

    assert l2c.runtime.open_activities(instance) == ["Gateway_payment_or_due"]
    variables = l2c.runtime.variables(instance)
    assert (variables["paymentStatus"], variables["amountPaid"], variables["amountDue"]) == (
        "partial",
        D("200.00"),
        D("41.27"),
    )
    assert invoice_of(l2c, "ORD-2").payment_state == "partial"
    assert len(l2c.timers.list(instance_id=instance)) == 1  # the due date still counts

    pay(l2c, "ORD-2", "41.27")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert (invoice_of(l2c, "ORD-2").payment_state, rows(l2c, Payment)) == ("paid", 2)


def test_the_due_date_passing_starts_dunning_level_by_level_until_paid(l2c: Engine, clock: FakeClock) -> None:
    instance = accepted(l2c, "ORD-3")
    due_date = l2c.runtime.variables(instance)["invoiceDueDate"]
    [timer] = l2c.timers.list(instance_id=instance)
    # Overdue from the start of the day after the due date (payment terms: 30 days).
    assert timer.due_at == datetime.combine(due_date, time.min, tzinfo=UTC) + timedelta(days=1)

    clock.now = timer.due_at - timedelta(minutes=1)
    assert l2c.timers.fire_due("w") == 0  # on the due date itself nothing happens
    clock.now = timer.due_at
    assert l2c.timers.fire_due("w") == 1

    variables = l2c.runtime.variables(instance)
    assert (variables["dunningLevel"], variables["amountDue"]) == (1, TOTAL)
    assert l2c.runtime.open_activities(instance) == ["Gateway_payment_or_due"]  # still waiting to be paid
    [second] = l2c.timers.list(instance_id=instance)
    assert (second.due_at - timer.due_at).days == 14

    clock.now = second.due_at
    assert l2c.timers.fire_due("w") == 1
    assert l2c.runtime.variables(instance)["dunningLevel"] == 2
    pay(l2c, "ORD-3", "241.27")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    invoice = invoice_of(l2c, "ORD-3")
    assert (invoice.payment_state, invoice.dunning_level) == ("paid", 2)
    with l2c.database.read() as session:
        assert [(letter.level, letter.amount_due) for letter in letters(session, invoice.id)] == [
            (1, TOTAL),
            (2, TOTAL),
        ]


def test_a_bad_payment_amount_stops_at_record_payment_and_changes_nothing(l2c: Engine) -> None:
    instance = accepted(l2c, "ORD-4")

    pay(l2c, "ORD-4", "-5")

    [job] = l2c.jobs.list(instance_id=instance)
    assert job.activity_id == "Task_record_payment"
    assert job.error_message is not None and "amount must be above 0, not -5" in job.error_message
    invoice = invoice_of(l2c, "ORD-4")
    assert (invoice.payment_state, invoice.amount_paid, rows(l2c, Payment)) == ("not_paid", D("0"), 0)


def test_cancel_order_after_posting_issues_a_credit_note_and_releases_the_stock(l2c: Engine) -> None:
    instance = accepted(l2c, "ORD-5")

    l2c.messages.correlate("cancel_order", business_key="ORD-5")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    steps = path(l2c, instance)
    assert steps.index("Task_credit_note") < steps.index("Task_release_invoiced")
    assert steps[-1] == "EndEvent_order_cancelled" and "Task_release_reserved" not in steps
    variables = l2c.runtime.variables(instance)
    assert (variables["creditNoteNumber"], variables["creditNoteTotal"]) == (invoice_number(1, "RINV"), TOTAL)
    assert variables["invoiceNumber"] == invoice_number(1)
    with l2c.database.read() as session:
        invoice, note = session.scalars(select(Invoice).order_by(Invoice.created_at, Invoice.kind)).all()
        assert (invoice.kind, invoice.status, invoice.number) == ("invoice", "posted", invoice_number(1))
        assert (note.kind, note.credit_of_id, note.total) == ("credit_note", invoice.id, invoice.total)
        assert [level.reserved for level in stock_levels(session, "WIDGET")] == [D("0")]
    assert l2c.timers.list() == [] and l2c.runtime.open_activities(instance) == []
    with pytest.raises(MessageCorrelationError):  # the cancelled order waits for no payment any more
        pay(l2c, "ORD-5", "241.27")


def test_cancel_order_after_the_reservation_releases_it(l2c: Engine) -> None:
    # A rounding setting the invoice does not know: invoicing fails and waits for a retry, with the
    # stock already reserved.
    instance = accepted(l2c, "ORD-6", invoiceRounding="weekly")
    [job] = l2c.jobs.list(instance_id=instance)
    assert job.activity_id == "Task_create_invoice"
    with l2c.database.read() as session:
        assert [level.available for level in stock_levels(session, "WIDGET")] == [D("98")]

    l2c.messages.correlate("cancel_order", business_key="ORD-6")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert "Task_release_reserved" in path(l2c, instance)
    assert l2c.runtime.variables(instance)["reservationStatus"] == "released"
    assert l2c.jobs.list(instance_id=instance) == []  # the invoicing retry was withdrawn
    with l2c.database.read() as session:
        [level] = stock_levels(session, "WIDGET")
        assert (level.reserved, level.available) == (D("0"), D("100"))
        assert {r.status for r in session.scalars(select(Reservation))} == {"released"}
    assert rows(l2c, Invoice) == 0


def test_cancel_order_before_the_reservation_has_nothing_to_undo(l2c: Engine) -> None:
    instance = start(l2c, "ORD-7")
    assert open_tasks(l2c, instance) == ["sales_review"]

    l2c.messages.correlate("cancel_order", business_key="ORD-7", variables={"cancelReason": "duplicate"})

    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert open_tasks(l2c, instance) == []
    steps = path(l2c, instance)
    assert "EndEvent_order_cancelled" in steps and "sales_review" in steps
    assert not {"Task_release_reserved", "Task_credit_note", "Task_release_invoiced"} & set(steps)
    assert (rows(l2c, Reservation), rows(l2c, Invoice), rows(l2c, DunningLetter)) == (0, 0, 0)
    assert l2c.runtime.variables(instance)["cancelReason"] == "duplicate"


def test_cancel_order_while_waiting_for_stock_ends_the_wait_and_holds_nothing(l2c: Engine) -> None:
    instance = accepted(l2c, "ORD-8", orderLines=order_lines(quantity=150), creditLimit=50000)
    complete(l2c, instance, "backorder_decision", {"decision": "wait"}, WAREHOUSE)
    assert len(l2c.timers.list(instance_id=instance)) == 1  # the daily re-check

    l2c.messages.correlate("cancel_order", business_key="ORD-8")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    assert l2c.timers.list() == [] and rows(l2c, Invoice) == 0
    assert "Task_release_reserved" not in path(l2c, instance)  # out of stock: nothing was reserved
    with pytest.raises(MessageCorrelationError):
        l2c.messages.correlate("stock_received", business_key="ORD-8")


def test_cancel_order_while_posting_waits_for_a_retry_cancels_the_draft_and_releases(l2c: Engine) -> None:
    # An invoice date posting cannot read: the draft exists, posting waits for a retry.
    instance = accepted(l2c, "ORD-9", invoiceDate="someday")
    [job] = l2c.jobs.list(instance_id=instance)
    assert job.activity_id == "Task_post_invoice"

    l2c.messages.correlate("cancel_order", business_key="ORD-9")

    assert l2c.runtime.get(instance).state == "COMPLETED"
    steps = path(l2c, instance)
    assert steps.index("Task_cancel_draft") < steps.index("Task_release_draft")
    assert "Task_credit_note" not in steps and l2c.jobs.list(instance_id=instance) == []
    with l2c.database.read() as session:
        [invoice] = session.scalars(select(Invoice)).all()
        assert (invoice.status, invoice.number) == ("cancelled", None)  # kept, and it burned no number
        assert [level.reserved for level in stock_levels(session, "WIDGET")] == [D("0")]
