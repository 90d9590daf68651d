"""Upload, processes, instances and incidents pages through the test client."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from flask.testing import FlaskClient

from engine import Engine, FakeClock, TaskQuery
from engine.db.models import JobKind
from tests.helpers import bpmn
from tests.pages.conftest import csrf
from tests.rest.test_external_tasks_rest import external_process


def _upload(client: FlaskClient, *files: tuple[str, bytes]) -> tuple[int, str]:
    token = csrf(client.get("/definitions/upload").text)
    data = {"csrf_token": token, "files": [(io.BytesIO(content), name) for name, content in files]}
    response = client.post("/definitions/upload", data=data, content_type="multipart/form-data")
    return response.status_code, response.text


def test_upload_lists_every_problem_with_file_line_and_element_then_deploys(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    designer = login("designer")
    status, page = _upload(designer, bpmn("gateway_without_condition.bpmn"), bpmn("order_approval.bpmn"))
    assert status == 400
    rows = re.findall(
        r'class="problem-file">([^<]+)</td>\s*<td[^>]*class="problem-line">([^<]+)</td>\s*'
        r'<td[^>]*class="problem-element"><code>([^<]+)</code>',
        page,
    )
    assert rows == [("gateway_without_condition.bpmn", "8", "Gateway_1")]
    assert "without a condition" in page
    assert engine.definitions.list() == []  # all or nothing

    status, page = _upload(designer, bpmn("order_approval.bpmn"), bpmn("supplier_order.bpmn"))
    assert status == 200
    assert re.findall(r'class="deployed">.*?version (\d+)', page) == ["1", "1"]
    status, page = _upload(designer, bpmn("order_approval.bpmn"))
    assert "version 2" in page
    assert [d.version for d in engine.definitions.list(key="order_approval")] == [1, 2]


def test_sales_cannot_upload(login: Callable[[str], FlaskClient], engine: Engine) -> None:
    sales = login("sales")
    assert sales.get("/definitions/upload").status_code == 403
    assert engine.definitions.list() == []


def test_processes_list_and_page_show_versions_and_running_counts(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    first = engine.deployments.deploy([bpmn("order_approval.bpmn")]).definitions[0]
    engine.runtime.start(key="order_approval", variables={"customer": "A", "amount": 5})
    second = engine.deployments.deploy([bpmn("order_approval.bpmn")]).definitions[0]
    engine.runtime.start(key="order_approval", variables={"customer": "B", "amount": 5})
    engine.runtime.start(key="order_approval", variables={"customer": "C", "amount": 5})
    admin = login("admin")
    listing = admin.get("/definitions").text
    cells = re.findall(r'data-label="(Versions|Running)">(?:<a[^>]*>)?(\d+)', listing)
    assert cells == [("Versions", "2"), ("Running", "3")]
    page = admin.get("/definitions/order_approval").text
    assert f"/definitions/xml/{second.id}" in page  # the latest version's diagram
    running = re.findall(r'data-version="(\d+)">.*?data-label="Running">(\d+)<', page, re.S)
    assert running == [("2", "2"), ("1", "1")]
    assert f"/definitions/xml/{first.id}" in admin.get("/definitions/order_approval?version=1").text
    xml = admin.get(f"/definitions/xml/{first.id}")
    assert xml.mimetype == "application/xml" and b'id="Task_review"' in xml.data
    assert admin.get("/definitions/nope").status_code == 404


def test_instance_page_marks_activities_shows_history_and_admin_terminates(
    login: Callable[[str], FlaskClient], engine: Engine
) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn")])
    sales = login("sales")
    token = csrf(sales.get("/start/order_approval").text)
    sales.post("/start/order_approval", data={"csrf_token": token, "customer": "ACME", "amount": "1500"})
    [task] = engine.tasks.list()
    sales.post(f"/tasks/{task.id}/claim", data={"csrf_token": token})
    sales.post(f"/tasks/{task.id}", data={"csrf_token": token, "approved": "true"})
    [instance] = engine.runtime.list()

    admin = login("admin")
    listing = admin.get("/instances?key=order_approval&state=active").text
    assert instance.id in listing
    assert instance.id not in admin.get("/instances?state=completed").text
    page = admin.get(f"/instances/{instance.id}").text
    assert 'data-active="Task_invoice"' in page
    completed = re.search(r'data-completed="([^"]*)"', page)
    assert completed and set(completed.group(1).split()) >= {
        "StartEvent_order",
        "Task_classify",
        "Task_review",
    }
    assert "<strong>sales</strong> started the instance" in page
    assert "<strong>sales</strong> claimed “Review order”" in page
    assert "<strong>sales</strong> completed “Review order”" in page
    assert "approvalLevel" in page and "finance" in page
    [invoice] = engine.tasks.list()
    assert f'href="/tasks/{invoice.id}"' in page  # admins may open every task

    designer = login("designer")
    designer_page = designer.get(f"/instances/{instance.id}").text
    assert "Prepare invoice" in designer_page and f'href="/tasks/{invoice.id}"' not in designer_page
    token = csrf(designer_page)
    refused = designer.post(f"/instances/{instance.id}/terminate", data={"csrf_token": token})
    assert refused.status_code == 403 and engine.runtime.get(instance.id).state == "ACTIVE"
    admin_token = csrf(page)
    admin.post(f"/instances/{instance.id}/terminate", data={"csrf_token": admin_token, "reason": "duplicate"})
    assert engine.runtime.get(instance.id).state == "EXTERNALLY_TERMINATED"
    ended = admin.get(f"/instances/{instance.id}").text
    assert "terminated the instance" in ended and ">Terminate</button>" not in ended
    assert instance.id in admin.get("/instances?state=terminated").text


def test_incidents_page_and_retry_by_an_admin(login: Callable[[str], FlaskClient], engine: Engine) -> None:
    engine.deployments.deploy([("print.bpmn", external_process())])
    instance = engine.runtime.start(key="p", business_key="PRINT-1")
    [job] = engine.jobs.acquire("w1", kind=JobKind.EXTERNAL, topics=["print"])
    engine.jobs.fail(job.id, "w1", "printer on fire", retries=0)

    admin = login("admin")
    incidents = admin.get("/incidents").text
    assert (
        f'data-job-id="{job.id}"' in incidents and "printer on fire" in incidents and "PRINT-1" in incidents
    )
    page = admin.get(f"/instances/{instance.id}").text
    assert "printer on fire" in page and f"/incidents/{job.id}/retry" in page

    designer = login("designer")
    token = csrf(designer.get("/incidents").text)
    assert f"/incidents/{job.id}/retry" not in designer.get("/incidents").text
    assert designer.post(f"/incidents/{job.id}/retry", data={"csrf_token": token}).status_code == 403
    assert engine.jobs.get(job.id).retries == 0
    done = admin.post(f"/incidents/{job.id}/retry", data={"csrf_token": csrf(incidents)})
    assert done.location == "/incidents"
    assert engine.jobs.get(job.id).retries == 1
    assert "No incidents" in admin.get("/incidents").text
    assert engine.tasks.list(TaskQuery(instance_id=instance.id)) == []


def test_instances_list_filters_by_process_state_and_business_key_newest_first(
    login: Callable[[str], FlaskClient], engine: Engine, clock: FakeClock
) -> None:
    engine.deployments.deploy([bpmn("order_approval.bpmn"), bpmn("supplier_order.bpmn")])
    started = []
    for n in range(4):
        clock.advance(minutes=1)
        variables = {"customer": "A", "amount": 5}
        started.append(
            engine.runtime.start(key="order_approval", variables=variables, business_key=f"ORD-{n}").id
        )
    clock.advance(minutes=1)
    supplier = engine.runtime.start(key="supplier_order", business_key="PO-1").id
    engine.runtime.delete(started[0])

    admin = login("admin")

    def listed(query: str) -> list[str]:
        return re.findall(r'data-instance-id="([^"]+)"', admin.get(f"/instances?{query}").text)

    assert listed("") == [supplier, started[3], started[2]]  # active, newest first, 3 per page
    assert listed("page=2") == [started[1]]
    assert listed("key=order_approval") == started[3:0:-1]
    assert listed("state=terminated") == [started[0]]
    assert listed("state=all&business_key=ORD-0") == [started[0]]
    assert listed("business_key=PO-1") == [supplier]
