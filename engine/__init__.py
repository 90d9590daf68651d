"""Flowdesk's BPMN engine: no web code here; ``webui`` is one face over it."""

from engine.clock import FakeClock, system_clock
from engine.db import Database
from engine.engine import Engine, database_url
from engine.exceptions import (
    ConcurrentModification,
    DefinitionNotFound,
    DeploymentError,
    FlowdeskError,
    Forbidden,
    FormValidationError,
    InstanceNotFound,
    InvalidRequest,
    NotFound,
    ScriptError,
    TaskNotFound,
)
from engine.handlers import BpmnError, HandlerContext, HandlerRegistry, handler
from engine.identity import Actor
from engine.problems import Problem
from engine.tasks import TaskQuery

__all__ = [
    "Actor",
    "BpmnError",
    "ConcurrentModification",
    "Database",
    "DefinitionNotFound",
    "DeploymentError",
    "Engine",
    "FakeClock",
    "FlowdeskError",
    "Forbidden",
    "FormValidationError",
    "HandlerContext",
    "HandlerRegistry",
    "InstanceNotFound",
    "InvalidRequest",
    "NotFound",
    "Problem",
    "ScriptError",
    "TaskNotFound",
    "TaskQuery",
    "database_url",
    "handler",
    "system_clock",
]
