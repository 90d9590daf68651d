"""What happened: instance, activity, task, variable and operation history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from engine.calls import call_filters
from engine.db import Database
from engine.db.models import (
    HistoryActivity,
    HistoryOperation,
    HistoryTask,
    HistoryVariable,
    InstanceState,
    ProcessInstance,
)
from engine.instances import InstanceInfo
from engine.variables import loads


@dataclass(frozen=True)
class ActivityRecord:
    id: str
    instance_id: str
    definition_id: str
    activity_id: str
    activity_name: str | None
    activity_type: str
    started_at: datetime
    ended_at: datetime | None
    canceled: bool


@dataclass(frozen=True)
class TaskRecord:
    id: str
    instance_id: str
    definition_id: str
    process_key: str
    activity_id: str
    name: str | None
    assignee: str | None
    created_at: datetime
    claimed_at: datetime | None
    ended_at: datetime | None
    completed_by: str | None
    delete_reason: str | None
    due_at: datetime | None
    priority: int


@dataclass(frozen=True)
class VariableRecord:
    instance_id: str
    name: str
    value: Any
    changed_at: datetime
    user_name: str | None


@dataclass(frozen=True)
class OperationRecord:
    instance_id: str | None
    task_id: str | None
    operation: str
    user_name: str | None
    at: datetime
    detail: dict[str, Any] | None


def _page(query: Any, first: int, max_results: int | None) -> Any:
    query = query.offset(first)
    return query.limit(max_results) if max_results is not None else query


class HistoryService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def instances(
        self,
        *,
        process_key: str | None = None,
        business_key: str | None = None,
        instance_id: str | None = None,
        finished: bool | None = None,
        first: int = 0,
        max_results: int | None = None,
        super_instance_id: str | None = None,
        sub_instance_id: str | None = None,
        roots_only: bool = False,
    ) -> list[InstanceInfo]:
        with self.database.read() as session:
            query = call_filters(select(ProcessInstance), super_instance_id, sub_instance_id)
            if roots_only:
                query = query.where(ProcessInstance.super_instance_id.is_(None))
            if process_key is not None:
                query = query.where(ProcessInstance.process_key == process_key)
            if business_key is not None:
                query = query.where(ProcessInstance.business_key == business_key)
            if instance_id is not None:
                query = query.where(ProcessInstance.id == instance_id)
            if finished is True:
                query = query.where(ProcessInstance.state != InstanceState.ACTIVE)
            elif finished is False:
                query = query.where(ProcessInstance.state == InstanceState.ACTIVE)
            query = _page(query.order_by(ProcessInstance.started_at, ProcessInstance.id), first, max_results)
            return [InstanceInfo.of(row) for row in session.scalars(query)]

    def called_instances(self, task_ids: list[str]) -> dict[str, str]:
        """The instance each of these call activity instances (task ids) started, by task id."""
        if not task_ids:
            return {}
        with self.database.read() as session:
            query = select(ProcessInstance.super_task_id, ProcessInstance.id).where(
                ProcessInstance.super_task_id.in_(task_ids)
            )
            return {task_id: child_id for task_id, child_id in session.execute(query) if task_id}

    def activities(
        self,
        *,
        instance_id: str | None = None,
        activity_id: str | None = None,
        finished: bool | None = None,
        first: int = 0,
        max_results: int | None = None,
    ) -> list[ActivityRecord]:
        with self.database.read() as session:
            query = select(HistoryActivity)
            if instance_id is not None:
                query = query.where(HistoryActivity.instance_id == instance_id)
            if activity_id is not None:
                query = query.where(HistoryActivity.activity_id == activity_id)
            if finished is True:
                query = query.where(HistoryActivity.ended_at.is_not(None))
            elif finished is False:
                query = query.where(HistoryActivity.ended_at.is_(None))
            query = _page(query.order_by(HistoryActivity.seq), first, max_results)
            return [
                ActivityRecord(
                    r.id,
                    r.instance_id,
                    r.definition_id,
                    r.activity_id,
                    r.activity_name,
                    r.activity_type,
                    r.started_at,
                    r.ended_at,
                    r.canceled,
                )
                for r in session.scalars(query)
            ]

    def tasks(
        self,
        *,
        instance_id: str | None = None,
        assignee: str | None = None,
        finished: bool | None = None,
        first: int = 0,
        max_results: int | None = None,
    ) -> list[TaskRecord]:
        with self.database.read() as session:
            query = select(HistoryTask)
            if instance_id is not None:
                query = query.where(HistoryTask.instance_id == instance_id)
            if assignee is not None:
                query = query.where(HistoryTask.assignee == assignee)
            if finished is True:
                query = query.where(HistoryTask.ended_at.is_not(None))
            elif finished is False:
                query = query.where(HistoryTask.ended_at.is_(None))
            query = _page(query.order_by(HistoryTask.seq), first, max_results)
            return [
                TaskRecord(
                    r.id,
                    r.instance_id,
                    r.definition_id,
                    r.process_key,
                    r.activity_id,
                    r.name,
                    r.assignee,
                    r.created_at,
                    r.claimed_at,
                    r.ended_at,
                    r.completed_by,
                    r.delete_reason,
                    r.due_at,
                    r.priority,
                )
                for r in session.scalars(query)
            ]

    def variables(self, instance_id: str) -> list[VariableRecord]:
        with self.database.read() as session:
            query = (
                select(HistoryVariable)
                .where(HistoryVariable.instance_id == instance_id)
                .order_by(HistoryVariable.id)
            )
            return [
                VariableRecord(r.instance_id, r.name, loads(r.value), r.changed_at, r.user_name)
                for r in session.scalars(query)
            ]

    def operations(
        self, *, instance_id: str | None = None, task_id: str | None = None
    ) -> list[OperationRecord]:
        with self.database.read() as session:
            query = select(HistoryOperation)
            if instance_id is not None:
                query = query.where(HistoryOperation.instance_id == instance_id)
            if task_id is not None:
                query = query.where(HistoryOperation.task_id == task_id)
            return [
                OperationRecord(r.instance_id, r.task_id, r.operation, r.user_name, r.at, r.detail)
                for r in session.scalars(query.order_by(HistoryOperation.id))
            ]
