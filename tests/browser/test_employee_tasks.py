"""An employee claims a group task, sends an invalid value, sees the error, fixes it and completes;
the task list refreshes itself; another group's task is 403; the instance diagram highlights."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine import TaskQuery
from tests.browser.conftest import (
    PHONE,
    Server,
    login,
    no_sideways_scrolling,
    screenshot,
    unlabelled_controls,
)
from tests.helpers import bpmn


def _deploy(server: Server) -> None:
    server.engine.deployments.deploy([bpmn("supplier_order.bpmn"), bpmn("order_approval.bpmn")])


def test_claim_invalid_value_fix_complete_and_next_task(page: Page, server: Server) -> None:
    _deploy(server)
    instance = server.engine.runtime.start(key="supplier_order", business_key="PO-1")
    login(page, server, "sales")
    expect(page.locator("[data-count='group']")).to_have_text("1")
    page.locator("a[data-view='group']").click()
    row = page.locator("tr", has_text="Enter order details")
    expect(row).to_contain_text("PO-1")
    screenshot(page, "group-tasks-desktop")
    row.get_by_role("button", name="Claim").click()
    expect(page.locator(".flash")).to_contain_text("Task claimed")
    expect(page.locator("[data-count='mine']")).to_have_text("1")
    expect(page.locator("[data-count='group']")).to_have_text("0")
    page.locator("a[data-view='mine']").click()
    page.get_by_role("link", name="Enter order details").click()
    expect(page.locator(".assignee")).to_have_text("sales")

    # The diagram marks where this task is.
    expect(page.locator("g.djs-element.fd-active[data-element-id='Task_details']")).to_have_count(1)
    assert unlabelled_controls(page) == []
    expect(page.get_by_label("Quantity")).to_have_value("10")
    expect(page.get_by_label("Reference")).to_have_value("REF-7")

    page.get_by_role("textbox", name="Supplier").fill("Acme Parts")
    page.get_by_label("Quantity").fill("500")
    page.get_by_label("Urgent delivery").check()
    page.get_by_label("Delivery date").fill("2026-03-01")
    page.get_by_label("Order by").select_option("phone")
    page.get_by_role("button", name="Complete").click()

    error = page.locator("#quantity-error")
    expect(error).to_have_text("Quantity must be at most 100")
    expect(page.get_by_label("Quantity")).to_have_attribute("aria-invalid", "true")
    # Nothing the person typed is lost.
    expect(page.get_by_role("textbox", name="Supplier")).to_have_value("Acme Parts")
    expect(page.get_by_label("Quantity")).to_have_value("500")
    expect(page.get_by_label("Urgent delivery")).to_be_checked()
    expect(page.get_by_label("Delivery date")).to_have_value("2026-03-01")
    expect(page.get_by_label("Order by")).to_have_value("phone")
    screenshot(page, "task-form-error-desktop")
    page.set_viewport_size(PHONE)
    assert no_sideways_scrolling(page)
    screenshot(page, "task-form-error-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Quantity").fill("5")
    page.get_by_role("button", name="Complete").click()
    # The next task of the same instance, for this user, opens.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm order")
    expect(page.locator(".flash")).to_contain_text("completed")
    expect(page.locator("g.djs-element.fd-active[data-element-id='Task_confirm']")).to_have_count(1)
    variables = server.engine.runtime.variables(instance.id)
    assert (variables["supplier"], variables["quantity"], variables["urgent"]) == ("Acme Parts", 5, True)

    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Complete").click()
    page.wait_for_url(f"{server.url}/tasks")
    expect(page.locator(".flash")).to_contain_text("“Confirm order” completed.")
    assert server.engine.runtime.get(instance.id).state == "COMPLETED"


def test_task_list_shows_new_tasks_without_a_reload(page: Page, server: Server) -> None:
    _deploy(server)
    login(page, server, "sales")
    page.goto(f"{server.url}/tasks?view=group")
    expect(page.locator("[data-count='group']")).to_have_text("0")
    page.evaluate("window.notReloaded = true")
    server.engine.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    expect(page.locator("tr", has_text="Review order")).to_have_count(1)
    expect(page.locator("[data-count='group']")).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
    page.set_viewport_size(PHONE)
    assert no_sideways_scrolling(page)
    screenshot(page, "group-tasks-phone")


def test_another_groups_task_is_403(page: Page, server: Server) -> None:
    _deploy(server)
    server.engine.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    [task] = server.engine.tasks.list(TaskQuery())
    login(page, server, "finance")
    expect(page.locator("tr[data-task-id]")).to_have_count(0)
    response = page.goto(f"{server.url}/tasks/{task.id}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("Not allowed")
    expect(page.locator("body")).not_to_contain_text("Approve the order?")
    screenshot(page, "other-group-403")


def test_instance_page_highlights_the_current_activity_and_marks_completed_ones(
    page: Page, server: Server
) -> None:
    _deploy(server)
    instance = server.engine.runtime.start(key="supplier_order", business_key="PO-2")
    [task] = server.engine.tasks.list(TaskQuery(instance_id=instance.id))
    server.engine.tasks.complete(task.id, {"supplier": "Acme", "quantity": 3})
    login(page, server, "admin")
    page.get_by_role("link", name="Instances").click()
    page.get_by_role("link", name=instance.id[:8]).click()
    expect(page.locator(".diagram[data-rendered='true']")).to_have_count(1)
    expect(page.locator("g.djs-element.fd-active[data-element-id='Task_confirm']")).to_have_count(1)
    expect(page.locator("g.djs-element.fd-completed[data-element-id='Task_details']")).to_have_count(1)
    expect(page.locator("g.djs-element.fd-active")).to_have_count(1)
    expect(page.locator(".timeline")).to_contain_text("Enter order details")
    screenshot(page, "instance-desktop")
    page.set_viewport_size(PHONE)
    assert no_sideways_scrolling(page)
    screenshot(page, "instance-phone")


def test_keyboard_alone_logs_in_claims_and_opens_a_task(page: Page, server: Server) -> None:
    _deploy(server)
    server.engine.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    page.goto(f"{server.url}/tasks?view=group")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("sales")
    page.keyboard.press("Tab")
    page.keyboard.type("sales-pw")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/tasks?view=group")
    expect(page.locator("tr", has_text="Review order")).to_have_count(1)

    def tab_to(name: str) -> None:
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim()").startswith(name):
                return
        raise AssertionError(f"Tab never reaches {name!r}")

    tab_to("Claim")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_contain_text("Task claimed")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    tab_to("My tasks")
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks?view=mine*")
    expect(page.locator("tr", has_text="Review order")).to_have_count(1)
    tab_to("Review order")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Review order")
    expect(page.locator(".assignee")).to_have_text("sales")


def test_start_form_error_then_start_opens_my_first_task(page: Page, server: Server) -> None:
    _deploy(server)
    login(page, server, "sales")
    page.get_by_role("link", name="Start", exact=True).click()
    page.get_by_role("link", name="Order approval").click()
    assert unlabelled_controls(page) == []
    page.get_by_label("Business key (optional)").fill("ORD-42")
    page.get_by_role("textbox", name="Customer").fill("ACME")
    page.get_by_role("textbox", name="Amount").fill("zero")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#amount-error")).to_have_text("Amount must be a whole number")
    expect(page.get_by_role("textbox", name="Customer")).to_have_value("ACME")
    expect(page.get_by_label("Business key (optional)")).to_have_value("ORD-42")
    page.set_viewport_size(PHONE)
    assert no_sideways_scrolling(page)
    screenshot(page, "start-form-error-phone")
    assert server.engine.runtime.count() == 0

    page.get_by_role("textbox", name="Amount").fill("250")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Review order")
    expect(page.locator(".business-key")).to_have_text("ORD-42")
    expect(page.locator(".variables")).to_contain_text("approvalLevel")
    screenshot(page, "review-task-phone")
