"""Resolve who works on a user task, and when it is due, from the task's model and the variables."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.bpmn_model import UserTaskModel
from engine.exceptions import ScriptError
from engine.references import resolve_value
from engine.sandbox import Sandbox

DEFAULT_PRIORITY = 50
log = logging.getLogger("flowdesk.assignment")


@dataclass(frozen=True)
class Assignment:
    assignee: str | None
    candidate_users: tuple[str, ...]
    candidate_groups: tuple[str, ...]
    due_at: datetime | None
    priority: int


def _value(text: str | None, variables: Mapping[str, Any], sandbox: Sandbox | None, language: str) -> Any:
    """The value of an attribute; an expression that fails counts as unset (the task still opens,
    with the default), and the failure is logged."""
    try:
        return resolve_value(text, variables, sandbox, language)
    except ScriptError as err:
        log.warning("user task attribute %s", err.message)
        return None


def _names(
    items: list[str], variables: Mapping[str, Any], sandbox: Sandbox | None, language: str
) -> tuple[str, ...]:
    names: list[str] = []
    for item in items:
        value = _value(item, variables, sandbox, language)
        if isinstance(value, str):
            names.extend(v.strip() for v in value.split(",") if v.strip())
        elif isinstance(value, (list, tuple)):
            names.extend(str(v) for v in value if v)
    return tuple(dict.fromkeys(names))


def _due(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _priority(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_PRIORITY


def resolve(
    model: UserTaskModel | None, variables: Mapping[str, Any], sandbox: Sandbox | None = None
) -> Assignment:
    """Who works on the task and when it is due; EL runs in ``sandbox`` (a shared default if None)."""
    if model is None:
        return Assignment(None, (), (), None, DEFAULT_PRIORITY)
    language = model.language
    assignee = _value(model.assignee, variables, sandbox, language)
    priority = _value(model.priority, variables, sandbox, language) if model.priority else DEFAULT_PRIORITY
    return Assignment(
        assignee=str(assignee) if assignee else None,
        candidate_users=_names(model.candidate_users, variables, sandbox, language),
        candidate_groups=_names(model.candidate_groups, variables, sandbox, language),
        due_at=_due(_value(model.due_date, variables, sandbox, language)),
        priority=_priority(priority),
    )
