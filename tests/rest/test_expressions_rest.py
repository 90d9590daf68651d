"""Camunda EL and Camunda 8 files over REST: they deploy and run; a bad expression is a located 400."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from tests.helpers import camunda_process
from tests.rest.conftest import auth
from tests.rest.test_rest_lifecycle import deploy

BAD = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Ask" camunda:assignee="${owner.getClass()}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="Ask" targetRef="end" />""")


def test_a_bad_expression_is_a_400_naming_file_line_element_and_expression(client: FlaskClient) -> None:
    response = client.post(
        "/engine-rest/deployment/create",
        data={"file": (io.BytesIO(BAD), "bad.bpmn")},
        headers=auth("admin"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem["file"] == "bad.bpmn" and problem["element_id"] == "Ask" and problem["line"] == 9
    assert "camunda:assignee: expression `${owner.getClass()}`" in problem["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_zeebe_file_starts_over_rest_and_its_job_type_is_an_external_topic(client: FlaskClient) -> None:
    assert deploy(client, "upload_zeebe.bpmn").status_code == 200
    started = client.post(
        "/engine-rest/process-definition/key/ship_order/start", json={}, headers=auth("sales")
    )
    assert started.status_code == 200
    locked = client.post(
        "/engine-rest/external-task/fetchAndLock",
        json={"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "ship-order", "lockDuration": 1000}]},
        headers=auth("admin"),
    )
    [task] = locked.get_json()
    assert task["activityId"] == "Task_ship" and task["processInstanceId"] == started.get_json()["id"]
