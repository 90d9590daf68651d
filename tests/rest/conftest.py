"""A Flask test client over a real engine, with one user per demo group."""

from __future__ import annotations

import base64

import pytest
from flask.testing import FlaskClient

from engine import Engine
from webui import create_app

USERS = {
    "admin": ["admins", "designers"],
    "designer": ["designers"],
    "sales": ["sales"],
    "finance": ["finance"],
    "warehouse": ["warehouse"],
}


def auth(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{user}-pw".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(engine: Engine) -> FlaskClient:
    for name, groups in USERS.items():
        engine.identity.add_user(name, f"{name}-pw", groups)
    app = create_app(engine, {"TESTING": True})
    return app.test_client()
