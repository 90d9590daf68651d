"""Camunda 7 JSON shapes for the engine's objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.definitions import DefinitionInfo
from engine.history import ActivityRecord, TaskRecord
from engine.instances import InstanceInfo
from engine.tasks import TaskInfo


def camunda_time(value: datetime | None) -> str | None:
    """Camunda's date format: ``2026-11-22T10:15:00.000+0000``."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def duration_ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def definition(d: DefinitionInfo) -> dict[str, Any]:
    return {
        "id": d.id,
        "key": d.key,
        "category": "http://flowdesk.example/bpmn",
        "description": None,
        "name": d.name,
        "version": d.version,
        "resource": d.resource_name,
        "deploymentId": d.deployment_id,
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": d.version_tag,
        "historyTimeToLive": None,
        "startableInTasklist": True,
    }


def instance(i: InstanceInfo) -> dict[str, Any]:
    return {
        "links": [],
        "id": i.id,
        "definitionId": i.definition_id,
        "businessKey": i.business_key,
        "caseInstanceId": None,
        "ended": i.ended,
        "suspended": False,
        "tenantId": None,
    }


def task(t: TaskInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "assignee": t.assignee,
        "owner": None,
        "created": camunda_time(t.created_at),
        "lastUpdated": None,
        "due": camunda_time(t.due_at),
        "followUp": None,
        "delegationState": None,
        "description": t.description,
        "executionId": t.instance_id,
        "parentTaskId": None,
        "priority": t.priority,
        "processDefinitionId": t.definition_id,
        "processInstanceId": t.instance_id,
        "taskDefinitionKey": t.activity_id,
        "caseExecutionId": None,
        "caseInstanceId": None,
        "caseDefinitionId": None,
        "suspended": False,
        "formKey": None,
        "camundaFormRef": None,
        "tenantId": None,
    }


def history_instance(i: InstanceInfo, d: DefinitionInfo | None) -> dict[str, Any]:
    return {
        "id": i.id,
        "businessKey": i.business_key,
        "processDefinitionId": i.definition_id,
        "processDefinitionKey": i.process_key,
        "processDefinitionName": d.name if d else None,
        "processDefinitionVersion": d.version if d else None,
        "startTime": camunda_time(i.started_at),
        "endTime": camunda_time(i.ended_at),
        "removalTime": None,
        "durationInMillis": duration_ms(i.started_at, i.ended_at),
        "startUserId": i.started_by,
        "startActivityId": None,
        "deleteReason": "deleted" if i.state == "EXTERNALLY_TERMINATED" else None,
        "rootProcessInstanceId": i.root_instance_id or i.id,
        "superProcessInstanceId": i.super_instance_id,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": None,
        "state": i.state,
    }


def history_activity(
    a: ActivityRecord, process_key: str | None, called_instance_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": a.id,
        "parentActivityInstanceId": a.instance_id,
        "activityId": a.activity_id,
        "activityName": a.activity_name,
        "activityType": a.activity_type,
        "processDefinitionKey": process_key,
        "processDefinitionId": a.definition_id,
        "processInstanceId": a.instance_id,
        "executionId": a.instance_id,
        "taskId": a.id if a.activity_type == "userTask" else None,
        "calledProcessInstanceId": called_instance_id,
        "calledCaseInstanceId": None,
        "assignee": None,
        "startTime": camunda_time(a.started_at),
        "endTime": camunda_time(a.ended_at),
        "durationInMillis": duration_ms(a.started_at, a.ended_at),
        "canceled": a.canceled,
        "completeScope": a.activity_type == "endEvent",
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": a.instance_id,
    }


def history_task(t: TaskRecord) -> dict[str, Any]:
    return {
        "id": t.id,
        "processDefinitionKey": t.process_key,
        "processDefinitionId": t.definition_id,
        "processInstanceId": t.instance_id,
        "executionId": t.instance_id,
        "activityInstanceId": t.id,
        "name": t.name,
        "description": None,
        "deleteReason": t.delete_reason,
        "owner": None,
        "assignee": t.assignee,
        "startTime": camunda_time(t.created_at),
        "endTime": camunda_time(t.ended_at),
        "duration": duration_ms(t.created_at, t.ended_at),
        "taskDefinitionKey": t.activity_id,
        "priority": t.priority,
        "due": camunda_time(t.due_at),
        "parentTaskId": None,
        "followUp": None,
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": t.instance_id,
        "completedBy": t.completed_by,
        "claimTime": camunda_time(t.claimed_at),
    }
