"""Under concurrency on PostgreSQL: no overselling, and gapless invoice numbers.

Each thread completes the sales review of its own instance through the engine, at the same moment:
the whole step (customer, credit check, reservation, invoice, posting) runs in that call's
transaction, as it does for concurrent users of the REST API.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from engine import Engine
from handlers.erp.catalogue import set_stock, stock_levels
from handlers.erp.models import Invoice, Reservation
from tests.handlers.factories import hot_lead, invoice_number
from tests.handlers.l2c import complete, open_tasks, start
from tests.helpers import SALES

pytestmark = pytest.mark.postgres

ONE_WIDGET = [{"sku": "WIDGET", "quantity": 1, "unitPrice": "100.00", "taxRate": "0.19"}]


@pytest.fixture
def pg(l2c: Engine, db_url: str) -> Engine:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises every writer: races need PostgreSQL")
    return l2c


def complete_all_at_once(engine: Engine, instances: list[str]) -> None:
    barrier = threading.Barrier(len(instances))
    errors: list[BaseException] = []

    def work(instance: str) -> None:
        try:
            barrier.wait()
            complete(engine, instance, "sales_review", {"accepted": True}, SALES)
        except BaseException as err:  # fail the test, not just the thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def started(engine: Engine, count: int, **variables: Any) -> list[str]:
    return [
        start(
            engine,
            f"ORD-{n}",
            lead=hot_lead(email=f"buyer{n}@acme{n}.example"),
            orderLines=ONE_WIDGET,
            **variables,
        )
        for n in range(count)
    ]


def test_fifty_orders_race_for_ten_units_and_exactly_ten_win(pg: Engine) -> None:
    with pg.database.write() as session:
        set_stock(session, "WIDGET", 10)
    instances = started(pg, 50)

    complete_all_at_once(pg, instances)

    with pg.database.read() as session:
        [level] = stock_levels(session, "WIDGET")
        assert (level.on_hand, level.reserved) == (D("10"), D("10"))
        assert len(session.scalars(select(Reservation)).all()) == 10
        numbers = sorted(session.scalars(select(Invoice.number)).all())
    outcomes = [pg.runtime.variables(i).get("reservationStatus") for i in instances]
    assert outcomes.count("reserved") == 10
    assert outcomes.count("out_of_stock") == 40
    assert sum(open_tasks(pg, i) == ["backorder_decision"] for i in instances) == 40
    assert numbers == [invoice_number(n) for n in range(1, 11)]


def test_twenty_invoices_posted_in_parallel_get_numbers_one_to_twenty(pg: Engine) -> None:
    instances = started(pg, 20)

    complete_all_at_once(pg, instances)

    numbers = sorted(pg.runtime.variables(i)["invoiceNumber"] for i in instances)
    assert numbers == [invoice_number(n) for n in range(1, 21)]  # no gap, no duplicate
