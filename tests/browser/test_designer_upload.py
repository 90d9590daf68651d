"""A designer uploads a broken BPMN file and sees the line of the problem, then good ones."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PHONE,
    Server,
    login,
    no_sideways_scrolling,
    screenshot,
    unlabelled_controls,
)
from tests.helpers import FIXTURES, PROCESSES


def test_broken_file_shows_file_line_element_then_good_files_deploy(page: Page, server: Server) -> None:
    login(page, server, "designer")
    page.get_by_role("link", name="Processes").click()
    page.get_by_role("button", name="Upload BPMN files").click()
    assert unlabelled_controls(page) == []

    page.get_by_label("BPMN files").set_input_files(str(FIXTURES / "gateway_without_condition.bpmn"))
    page.get_by_role("button", name="Deploy").click()
    problem = page.locator("tr.problem-row")
    expect(problem).to_have_count(1)
    expect(problem.locator(".problem-file")).to_have_text("gateway_without_condition.bpmn")
    expect(problem.locator(".problem-line")).to_have_text("8")
    expect(problem.locator(".problem-element")).to_have_text("Gateway_1")
    expect(problem.locator(".problem-message")).to_contain_text("without a condition")
    screenshot(page, "upload-problems-desktop")
    assert server.engine.definitions.list() == []

    page.get_by_label("BPMN files").set_input_files(
        [str(PROCESSES / "order_approval.bpmn"), str(FIXTURES / "supplier_order.bpmn")]
    )
    page.get_by_role("button", name="Deploy").click()
    deployed = page.locator("li.deployed")
    expect(deployed).to_have_count(2)
    expect(deployed.first).to_contain_text("version 1")
    screenshot(page, "upload-deployed-desktop")

    page.get_by_role("link", name="Supplier order").click()
    expect(page.locator(".diagram[data-rendered='true']")).to_have_count(1)
    expect(page.locator("g.djs-element[data-element-id='Task_confirm']")).to_have_count(1)
    screenshot(page, "process-page-desktop")


def test_files_dropped_on_the_upload_area_are_deployed(page: Page, server: Server) -> None:
    login(page, server, "designer")
    page.goto(f"{server.url}/definitions/upload")
    content = (FIXTURES / "supplier_order.bpmn").read_text()
    # What a drag from the file manager delivers: a drop event whose DataTransfer holds the file.
    transfer = page.evaluate_handle(
        """(content) => {
            const data = new DataTransfer();
            data.items.add(new File([content], 'supplier_order.bpmn', { type: 'application/xml' }));
            return data;
        }""",
        content,
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#chosen")).to_have_text("Chosen: supplier_order.bpmn")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("li.deployed")).to_contain_text("Supplier order")
    assert [d.key for d in server.engine.definitions.list()] == ["supplier_order"]

    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/definitions")
    assert no_sideways_scrolling(page)
    screenshot(page, "processes-phone")
