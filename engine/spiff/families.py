"""One parser family per BPMN dialect, each with the serializer configuration that matches it.

SpiffWorkflow only works when parser, event definitions and serializer come from the same
family (a mismatch fails late, at serialize time), so the three are chosen together here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import cache
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.dialect import Dialect


@dataclass(frozen=True)
class Family:
    dialect: Dialect
    parser_class: type[Any]
    serializer: Any  # BpmnWorkflowSerializer (untyped library)


def _register_data_types(registry: Any) -> Any:
    # Task data may hold money and calendar values; SpiffWorkflow only knows datetime and
    # timedelta. Registering them here means they survive a save/restore exactly.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]), "Decimal")
    registry.register(
        date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]), "date"
    )
    registry.register(
        time, lambda v: {"value": v.isoformat()}, lambda v: time.fromisoformat(v["value"]), "time"
    )
    return registry


def _serializer(config: dict[Any, Any]) -> Any:
    registry = _register_data_types(BpmnWorkflowSerializer.configure(config))
    return BpmnWorkflowSerializer(registry)


@cache
def family(dialect: Dialect) -> Family:
    if dialect is Dialect.CAMUNDA7:
        return Family(dialect, CamundaParser, _serializer(CAMUNDA_CONFIG))
    if dialect is Dialect.SPIFF:
        return Family(dialect, SpiffBpmnParser, _serializer(SPIFF_CONFIG))
    if dialect is Dialect.PLAIN:
        return Family(dialect, BpmnParser, _serializer(DEFAULT_CONFIG))
    raise ValueError(f"no SpiffWorkflow parser family for dialect {dialect}")
