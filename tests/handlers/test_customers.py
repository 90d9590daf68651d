"""Get-or-create the customer: back-link, e-mail, VAT with or without prefix, archived, races."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import Engine
from handlers.crm.customers import ensure
from handlers.erp.models import Customer
from tests.handlers.factories import NOW


def ensure_in(engine: Engine, **keys: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "lead_id": None,
        "name": "ACME",
        "email_raw": None,
        "vat_raw": None,
        "country": None,
        "currency": "EUR",
        "credit_limit": D("1000"),
        "now": NOW,
    }
    args.update(keys)
    with engine.database.write() as session:
        return ensure(session, **args)


def count(engine: Engine) -> int:
    with engine.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Customer)) or 0)


def test_matching_order_is_back_link_then_email_then_vat(engine: Engine) -> None:
    first = ensure_in(engine, lead_id="L-1", email_raw="Ann@ACME.example", vat_raw="DE123456789")
    assert first["customerCreated"] is True

    assert ensure_in(engine, lead_id="L-1")["customerMatchedBy"] == "lead"
    assert ensure_in(engine, email_raw=" ann@acme.EXAMPLE")["customerMatchedBy"] == "email"
    by_vat = ensure_in(engine, email_raw="billing@acme.example", vat_raw="de 123 456 789")
    assert (by_vat["customerId"], by_vat["customerMatchedBy"]) == (first["customerId"], "vat")
    assert count(engine) == 1


def test_vat_matches_with_and_without_the_country_prefix(engine: Engine) -> None:
    stored_with_prefix = ensure_in(engine, vat_raw="ATU12345678")
    stored_without = ensure_in(engine, vat_raw="987654321", name="No country known")

    assert (
        ensure_in(engine, vat_raw="U12345678", country="AT")["customerId"] == stored_with_prefix["customerId"]
    )
    assert ensure_in(engine, vat_raw="U12345678")["customerId"] == stored_with_prefix["customerId"]
    assert ensure_in(engine, vat_raw="FR987654321")["customerId"] == stored_without["customerId"]
    assert count(engine) == 2


def test_archived_customers_are_found_and_reactivated(engine: Engine) -> None:
    created = ensure_in(engine, email_raw="old@acme.example")
    with engine.database.write() as session:
        customer = session.get(Customer, created["customerId"])
        assert customer is not None
        customer.archived = True

    again = ensure_in(engine, email_raw="OLD@acme.example")

    assert again["customerId"] == created["customerId"] and again["customerReactivated"] is True
    with engine.database.read() as session:
        assert session.get(Customer, created["customerId"]).archived is False  # type: ignore[union-attr]


def test_nothing_to_match_on_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(Exception, match="needs a lead id, an e-mail or a VAT id"):
        ensure_in(engine)


@pytest.mark.postgres
def test_a_creation_race_re_reads_the_winner(engine: Engine, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: there is no race to lose")
    barrier = threading.Barrier(8)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with engine.database.write() as session:
                barrier.wait()
                results.append(
                    ensure(
                        session,
                        lead_id=None,
                        name="Race Inc",
                        email_raw="race@race.example",
                        vat_raw=None,
                        country=None,
                        currency="EUR",
                        credit_limit=D("1"),
                        now=NOW,
                    )
                )
        except BaseException as err:  # a failure must fail the test, not vanish in a thread
            errors.append(err)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({r["customerId"] for r in results}) == 1
    assert sum(r["customerCreated"] for r in results) == 1
    assert count(engine) == 1
