"""Driving lead_to_cash through the engine: start, complete a user task as someone, read state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine import Actor, Engine, TaskQuery
from handlers.base import Base
from tests.handlers.factories import start_variables


def start(engine: Engine, order: str, **variables: Any) -> str:
    info = engine.runtime.start(
        key="lead_to_cash", variables={**start_variables(), **variables}, business_key=order
    )
    assert info.error_message is None, info.error_message
    return info.id


def open_tasks(engine: Engine, instance_id: str) -> list[str]:
    return [t.activity_id for t in engine.tasks.list(TaskQuery(instance_id=instance_id))]


def complete(
    engine: Engine, instance_id: str, activity: str, values: dict[str, Any], actor: Actor | None = None
) -> None:
    tasks = engine.tasks.list(TaskQuery(instance_id=instance_id, activity_id=activity))
    assert tasks, f"{activity} is not open; open: {open_tasks(engine, instance_id)}"
    engine.tasks.complete(tasks[0].id, values, actor=actor)


def path(engine: Engine, instance_id: str) -> list[str]:
    return [
        a.activity_id
        for a in engine.history.activities(instance_id=instance_id)
        if a.activity_type != "boundaryEvent" or (a.ended_at is not None and not a.canceled)
    ]


def rows(engine: Engine, model: type[Base]) -> int:
    with engine.database.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
