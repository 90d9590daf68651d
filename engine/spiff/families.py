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
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask

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


class SpiffWaitingServiceTask(ServiceTaskMixin, SpiffBpmnTask):  # type: ignore[misc]
    """A spiffworkflow service task that waits (STARTED) for Flowdesk to run its handler.

    SpiffWorkflow's own spiff service task calls the script engine synchronously; Flowdesk instead
    runs every service task as a job, so all dialects share retries, incidents and workers.
    """


class FlowdeskCamundaParser(CamundaParser):  # type: ignore[misc]
    # Send and business rule tasks bound to a handler behave as service tasks: they wait for a job.
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("sendTask"): (CamundaTaskParser, ServiceTask),
        full_tag("businessRuleTask"): (CamundaTaskParser, ServiceTask),
    }


class FlowdeskSpiffParser(SpiffBpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (SpiffTaskParser, SpiffWaitingServiceTask),
    }


def _serializer(config: dict[Any, Any]) -> Any:
    # The plain service task (which waits in STARTED for Flowdesk's job executor) has no converter
    # in SpiffWorkflow's configurations: without one, serializing fails late.
    config = {**config, ServiceTask: BpmnTaskSpecConverter, SpiffWaitingServiceTask: SpiffBpmnTaskConverter}
    registry = _register_data_types(BpmnWorkflowSerializer.configure(config))
    return BpmnWorkflowSerializer(registry)


@cache
def family(dialect: Dialect) -> Family:
    if dialect is Dialect.CAMUNDA7:
        return Family(dialect, FlowdeskCamundaParser, _serializer(CAMUNDA_CONFIG))
    if dialect is Dialect.SPIFF:
        return Family(dialect, FlowdeskSpiffParser, _serializer(SPIFF_CONFIG))
    if dialect is Dialect.PLAIN:
        return Family(dialect, BpmnParser, _serializer(DEFAULT_CONFIG))
    if dialect is Dialect.ZEEBE:
        # Camunda 8 extensions (zeebe:taskDefinition, ioMapping, assignment) are read by Flowdesk
        # itself; for SpiffWorkflow the file is plain BPMN, whose service tasks wait for a job.
        return Family(dialect, BpmnParser, _serializer(DEFAULT_CONFIG))
    raise ValueError(f"no SpiffWorkflow parser family for dialect {dialect}")
