"""One parser family per BPMN dialect, each with the serializer configuration that matches it.

SpiffWorkflow only works when parser, event definitions and serializer come from the same
family (a mismatch fails late, at serialize time), so the three are chosen together here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import cache
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.event_parsers import (
    BoundaryEventParser,
    EndEventParser,
    IntermediateCatchEventParser,
    IntermediateThrowEventParser,
    SendTaskParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import GatewayParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.config import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BpmnTaskSpecConverter,
    EventConverter,
    MultiInstanceTaskConverter,
    ParallelGatewayConverter,
)
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    CallActivity,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ManualTask,
    NoneTask,
    ReceiveTask,
    ScriptTask,
    ServiceTask,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaIntermediateThrowEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaEventDefinitionParser as CamundaEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import (
    CamundaTaskParser,
    ScriptTaskParser,
    SubWorkflowParser,
    UserTaskParser,
)
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffEndEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import SpiffBpmnTaskConverter
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask
from SpiffWorkflow.task import Task

from engine import zeebe
from engine.bindings import message_implementation, send_implementation
from engine.dialect import Dialect
from engine.spiff.call_specs import CalledProcessTask, SpiffCalledProcessTask
from engine.spiff.event_scopes import EventSubprocessStartParsing
from engine.spiff.joins import MergingParallelGateway
from engine.spiff.messages import (
    CamundaMessageParsing,
    FlowdeskCamundaMessage,
    FlowdeskCamundaReceiveTaskParser,
)
from engine.spiff.multi_instance import (
    CamundaMultiInstanceParsing,
    CamundaParallelMultiInstance,
    CamundaSequentialMultiInstance,
)
from engine.spiff.task_converter import FlowdeskTaskConverter
from engine.spiff.throws import THROW_SPECS, send_parser, throw_parser
from engine.spiff.timers import TIMER_CLASSES, TimerParsing


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


class PassThroughManualTask(ManualTask):  # type: ignore[misc]
    """Camunda 7 runs manual tasks as pass-through activities: the work happens outside the engine."""

    activity_type = "manualTask"

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class PassThroughTask(NoneTask):  # type: ignore[misc]
    """Camunda 7 runs an undefined task (bpmn:task) as a pass-through activity."""

    activity_type = "task"

    def __init__(self, wf_spec: Any, bpmn_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


# Parallel joins keep every branch's changes (engine/spiff/joins.py), in every dialect.
_JOINS = {full_tag("parallelGateway"): (GatewayParser, MergingParallelGateway)}


def _event_parsers(
    start: type[Any], catch: type[Any], boundary: type[Any], *mixins: type[Any]
) -> dict[str, Any]:
    """Event parsers of one family whose timers read Flowdesk's clock (see engine.spiff.timers)."""

    def timed(base: type[Any], *more: type[Any]) -> type[Any]:
        return type(f"Flowdesk{base.__name__}", (*more, *mixins, TimerParsing, base), {})

    return {
        full_tag("startEvent"): (timed(start, EventSubprocessStartParsing), StartEvent),
        full_tag("intermediateCatchEvent"): (timed(catch), IntermediateCatchEvent),
        full_tag("boundaryEvent"): (timed(boundary), BoundaryEvent),
    }


def _throw_parsers(
    end: type[Any], throw: type[Any], bound: Callable[[Any], bool], *mixins: type[Any]
) -> dict[str, Any]:
    """Throw and end event parsers of one family whose signals and messages Flowdesk delivers."""
    return {
        full_tag("endEvent"): (throw_parser(end, *mixins, end=True, bound=bound), EndEvent),
        full_tag("intermediateThrowEvent"): (
            throw_parser(throw, *mixins, end=False, bound=bound),
            IntermediateThrowEvent,
        ),
    }


def _camunda_bound(node: Any) -> bool:
    return message_implementation(node) is not None


def _camunda_sends(node: Any) -> bool:
    return send_implementation(node)


def _zeebe_sends(node: Any) -> bool:
    return zeebe.has_task_definition(node)


def _unbound(node: Any) -> bool:
    return False


def _camunda_loops(parser: type[Any]) -> type[Any]:
    """``parser`` reading multi-instance loops as Camunda 7 does (engine.spiff.multi_instance)."""
    return type(f"Flowdesk{parser.__name__}", (CamundaMultiInstanceParsing, parser), {})


_CAMUNDA_TASK = _camunda_loops(CamundaTaskParser)


