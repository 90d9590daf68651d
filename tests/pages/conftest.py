"""Pages over a real engine through Flask's test client: one logged-in browser-like client per user."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Engine
from tests.rest.conftest import USERS
from webui import create_app

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def app(engine: Engine) -> Flask:
    for name, groups in USERS.items():
        engine.identity.add_user(name, f"{name}-pw", groups)
    return create_app(engine, {"TESTING": True, "FLOWDESK_PAGE_SIZE": 3})


@pytest.fixture
def login(app: Flask) -> Callable[[str], FlaskClient]:
    def logged_in(user: str) -> FlaskClient:
        client = app.test_client()
        token = csrf(client.get("/login").text)
        response = client.post(
            "/login", data={"username": user, "password": f"{user}-pw", "csrf_token": token}
        )
        assert response.status_code == 302, response.text
        return client

    return logged_in
