"""Login with the REST API's users, the session cookie, CSRF on every form, and who may open what."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from engine import Engine, TaskQuery
from tests.helpers import bpmn
from tests.pages.conftest import csrf


def test_root_sends_visitors_to_login_and_back_to_the_page_they_wanted(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/").location == "/login"
    assert client.get("/tasks?view=group").location == "/login?next=/tasks?view%3Dgroup"
    page = client.get("/login?next=/tasks?view%3Dgroup").text
    response = client.post(
        "/login",
        data={
            "username": "sales",
            "password": "sales-pw",
            "csrf_token": csrf(page),
            "next": "/tasks?view=group",
        },
    )
    assert response.location == "/tasks?view=group"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").location == "/tasks"


def test_wrong_password_keeps_the_name_and_says_why(app: Flask) -> None:
    client = app.test_client()
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"username": "sales", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "User name or password is wrong." in response.text
    assert 'value="sales"' in response.text and "nope" not in response.text
    assert client.get("/tasks").status_code == 302


def test_login_never_redirects_to_another_site(app: Flask) -> None:
    client = app.test_client()
    token = csrf(client.get("/login").text)
    data = {"username": "sales", "password": "sales-pw", "csrf_token": token, "next": "//evil.example/x"}
    assert client.post("/login", data=data).location == "/tasks"


def test_forms_without_the_csrf_token_are_refused(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn")])
    engine.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    [task] = engine.tasks.list()
    client = login("sales")
    response = client.post(f"/tasks/{task.id}/claim")
    assert response.status_code == 400 and "The form has expired" in response.text
    assert engine.tasks.get(task.id).assignee is None
    # The REST API over the page session needs the token too; with Basic credentials it does not.
    assert client.post(f"/engine-rest/task/{task.id}/claim", json={"userId": "sales"}).status_code == 400
    assert engine.tasks.get(task.id).assignee is None
    token = csrf(client.get("/tasks").text)
    claimed = client.post(
        f"/engine-rest/task/{task.id}/claim", json={"userId": "sales"}, headers={"X-CSRFToken": token}
    )
    assert claimed.status_code == 204 and engine.tasks.get(task.id).assignee == "sales"


def test_logout_ends_the_session(login: Callable[[str], FlaskClient]) -> None:
    client = login("sales")
    token = csrf(client.get("/tasks").text)
    assert client.post("/logout", data={"csrf_token": token}).location == "/login"
    assert client.get("/tasks").status_code == 302


def test_another_groups_task_is_403_in_pages_as_in_the_api(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn")])
    engine.runtime.start(key="order_approval", variables={"customer": "ACME", "amount": 5})
    [task] = engine.tasks.list(TaskQuery())
    finance = login("finance")
    page = finance.get(f"/tasks/{task.id}")
    assert page.status_code == 403
    assert "may not work on task" in page.text
    token = csrf(finance.get("/tasks").text)
    assert finance.post(f"/tasks/{task.id}/claim", data={"csrf_token": token}).status_code == 403
    done = finance.post(f"/tasks/{task.id}", data={"csrf_token": token, "approved": "true"})
    assert done.status_code == 403
    assert engine.tasks.get(task.id).assignee is None
    assert task.id not in finance.get("/tasks?view=group").text


def test_designer_pages_are_for_designers_and_admins(login: Callable[[str], FlaskClient]) -> None:
    sales = login("sales")
    for path in ("/definitions", "/definitions/upload", "/instances", "/incidents"):
        assert sales.get(path).status_code == 403, path
    designer = login("designer")
    for path in ("/definitions", "/definitions/upload", "/instances", "/incidents"):
        assert designer.get(path).status_code == 200, path