class FlowdeskCamundaParser(CamundaParser):  # type: ignore[misc]
    # Service, send and business rule tasks bound to a handler wait for a job (engine.executor).
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        **_JOINS,
        full_tag("userTask"): (_camunda_loops(UserTaskParser), CamundaUserTask),
        full_tag("scriptTask"): (_camunda_loops(ScriptTaskParser), ScriptTask),
        full_tag("subProcess"): (_camunda_loops(SubWorkflowParser), CallActivity),
        full_tag("serviceTask"): (_CAMUNDA_TASK, ServiceTask),
        # A send task without implementation sends a message that Flowdesk correlates; a bound one
        # parses as a service task, with Camunda's multi-instance loops.
        full_tag("sendTask"): (
            send_parser(
                SendTaskParser,
                CamundaMessageParsing,
                CamundaEventParser,
                _CAMUNDA_TASK,
                bound=_camunda_sends,
            ),
            ServiceTask,
        ),
        full_tag("businessRuleTask"): (_CAMUNDA_TASK, ServiceTask),
        # SpiffWorkflow makes both wait for a person, who would have nothing to do in them.
        full_tag("manualTask"): (_CAMUNDA_TASK, PassThroughManualTask),
        full_tag("task"): (_CAMUNDA_TASK, PassThroughTask),
        full_tag("receiveTask"): (FlowdeskCamundaReceiveTaskParser, ReceiveTask),
        # A call activity starts a separate instance (engine.calls); embedded subprocesses keep
        # SpiffWorkflow's CallActivity class, which this parser gives them.
        full_tag("callActivity"): (CamundaTaskParser, CalledProcessTask),
        **_event_parsers(
            CamundaStartEventParser,
            CamundaIntermediateCatchEventParser,
            CamundaBoundaryEventParser,
            CamundaMessageParsing,
        ),
        **_throw_parsers(
            CamundaEndEventParser, CamundaIntermediateThrowEventParser, _camunda_bound, CamundaMessageParsing
        ),
    }


class FlowdeskSpiffParser(SpiffBpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        **_JOINS,
        full_tag("serviceTask"): (SpiffTaskParser, SpiffWaitingServiceTask),
        full_tag("callActivity"): (SpiffTaskParser, SpiffCalledProcessTask),
        **_event_parsers(SpiffStartEventParser, SpiffIntermediateCatchEventParser, SpiffBoundaryEventParser),
        **_throw_parsers(SpiffEndEventParser, SpiffIntermediateThrowEventParser, _unbound),
    }


class FlowdeskBpmnParser(BpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **BpmnParser.OVERRIDE_PARSER_CLASSES,
        **_JOINS,
        full_tag("callActivity"): (TaskParser, CalledProcessTask),
        **_event_parsers(StartEventParser, IntermediateCatchEventParser, BoundaryEventParser),
        # Plain files have no implementation attributes; Camunda 8 files name a job type.
        **_throw_parsers(EndEventParser, IntermediateThrowEventParser, zeebe.has_task_definition),
        full_tag("sendTask"): (send_parser(SendTaskParser, bound=_zeebe_sends), ServiceTask),
    }


def _serializer(config: dict[Any, Any]) -> Any:
    # The plain service task (which waits in STARTED for Flowdesk's job executor) has no converter
    # in SpiffWorkflow's configurations: without one, serializing fails late.
    config = {
        **config,
        Task: FlowdeskTaskConverter,
        ServiceTask: BpmnTaskSpecConverter,
        SpiffWaitingServiceTask: SpiffBpmnTaskConverter,
        MergingParallelGateway: ParallelGatewayConverter,
        PassThroughManualTask: BpmnTaskSpecConverter,
        PassThroughTask: BpmnTaskSpecConverter,
        CalledProcessTask: BpmnTaskSpecConverter,
        SpiffCalledProcessTask: SpiffBpmnTaskConverter,
        CamundaParallelMultiInstance: MultiInstanceTaskConverter,
        CamundaSequentialMultiInstance: MultiInstanceTaskConverter,
    }
    config.update({timer: TimerConditionalEventDefinitionConverter for timer in TIMER_CLASSES})
    config.update({spec: EventConverter for spec in THROW_SPECS})
    registry = _register_data_types(BpmnWorkflowSerializer.configure(config))
    return BpmnWorkflowSerializer(registry)


@cache
def family(dialect: Dialect) -> Family:
    if dialect is Dialect.CAMUNDA7:
        config = {**CAMUNDA_CONFIG, FlowdeskCamundaMessage: CAMUNDA_CONFIG[CamundaMessage]}
        return Family(dialect, FlowdeskCamundaParser, _serializer(config))
    if dialect is Dialect.SPIFF:
        return Family(dialect, FlowdeskSpiffParser, _serializer(SPIFF_CONFIG))
    if dialect is Dialect.PLAIN:
        return Family(dialect, FlowdeskBpmnParser, _serializer(DEFAULT_CONFIG))
    if dialect is Dialect.ZEEBE:
        # Camunda 8 extensions (zeebe:taskDefinition, ioMapping, assignment) are read by Flowdesk
        # itself; for SpiffWorkflow the file is plain BPMN, whose service tasks wait for a job.
        return Family(dialect, FlowdeskBpmnParser, _serializer(DEFAULT_CONFIG))
    raise ValueError(f"no SpiffWorkflow parser family for dialect {dialect}")
