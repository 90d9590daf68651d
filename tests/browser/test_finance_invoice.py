"""A finance user goes from the menu to the invoice that lead_to_cash posted and sees its number,
its total and the frozen document; the same at phone width, by keyboard, without sideways scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from engine.handlers import HandlerRegistry
from handlers.registry import builtin_registry
from tests.browser.conftest import (
    PHONE,
    Server,
    login,
    no_sideways_scrolling,
    screenshot,
    unlabelled_controls,
)
from tests.handlers.crm_erp_seed import run_lead_to_cash


@pytest.fixture
def server_handlers() -> HandlerRegistry:
    return builtin_registry()


def test_finance_opens_the_posted_invoice_and_its_document(page: Page, server: Server) -> None:
    seeded = run_lead_to_cash(server.engine)
    login(page, server, "finance")
    menu = page.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Leads")).to_have_count(0)  # not for finance
    menu.get_by_role("link", name="Invoices").click()

    row = page.locator("tr", has_text=seeded.invoice_number)
    expect(row).to_contain_text("241.27 EUR")
    expect(row).to_contain_text("ACME Manufacturing GmbH")
    assert unlabelled_controls(page) == []
    page.get_by_label("State").select_option("draft")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".empty")).to_have_text("No invoice matches.")
    page.get_by_label("State").select_option("posted")
    page.get_by_label("Order id").fill("ORD-1")
    page.get_by_label("Order id").press("Enter")
    page.get_by_role("link", name=seeded.invoice_number).click()

    expect(page.locator("#invoice-number")).to_have_text(f"Invoice {seeded.invoice_number}")
    expect(page.locator("#invoice-total")).to_have_text("241.27 EUR")
    document = page.frame_locator("iframe.invoice-document")
    expect(document.locator("h1")).to_have_text(f"Invoice {seeded.invoice_number}")
    expect(document.locator("body")).to_contain_text("ACME Manufacturing GmbH")
    screenshot(page, "invoice-desktop")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("#invoice-total")).to_have_text("241.27 EUR")
    expect(document.locator("h1")).to_have_text(f"Invoice {seeded.invoice_number}")
    assert no_sideways_scrolling(page)
    screenshot(page, "invoice-phone")

    # The customer, then back to the invoice, by keyboard alone.
    page.get_by_role("link", name="ACME Manufacturing GmbH").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#customer-vat")).to_have_text("DE123456789")
    assert no_sideways_scrolling(page)
    page.get_by_role("link", name=seeded.invoice_number).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#invoice-number")).to_have_text(f"Invoice {seeded.invoice_number}")


def test_stock_and_leads_read_at_phone_width(page: Page, server: Server) -> None:
    run_lead_to_cash(server.engine)
    page.set_viewport_size(PHONE)
    login(page, server, "sales")
    page.goto(f"{server.url}/stock?sku=WIDGET")
    expect(page.locator("tr[data-sku='WIDGET']")).to_contain_text("98")
    assert no_sideways_scrolling(page) and unlabelled_controls(page) == []
    screenshot(page, "stock-phone")
    page.goto(f"{server.url}/leads")
    page.get_by_role("link", name="Ann Buyer").click()
    expect(page.locator("#lead-grade")).to_have_text("A")
    assert no_sideways_scrolling(page)
    screenshot(page, "lead-phone")
