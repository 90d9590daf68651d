"""Payments and dunning on posted invoices: states, overpayments, refusals, no letter once paid."""

from __future__ import annotations

import logging
from datetime import date
from types import MappingProxyType
from typing import Any

import pytest

from engine import Engine
from engine.handlers import HandlerContext
from handlers.erp.invoicing import credit, get_invoice
from handlers.erp.payments import amount_due, dun, letters, pay, record_payment, start_dunning
from handlers.exceptions import HandlerInputError
from tests.handlers.factories import NOW, D
from tests.handlers.test_invoicing import customer, draft, posted

TOTAL = D("1003.27")  # 1000.00 incl. 10 % + 2.5 m x 1.10 + 19 %


def posted_invoice(engine: Engine, order: str = "ORD-P") -> str:
    invoice_id = draft(engine, customer(engine), order)
    assert posted(engine, invoice_id, date(2026, 6, 15)).total == TOTAL
    return invoice_id


def call(engine: Engine, handler: Any, key: str, **variables: Any) -> dict[str, Any]:
    with engine.database.write() as session:
        ctx = HandlerContext(
            variables=MappingProxyType(variables),
            business_key="ORD-P",
            process_instance_id="instance-p",
            activity_id="Task_x",
            idempotency_key=key,
            session=session,
            log=logging.getLogger("test"),
        )
        return dict(handler(ctx))


def test_payments_add_up_from_partial_to_paid_and_an_overpayment_is_reported(engine: Engine) -> None:
    invoice_id = posted_invoice(engine)

    first = call(engine, record_payment, "k1", invoiceId=invoice_id, amount="1000")
    second = call(engine, record_payment, "k2", invoiceId=invoice_id, amount=10, paymentReference="SEPA-77")

    assert (first["paymentStatus"], first["amountDue"]) == ("partial", D("3.27"))
    assert (second["paymentStatus"], second["amountDue"], second["amountOverpaid"]) == (
        "paid",
        D("0"),
        D("6.73"),
    )
    with engine.database.read() as session:
        invoice = get_invoice(session, invoice_id)
        assert (invoice.status, invoice.payment_state, invoice.amount_paid) == ("posted", "paid", D("1010"))


def test_a_replayed_payment_is_counted_once(engine: Engine) -> None:
    invoice_id = posted_invoice(engine)

    results = [call(engine, record_payment, "same-key", invoiceId=invoice_id, amount="100") for _ in range(2)]

    assert results[0] == results[1]
    with engine.database.read() as session:
        assert get_invoice(session, invoice_id).amount_paid == D("100")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "amount must be above 0, not 0"),
        ("1.005", "at most 2 decimals are stored"),
        ("ten", "amount must be a number, not 'ten'"),
    ],
)
def test_a_bad_amount_is_refused_and_records_nothing(engine: Engine, amount: str, message: str) -> None:
    invoice_id = posted_invoice(engine)

    with pytest.raises(HandlerInputError) as refused:
        call(engine, record_payment, "k", invoiceId=invoice_id, amount=amount)

    assert message in refused.value.message
    with engine.database.read() as session:
        assert get_invoice(session, invoice_id).payment_state == "not_paid"


def test_drafts_and_credit_notes_take_no_payment(engine: Engine) -> None:
    draft_id = draft(engine, customer(engine), "ORD-D")
    with engine.database.write() as session, pytest.raises(HandlerInputError) as refused:
        pay(session, draft_id, D("1"), date(2026, 6, 15), None, NOW)
    assert "status draft" in refused.value.message and "post it first" in refused.value.message

    invoice_id = draft(engine, customer(engine), "ORD-C")
    posted(engine, invoice_id, date(2026, 6, 15))
    with engine.database.write() as session:
        note_id = credit(session, invoice_id, date(2026, 6, 16), NOW).id
    with engine.database.write() as session, pytest.raises(HandlerInputError) as refused:
        pay(session, note_id, D("1"), date(2026, 6, 16), None, NOW)
    assert "is a credit_note" in refused.value.message


def test_dunning_raises_the_level_with_one_letter_each_and_stops_once_paid(engine: Engine) -> None:
    invoice_id = posted_invoice(engine)

    first = call(engine, start_dunning, "d1", invoiceId=invoice_id, paymentReminderAt="2026-07-16T00:00:00Z")
    call(engine, record_payment, "p1", invoiceId=invoice_id, amount="3.27")
    later = first["paymentReminderAt"]
    second = call(engine, start_dunning, "d2", invoiceId=invoice_id, paymentReminderAt=later)

    assert (first["dunningLevel"], first["amountDue"], first["paymentReminderAt"].isoformat()) == (
        1,
        TOTAL,
        "2026-07-30T00:00:00+00:00",
    )
    assert (second["dunningLevel"], second["amountDue"]) == (2, D("1000.00"))
    call(engine, record_payment, "p2", invoiceId=invoice_id, amount="1000")
    with engine.database.write() as session:
        assert dun(session, invoice_id, date(2026, 8, 13), NOW) is None  # paid: no third letter
        assert [(x.level, x.amount_due) for x in letters(session, invoice_id)] == [(1, TOTAL), (2, D("1000"))]
        invoice = get_invoice(session, invoice_id)
        assert (invoice.dunning_level, invoice.last_dunned_on, amount_due(invoice)) == (
            2,
            date(2026, 7, 30),
            D("0"),
        )


@pytest.mark.parametrize("interval", ["two", 0, True, "1.5"])
def test_a_bad_dunning_interval_is_refused(engine: Engine, interval: Any) -> None:
    invoice_id = posted_invoice(engine)

    with pytest.raises(HandlerInputError) as refused:
        call(engine, start_dunning, "d", invoiceId=invoice_id, dunningIntervalDays=interval)

    assert "dunningIntervalDays must be" in refused.value.message
    with engine.database.read() as session:
        assert letters(session, invoice_id) == []
