"""Leads, customers, stock and invoices pages over records that lead_to_cash made, and who may see them."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from engine import Engine
from engine.handlers import HandlerRegistry
from handlers.erp.invoicing import credit
from handlers.erp.models import Invoice
from handlers.registry import builtin_registry
from tests.handlers.crm_erp_seed import Seeded, phone_duplicates, run_lead_to_cash
from tests.handlers.factories import NOW
from webui.pages.erp import DOCUMENT_POLICY

Login = Callable[[str], FlaskClient]


@pytest.fixture
def handlers() -> HandlerRegistry:
    return builtin_registry()


@pytest.fixture
def seeded(engine: Engine, login: Login) -> Seeded:
    engine.identity.add_user("marketing", "marketing-pw", ["marketing"])
    return run_lead_to_cash(engine)


def _cells(html: str, row_attr: str) -> list[str]:
    """The rows carrying ``row_attr`` as text, tags and extra spaces removed."""
    rows = re.findall(rf"<tr {row_attr}=.*?</tr>", html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def test_sales_lists_leads_with_status_score_grade_and_filters_by_status(
    seeded: Seeded, login: Login
) -> None:
    client = login("sales")
    page = client.get("/leads").text
    rows = _cells(page, "data-lead-id")
    assert len(rows) == 2
    assert any(
        "Ann Buyer ACME Manufacturing GmbH ann.buyer@acme.example sql" in r and " A " in r for r in rows
    )
    assert any("someone@gmail.com disqualified" in r and " F " in r for r in rows)

    lost = client.get("/leads?status=disqualified").text
    assert [r.split()[0:2] for r in _cells(lost, "data-lead-id")] == [["Some", "One"]]
    assert 'value="disqualified" selected' in lost
    bad = client.get("/leads?status=hot")
    assert bad.status_code == 400 and "use one of new, mql, sql, disqualified" in bad.text


def test_leads_come_in_pages_newest_first(seeded: Seeded, engine: Engine, login: Login) -> None:
    phone_duplicates(engine)  # two more: four leads, three per page in these tests
    client = login("marketing")
    first = client.get("/leads").text
    second = client.get("/leads?page=2").text
    assert "4 lead(s)" in first and "Page 1 of 2" in first and 'rel="next"' in first
    ids = re.findall(r'data-lead-id="([^"]+)"', first) + re.findall(r'data-lead-id="([^"]+)"', second)
    assert len(ids) == 4 and len(set(ids)) == 4


def test_a_lead_page_shows_scores_reasons_activities_and_the_customer(seeded: Seeded, login: Login) -> None:
    page = login("sales").get(f"/leads/{seeded.hot_lead_id}").text
    assert re.search(r'id="lead-grade">A<', page)
    fit = int(re.search(r'id="lead-fit">(\d+)<', page).group(1))  # type: ignore[union-attr]
    engagement = int(re.search(r'id="lead-engagement">(\d+)<', page).group(1))  # type: ignore[union-attr]
    assert re.search(rf'id="lead-score">{fit + engagement}<', page)
    reasons = [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in re.findall(r"<tr>.*?</tr>", page, re.S)]
    assert "enterprise_size fit 30 employees gte 1000" in reasons
    assert any(r.startswith("activity:demo_request engagement ") for r in reasons), reasons
    assert '<ul class="timeline activities">' in page and "demo_request" in page and "download" in page
    assert f'href="/customers/{seeded.customer_id}">ACME Manufacturing GmbH</a>' in page
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2}</time> demo_request', page)
    assert 'id="lead-status">sql<' in page


def test_phone_duplicates_link_to_each_other(seeded: Seeded, engine: Engine, login: Login) -> None:
    first, second = phone_duplicates(engine)
    client = login("sales")
    original = client.get(f"/leads/{first}").text
    copy = client.get(f"/leads/{second}").text
    assert f'href="/leads/{second}">Sam Beta</a>' in original and "(duplicates this lead)" in original
    assert f'href="/leads/{first}">Pat Beta</a>' in copy and "(this lead duplicates it)" in copy
    assert "Possible duplicates" in client.get(f"/leads/{seeded.hot_lead_id}").text


def test_customers_list_and_page_with_lead_and_invoices(seeded: Seeded, login: Login) -> None:
    client = login("sales")
    [row] = _cells(client.get("/customers").text, "data-customer-id")
    assert row.startswith("ACME Manufacturing GmbH ann.buyer@acme.example DE123456789 active ")
    page = client.get(f"/customers/{seeded.customer_id}").text
    assert 'id="customer-state">active<' in page and 'id="customer-vat">DE123456789<' in page
    assert f'href="/leads/{seeded.hot_lead_id}">Ann Buyer</a> (sql)' in page
    assert seeded.invoice_number in page and "241.27 EUR" in page
    assert client.get("/customers?state=archived").text.count("data-customer-id") == 0


def test_stock_levels_and_reservations_filtered_by_sku(seeded: Seeded, login: Login) -> None:
    client = login("warehouse")
    page = client.get("/stock").text
    assert _cells(page, "data-sku") == [
        "CABLE Cable MAIN 1000.000 2.500 997.500 m",
        "WIDGET Widget MAIN 100 2 98 unit",
    ]
    assert sorted(_cells(page, "data-order")) == [
        "ORD-1 1 WIDGET MAIN 2 2 0 reserved",
        "ORD-1 2 CABLE MAIN 2.5 2.5 0 reserved",
    ]
    only = client.get("/stock?sku=CABLE").text
    assert [r.split()[0] for r in _cells(only, "data-sku")] == ["CABLE"]
    assert _cells(only, "data-order") == ["ORD-1 2 CABLE MAIN 2.5 2.5 0 reserved"]
    assert "No reservation of NOPE" in client.get("/stock?sku=NOPE").text


def test_invoices_list_filters_by_order_and_state(seeded: Seeded, login: Login) -> None:
    client = login("finance")
    [row] = _cells(client.get("/invoices").text, "data-invoice-id")
    assert row.startswith(f"{seeded.invoice_number} invoice ACME Manufacturing GmbH ORD-1 posted 241.27 EUR ")
    assert re.search(r"\d{4}-\d{2}-\d{2}$", row)  # the due date
    assert len(_cells(client.get("/invoices?order=ORD-1&state=posted").text, "data-invoice-id")) == 1
    assert _cells(client.get("/invoices?order=ORD-2").text, "data-invoice-id") == []
    assert _cells(client.get("/invoices?state=draft").text, "data-invoice-id") == []
    assert client.get("/invoices?state=paid").status_code == 400


def test_an_invoice_page_frames_the_frozen_document_and_lists_its_credit_notes(
    seeded: Seeded, engine: Engine, login: Login
) -> None:
    client = login("finance")
    page = client.get(f"/invoices/{seeded.invoice_id}").text
    assert f'id="invoice-number">Invoice {seeded.invoice_number}<' in page
    assert 'id="invoice-total"><strong>241.27 EUR<' in page
    assert f'<iframe class="invoice-document" src="/invoices/{seeded.invoice_id}/document" sandbox ' in page
    assert "None: a posted invoice is corrected by a credit note" in page

    with engine.database.write() as session:
        note = credit(session, seeded.invoice_id, NOW.date(), NOW)
        note_id, note_number = note.id, str(note.number)
    page = client.get(f"/invoices/{seeded.invoice_id}").text
    assert f'href="/invoices/{note_id}">{note_number}</a>' in page and note_number.startswith("RINV/")
    note_page = client.get(f"/invoices/{note_id}").text
    assert f"Credit note {note_number}" in note_page
    assert f'href="/invoices/{seeded.invoice_id}">invoice {seeded.invoice_number}</a>' in note_page


def test_the_document_is_served_as_stored_under_a_policy_that_allows_no_script(
    seeded: Seeded, engine: Engine, login: Login
) -> None:
    client = login("finance")
    with engine.database.read() as session:
        stored = session.get(Invoice, seeded.invoice_id).html  # type: ignore[union-attr]
    response = client.get(f"/invoices/{seeded.invoice_id}/document")
    assert response.text == stored and seeded.invoice_number in response.text
    assert response.headers["Content-Security-Policy"] == DOCUMENT_POLICY
    assert "default-src 'none'" in DOCUMENT_POLICY and "sandbox" in DOCUMENT_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    # Whatever the stored HTML holds, the page itself never carries it.
    hostile = "<p>x</p><script>alert(document.cookie)</script>"
    with engine.database.write() as session:
        session.execute(update(Invoice).where(Invoice.id == seeded.invoice_id).values(html=hostile))
    assert "<script>alert" not in client.get(f"/invoices/{seeded.invoice_id}").text
    assert (
        client.get(f"/invoices/{seeded.invoice_id}/document").headers["Content-Security-Policy"]
        == DOCUMENT_POLICY
    )


@pytest.mark.parametrize(
    ("user", "allowed", "refused"),
    [
        ("sales", ["/leads", "/customers", "/stock", "/invoices"], []),
        ("marketing", ["/leads", "/stock"], ["/customers", "/invoices"]),
        ("finance", ["/customers", "/stock", "/invoices"], ["/leads"]),
        ("warehouse", ["/stock"], ["/leads", "/customers", "/invoices"]),
        ("designer", ["/stock"], ["/leads", "/customers", "/invoices"]),
        ("admin", ["/leads", "/customers", "/stock", "/invoices"], []),
    ],
)
def test_who_may_read_which_records(
    seeded: Seeded, login: Login, user: str, allowed: list[str], refused: list[str]
) -> None:
    client = login(user)
    records = {
        "/leads": [f"/leads/{seeded.hot_lead_id}"],
        "/customers": [f"/customers/{seeded.customer_id}"],
        "/invoices": [f"/invoices/{seeded.invoice_id}", f"/invoices/{seeded.invoice_id}/document"],
        "/stock": [],
    }
    menu = client.get("/stock").text.split("</nav>")[0]
    for path in allowed:
        for url in [path, *records[path]]:
            assert client.get(url).status_code == 200, url
        assert f'href="{path}"' in menu, path
    for path in refused:
        for url in [path, *records[path]]:
            response = client.get(url)
            assert response.status_code == 403, url
            assert "it needs one of the groups" in response.text
        assert f'href="{path}"' not in menu, path


def test_unknown_records_are_404_and_a_draft_has_no_document(
    seeded: Seeded, engine: Engine, login: Login
) -> None:
    client = login("admin")
    assert client.get("/leads/nope").status_code == 404
    assert client.get("/customers/nope").status_code == 404
    assert client.get("/invoices/nope").status_code == 404
    with engine.database.write() as session:
        session.execute(
            update(Invoice)
            .where(Invoice.id == seeded.invoice_id)
            .values(status="draft", html=None, number=None)
        )
    page = client.get(f"/invoices/{seeded.invoice_id}")
    assert "has no document yet" in page.text and "<iframe" not in page.text
    assert client.get(f"/invoices/{seeded.invoice_id}/document").status_code == 400
