"""The shipped lead-to-cash process draws completely in bpmn-js, its event subprocess included."""

from __future__ import annotations

from lxml import etree
from playwright.sync_api import Page, expect

from handlers.registry import builtin_registry
from tests.browser.conftest import Server, login, screenshot
from tests.helpers import PROCESSES, bpmn

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def test_lead_to_cash_draws_every_element_it_has(page: Page, server: Server) -> None:
    builtin_registry(server.engine.handlers)  # deploying checks that each handler is known
    server.engine.deployments.deploy([bpmn("lead_to_cash.bpmn")])
    tree = etree.parse(str(PROCESSES / "lead_to_cash.bpmn"))
    [process] = tree.iterfind(f"{{{BPMN}}}process")
    # Every BPMN element of the process (not event definitions, not Camunda's form fields).
    expected = {
        el.get("id")
        for el in process.iterdescendants(f"{{{BPMN}}}*")
        if el.get("id") and not el.tag.endswith("EventDefinition")
    }

    login(page, server, "designer")
    page.goto(f"{server.url}/definitions/lead_to_cash")
    expect(page.locator(".diagram[data-rendered='true']")).to_have_count(1)

    drawn = set(
        page.eval_on_selector_all(
            "g.djs-element[data-element-id]", "els => els.map(e => e.dataset.elementId)"
        )
    )
    assert expected - drawn == set()
    screenshot(page, "lead-to-cash-desktop")
