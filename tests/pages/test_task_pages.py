"""Task list and task page through the test client: views, counts, filters, paging, forms, next task."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from engine import Engine, FakeClock, TaskQuery
from tests.helpers import bpmn
from tests.pages.conftest import csrf


def _rows(html: str) -> list[str]:
    return re.findall(r'data-task-id="([^"]+)"', html)


def _count(html: str, view: str) -> int:
    found = re.search(rf'data-count="{view}">(\d+)<', html)
    assert found, f"no {view} count on the page"
    return int(found.group(1))


def _orders(engine: Engine, clock: FakeClock, amounts: list[int]) -> list[str]:
    engine.deployments.deploy([bpmn("order_approval.bpmn"), bpmn("supplier_order.bpmn")])
    ids = []
    for n, amount in enumerate(amounts):
        clock.advance(minutes=1)
        engine.runtime.start(
            key="order_approval", variables={"customer": f"C{n}", "amount": amount}, business_key=f"ORD-{n}"
        )
        ids.append(engine.tasks.list(TaskQuery(process_key="order_approval"))[-1].id)
    return ids


def test_group_and_my_tasks_with_counts_claim_unclaim_and_paging(
    login: Callable[[str], FlaskClient], engine: Engine, clock: FakeClock
) -> None:
    ids = _orders(engine, clock, [10, 20, 30, 40])
    sales = login("sales")
    group = sales.get("/tasks?view=group&sort=created&order=asc").text
    assert (_count(group, "mine"), _count(group, "group")) == (0, 4)
    assert _rows(group) == ids[:3]  # page size 3 in these tests
    assert "ORD-0" in group and "Page 1 of 2" in group
    assert _rows(sales.get("/tasks?view=group&sort=created&order=asc&page=2").text) == ids[3:]
    assert _rows(sales.get("/tasks?view=group&sort=created&order=desc").text) == ids[::-1][:3]

    token = csrf(group)
    claimed = sales.post(f"/tasks/{ids[1]}/claim", data={"csrf_token": token, "next": "/tasks?view=group"})
    assert claimed.location == "/tasks?view=group"
    assert engine.tasks.get(ids[1]).assignee == "sales"
    mine = sales.get("/tasks?view=mine").text
    assert (_count(mine, "mine"), _count(mine, "group")) == (1, 3)
    assert _rows(mine) == [ids[1]]
    sales.post(f"/tasks/{ids[1]}/unclaim", data={"csrf_token": token})
    assert engine.tasks.get(ids[1]).assignee is None
    # The polled fragment carries the same counts and rows, and links back to the full page.
    fragment = sales.get("/tasks/fragment?view=group&sort=created&order=asc").text
    assert _count(fragment, "group") == 4 and _rows(fragment) == ids[:3]
    assert 'href="/tasks?view=group' in fragment and "<html" not in fragment


def test_filter_by_process_and_name_and_sort_by_priority(
    login: Callable[[str], FlaskClient], engine: Engine, clock: FakeClock
) -> None:
    orders = _orders(engine, clock, [10])
    supplier = engine.runtime.start(key="supplier_order")
    [details] = engine.tasks.list(TaskQuery(instance_id=supplier.id))
    sales = login("sales")
    assert _rows(sales.get("/tasks?view=group&process=supplier_order").text) == [details.id]
    assert _rows(sales.get("/tasks?view=group&name=review").text) == orders
    assert _rows(sales.get("/tasks?view=group&name=nothing-like-this").text) == []
    # Priorities: supplier order 70, order review 60.
    assert _rows(sales.get("/tasks?view=group&sort=priority&order=desc").text) == [details.id, *orders]
    assert _rows(sales.get("/tasks?view=group&sort=priority&order=asc").text) == [*orders, details.id]


def test_invalid_values_come_back_next_to_their_fields_with_every_value_kept(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    engine.deployments.deploy([bpmn("supplier_order.bpmn")])
    instance = engine.runtime.start(key="supplier_order", business_key="PO-9")
    [task] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    sales = login("sales")
    page = sales.get(f"/tasks/{task.id}").text
    assert "PO-9" in page and 'data-active="Task_details"' in page
    assert 'value="10"' in page and 'value="REF-7"' in page and 'value="email" selected' in page
    for label in ("Supplier", "Quantity", "Urgent delivery", "Delivery date", "Order by", "Reference"):
        assert f"> {label}" in page or f">{label}" in page, label
    form = {
        "csrf_token": csrf(page),
        "supplier": "Acme Parts",
        "quantity": "500",
        "urgent": "true",
        "deliveryDate": "2025-06-01",
        "channel": "phone",
        "reference": "REF-7",
    }
    bad = sales.post(f"/tasks/{task.id}", data=form)
    assert bad.status_code == 400
    errors = re.findall(r'<p id="(\w+)-error" class="field-error" role="alert">([^<]+)</p>', bad.text)
    assert errors == [
        ("quantity", "Quantity must be at most 100"),
        ("deliveryDate", "Delivery date must be on or after 2026-01-01"),
    ]
    for kept in ('value="Acme Parts"', 'value="500"', 'value="2025-06-01"', 'value="phone" selected'):
        assert kept in bad.text, kept
    assert re.search(r'id="urgent" name="urgent" value="true" checked', bad.text)
    assert engine.tasks.get(task.id).id == task.id  # nothing completed

    tampered = sales.post(
        f"/tasks/{task.id}", data={**form, "quantity": "5", "deliveryDate": "", "reference": "X"}
    )
    assert tampered.status_code == 400 and "Reference is read-only" in tampered.text

    done = sales.post(f"/tasks/{task.id}", data={**form, "quantity": "5", "deliveryDate": "2026-03-01"})
    [following] = engine.tasks.list(TaskQuery(instance_id=instance.id))
    assert following.activity_id == "Task_confirm"
    assert done.location == f"/tasks/{following.id}"  # the next task of the instance opens
    variables = engine.runtime.variables(instance.id)
    assert (variables["quantity"], variables["urgent"], variables["channel"]) == (5, True, "phone")
    assert str(variables["deliveryDate"]) == "2026-03-01"

    # A required boolean is a Yes/No question: not answering is an error, not a silent "no".
    confirm = sales.get(f"/tasks/{following.id}").text
    unanswered = sales.post(f"/tasks/{following.id}", data={"csrf_token": csrf(confirm)})
    assert unanswered.status_code == 400 and "Supplier confirmed? is required" in unanswered.text
    last = sales.post(f"/tasks/{following.id}", data={"csrf_token": csrf(confirm), "confirmed": "false"})
    assert last.location == "/tasks"
    assert engine.runtime.get(instance.id).state == "COMPLETED"


def test_start_page_validates_the_start_form_and_opens_the_first_task_when_it_is_mine(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn")])
    sales = login("sales")
    page = sales.get("/start/order_approval").text
    assert 'for="customer"' in page and 'for="amount"' in page and 'for="business_key"' in page
    data = {"csrf_token": csrf(page), "customer": "ACME", "amount": "0", "business_key": "ORD-77"}
    bad = sales.post("/start/order_approval", data=data)
    assert bad.status_code == 400 and "Amount must be at least 1" in bad.text
    assert 'value="ACME"' in bad.text and 'value="ORD-77"' in bad.text
    assert engine.runtime.count() == 0
    started = sales.post("/start/order_approval", data={**data, "amount": "250"})
    [task] = engine.tasks.list()
    assert started.location == f"/tasks/{task.id}"
    [instance] = engine.runtime.list()
    assert (instance.business_key, instance.started_by) == ("ORD-77", "sales")
