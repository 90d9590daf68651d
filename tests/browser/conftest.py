"""A real Flowdesk server (werkzeug, in a thread, on a free port) over a fresh SQLite engine, and
Debian's Chromium driven by Playwright. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from werkzeug.serving import make_server

from engine import Database, Engine
from engine.handlers import HandlerRegistry
from tests.helpers import ROOT
from tests.rest.conftest import USERS
from webui import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            raise pytest.UsageError(f"CI=true but {CHROMIUM} is missing: `make test` installs it")
        pytest.skip(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Playwright's own browser download cannot work here: Debian's Chromium is used instead.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@dataclass
class Server:
    url: str
    engine: Engine


@pytest.fixture
def server_handlers() -> HandlerRegistry:
    """The server's handlers: none; a test module overrides this to run real service tasks."""
    return HandlerRegistry()


@pytest.fixture
def server(tmp_path: Path, server_handlers: HandlerRegistry) -> Iterator[Server]:
    engine = Engine(Database(f"sqlite:///{tmp_path / 'flowdesk.sqlite'}"), handlers=server_handlers)
    for name, groups in USERS.items():
        engine.identity.add_user(name, f"{name}-pw", groups)
    app = create_app(engine, {"FLOWDESK_TASKLIST_REFRESH_SECONDS": 1})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="flowdesk-test-server", daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.server_port}", engine)
    http.shutdown()
    thread.join()
    engine.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def login(page: Page, server: Server, user: str) -> None:
    page.goto(f"{server.url}/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(f"{user}-pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/tasks*")


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_sideways_scrolling(page: Page) -> bool:
    """Readable on a phone: nothing wider than the screen."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def unlabelled_controls(page: Page) -> list[str]:
    """Names of visible inputs, selects and textareas that no label (or labelled fieldset) names."""
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('input, select, textarea'))
                .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length)
                              && !el.getAttribute('aria-label'))
                .map(el => el.name || el.id)"""
        )
    )
