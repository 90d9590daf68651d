"""Invoices: draft -> posted, gapless yearly numbers, frozen HTML, credit notes instead of edits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from engine import Engine
from handlers.crm.customers import ensure
from handlers.erp.invoicing import cancel_draft, create, credit, get_invoice, invoice_lines, post
from handlers.erp.models import Customer, Invoice
from handlers.erp.numbering import take_number
from handlers.erp.taxes import Rounding
from handlers.exceptions import InvalidTransition
from tests.handlers.factories import NOW, stock_catalogue

LINES = [
    {"sku": "WIDGET", "quantity": 1, "unitPrice": "1000.00", "taxRate": "0.10", "taxIncluded": True},
    {"sku": "CABLE", "quantity": "2.5", "unitPrice": "1.10", "taxRate": "0.19"},
]


def customer(engine: Engine) -> str:
    with engine.database.write() as session:
        stock_catalogue(session)
        found = ensure(
            session,
            lead_id=None,
            name="ACME <b>GmbH</b>",
            email_raw="ap@acme.example",
            vat_raw="DE123456789",
            country="DE",
            currency="EUR",
            credit_limit=D("100000"),
            now=NOW,
        )
    return str(found["customerId"])


def draft(engine: Engine, customer_id: str, order: str, lines: list[dict[str, Any]] = LINES) -> str:
    with engine.database.write() as session:
        invoice = create(
            session,
            order=order,
            customer_id=customer_id,
            lines=invoice_lines(session, lines),
            currency="EUR",
            rounding=Rounding.PER_LINE,
            now=NOW,
        )
        return invoice.id


def posted(engine: Engine, invoice_id: str, on: date) -> Invoice:
    with engine.database.write() as session:
        return post(session, invoice_id, on, NOW)


def test_numbers_are_given_at_posting_and_restart_each_year(engine: Engine) -> None:
    who = customer(engine)
    drafts = [draft(engine, who, f"ORD-{n}") for n in range(4)]
    with engine.database.read() as session:
        assert get_invoice(session, drafts[0]).number is None  # a draft has no number yet

    numbers = [
        posted(engine, drafts[0], date(2026, 12, 30)).number,
        posted(engine, drafts[1], date(2026, 12, 31)).number,
        posted(engine, drafts[2], date(2027, 1, 1)).number,
        posted(engine, drafts[3], date(2027, 1, 2)).number,
    ]

    assert numbers == ["INV/2026/00001", "INV/2026/00002", "INV/2027/00001", "INV/2027/00002"]


def test_a_rolled_back_posting_burns_no_number(engine: Engine) -> None:
    who = customer(engine)
    first, second = draft(engine, who, "ORD-A"), draft(engine, who, "ORD-B")

    with pytest.raises(RuntimeError, match="crash"), engine.database.write() as session:
        assert post(session, first, date(2026, 3, 1), NOW).number == "INV/2026/00001"
        raise RuntimeError("crash before commit")

    assert posted(engine, second, date(2026, 3, 1)).number == "INV/2026/00001"
    assert posted(engine, first, date(2026, 3, 2)).number == "INV/2026/00002"
    with engine.database.write() as session:
        assert take_number(session, "INV", 2026) == 3


def test_posting_freezes_amounts_and_html_and_posting_twice_changes_nothing(engine: Engine) -> None:
    who = customer(engine)
    invoice_id = draft(engine, who, "ORD-H")

    invoice = posted(engine, invoice_id, date(2026, 5, 4))
    again = posted(engine, invoice_id, date(2026, 5, 9))

    assert again.number == invoice.number == "INV/2026/00001"
    assert (invoice.net_total, invoice.tax_total, invoice.total) == (D("911.84"), D("91.43"), D("1003.27"))
    assert invoice.due_date == date(2026, 6, 3)  # 30 days' terms
    assert invoice.html is not None
    assert "INV/2026/00001" in invoice.html and "€1,003.27" in invoice.html and "€909.09" in invoice.html
    assert "ACME &lt;b&gt;GmbH&lt;/b&gt;" in invoice.html  # autoescaped
    with pytest.raises(InvalidTransition, match="is posted; it cannot become cancelled"):
        from handlers.erp.models import InvoiceStatus

        InvoiceStatus(invoice.status).check(InvoiceStatus.CANCELLED, what=f"invoice {invoice.id}")


def test_one_invoice_per_order(engine: Engine) -> None:
    who = customer(engine)
    assert draft(engine, who, "ORD-1") == draft(engine, who, "ORD-1")


def test_a_credit_note_corrects_a_posted_invoice_in_its_own_series(engine: Engine) -> None:
    who = customer(engine)
    invoice_id = draft(engine, who, "ORD-C")
    posted(engine, invoice_id, date(2026, 7, 1))

    for _ in range(2):  # crediting in full twice gives the same credit note
        with engine.database.write() as session:
            note = credit(session, invoice_id, date(2026, 7, 2), NOW)
            number, total, kind, credit_of = note.number, note.total, note.kind, note.credit_of_id

    assert (number, kind, credit_of) == ("RINV/2026/00001", "credit_note", invoice_id)
    assert total == D("1003.27")
    with engine.database.read() as session:
        original = get_invoice(session, invoice_id)
        assert (original.status, original.number) == ("posted", "INV/2026/00001")


def test_the_credit_check_counts_open_invoices_less_credit_notes(engine: Engine) -> None:
    from handlers.erp.credit import check

    who = customer(engine)  # credit limit 100000
    with engine.database.write() as session:
        session.get(Customer, who).credit_limit = D("2000")  # type: ignore[union-attr]
    first = draft(engine, who, "ORD-1")
    posted(engine, first, date(2026, 8, 1))  # 1003.27 open

    with engine.database.read() as session:
        within = check(session, who, D("996.73"), "EUR")
        over = check(session, who, D("996.74"), "EUR")
    with engine.database.write() as session:
        credit(session, first, date(2026, 8, 2), NOW)
    with engine.database.read() as session:
        after_credit = check(session, who, D("1500"), "EUR")

    assert (within["creditOk"], within["creditExposure"]) == (True, D("2000.00"))
    assert (over["creditOk"], over["creditExposure"]) == (False, D("2000.01"))
    assert (after_credit["creditOk"], after_credit["creditExposure"]) == (True, D("1500.00"))


def test_amounts_with_more_decimals_than_stored_are_refused_not_rounded(engine: Engine) -> None:
    from handlers.exceptions import HandlerInputError

    customer(engine)
    too_fine = [{"sku": "WIDGET", "quantity": 1, "unitPrice": "9.99999", "taxRate": "0.19"}]
    refused = r"unitPrice is 9\.99999: at most 4 decimals are stored"
    with pytest.raises(HandlerInputError, match=refused), engine.database.read() as session:
        invoice_lines(session, too_fine)


def test_only_a_draft_is_cancelled_a_posted_invoice_is_refused(engine: Engine) -> None:
    who = customer(engine)
    kept, sent = draft(engine, who, "ORD-X"), draft(engine, who, "ORD-Y")
    posted(engine, sent, date(2026, 6, 15))

    with engine.database.write() as session:
        assert cancel_draft(session, kept).status == "cancelled"
        assert cancel_draft(session, kept).status == "cancelled"  # twice is harmless
    with engine.database.write() as session, pytest.raises(InvalidTransition) as refused:
        cancel_draft(session, sent)

    assert "is posted; it cannot become cancelled" in refused.value.message
    with engine.database.read() as session:
        assert get_invoice(session, sent).status == "posted"
