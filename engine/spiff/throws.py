"""Throwing signals and messages: the specs and parser hook, and what a step threw.

SpiffWorkflow 3.2 throws an event into the instance that throws it and nowhere else (an event no
task of the instance catches lands in the workflow's pending events, which nobody reads), and its
end event parser does not read signal definitions at all. Flowdesk delivers thrown events itself,
to every instance through the subscription table (``engine.throws``), so its throw specs do not
throw into the library: they *record* the event on the workflow object, and the host drains the
records after the step (``drain``). A message throw event with an implementation (a handler, an
external topic: Camunda's ``camunda:class`` / ``delegateExpression`` / ``expression`` /
``type="external"``, Camunda 8's ``zeebe:taskDefinition``) behaves as a service task instead: it
waits in STARTED for Flowdesk's job, exactly like ``bpmn:serviceTask``.

Error and escalation throws use the same specs, but stay inside the instance: the catcher is found
by BPMN's scopes in ``engine.spiff.code_events`` (boundary events, and event subprocesses with an
error or escalation start, which the library never finds).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent, SendTask, ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin

from engine.exceptions import ProcessError
from engine.spiff import code_events

_RECORDS = "flowdesk_thrown"
_COMPENSATE = "{http://www.omg.org/spec/BPMN/20100524/MODEL}compensateEventDefinition"
SIGNAL, MESSAGE = "signal", "message"


@dataclass(frozen=True)
class ThrownEvent:
    """One signal or message a throw event of the workflow threw during this operation."""

    task_id: str
    activity_id: str
    kind: str  # SIGNAL or MESSAGE
    name: str
    data: dict[str, Any]  # the throwing task's data, for the payload mappings
    payload: dict[str, Any] | None = field(default=None)  # a spiffworkflow payload expression's value


def kind_of(definition: Any) -> str | None:
    if isinstance(definition, SignalEventDefinition):
        return SIGNAL
    if isinstance(definition, MessageEventDefinition):
        return MESSAGE
    return None


def _spiff_payload(my_task: Any, definition: Any) -> dict[str, Any] | None:
    # spiffworkflow files give a payload expression (spiffworkflow:messagePayload / signalPayload).
    expression = getattr(definition, "expression", None)
    if not expression or not type(definition).__module__.startswith("SpiffWorkflow.spiff"):
        return None
    value = my_task.workflow.script_engine.evaluate(my_task, expression)
    if not isinstance(value, Mapping):
        raise ProcessError(
            f"the payload of {kind_of(definition)} {definition.name!r} must be a dict of variables, "
            f"not {type(value).__name__}; write it as {{'name': value, ...}}",
            activity_id=my_task.task_spec.bpmn_id,
        )
    return dict(value)


class _RecordingThrow:
    """Mixin placed before ``ThrowingEvent``: record the event instead of throwing it."""

    def _run_hook(self, my_task: Any) -> bool | None:
        definition = self.event_definition  # type: ignore[attr-defined]
        if code_events.is_code_event(definition):
            payload = code_events.payload_of(my_task, definition)
            top = my_task.workflow.top_workflow
            caught = code_events.throw(top, my_task, definition, definition.code, payload)
            if caught is None:
                code_events.keep_uncaught(top, definition, payload)
            # An interrupting catch ends the thrower's path: an intermediate throw stays STARTED, to
            # be cancelled with its scope, instead of running what follows it first.
            if caught is not None and caught.interrupting and not isinstance(self, EndEvent):
                return None
            return True
        kind = kind_of(definition)
        if kind is not None:
            top = my_task.workflow.top_workflow
            records: list[ThrownEvent] = top.__dict__.setdefault(_RECORDS, [])
            records.append(
                ThrownEvent(
                    str(my_task.id),
                    my_task.task_spec.bpmn_id,
                    kind,
                    str(definition.name),
                    copy.deepcopy(dict(my_task.data)),
                    _spiff_payload(my_task, definition),
                )
            )
        return True


class RecordingThrowEvent(_RecordingThrow, IntermediateThrowEvent):  # type: ignore[misc]
    """An intermediate signal, message or escalation throw event whose event Flowdesk delivers."""

    activity_type = "intermediateThrowEvent"  # what history shows, as for the library's own class


class RecordingEndEvent(_RecordingThrow, EndEvent):  # type: ignore[misc]
    """A signal, message, error or escalation end event whose event Flowdesk delivers."""

    activity_type = "endEvent"


class RecordingSendTask(_RecordingThrow, SendTask):  # type: ignore[misc]
    """A send task without implementation: Flowdesk correlates its message."""

    activity_type = "sendTask"


class BoundThrowEvent(ServiceTaskMixin, IntermediateThrowEvent):  # type: ignore[misc]
    """A message throw event bound to a handler or an external topic: a service task."""

    activity_type = "intermediateThrowEvent"


class BoundEndEvent(ServiceTaskMixin, EndEvent):  # type: ignore[misc]
    """A message end event bound to a handler or an external topic: a service task."""

    activity_type = "endEvent"


THROW_SPECS = (RecordingThrowEvent, RecordingEndEvent, RecordingSendTask, BoundThrowEvent, BoundEndEvent)


def drain(workflow: Any) -> list[ThrownEvent]:
    """The events the workflow threw since the last call, oldest first (they are forgotten)."""
    records: list[ThrownEvent] = workflow.__dict__.pop(_RECORDS, [])
    return records


class ThrowParsing:
    """Mixin for intermediate throw and end event parsers: Flowdesk's throw specs.

    ``bound`` says, from the XML node, whether a message throw event names an implementation.
    """

    bound: Callable[[Any], bool] = staticmethod(lambda node: False)
    end = False

    def create_task(self) -> Any:
        parser: Any = self
        paths = [MESSAGE_EVENT_XPATH, SIGNAL_EVENT_XPATH]
        if self.end:
            paths += [CANCEL_EVENT_XPATH, ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH, TERMINATION_EVENT_XPATH]
        else:
            paths += [ESCALATION_EVENT_XPATH]
        definition = parser.get_event_definition(paths)
        kind = kind_of(definition)
        if parser.node.find(_COMPENSATE) is not None:
            # Flowdesk runs the compensation handlers while the event waits (engine.compensating).
            parser.spec_class = BoundEndEvent if self.end else BoundThrowEvent
        elif kind == MESSAGE and type(self).bound(parser.node):
            parser.spec_class = BoundEndEvent if self.end else BoundThrowEvent
        elif kind is not None or code_events.is_code_event(definition):
            # Errors and escalations too: Flowdesk finds their catcher (engine.spiff.code_events).
            parser.spec_class = RecordingEndEvent if self.end else RecordingThrowEvent
        task = parser._create_task(definition)
        if self.end:
            task.connect(parser.spec.end)
        return task


class SendParsing:
    """Mixin for send task parsers: bound to code, a service task; else a message Flowdesk correlates.

    ``bound`` says, from the XML node, whether the send task names an implementation.
    """

    bound: Callable[[Any], bool] = staticmethod(lambda node: True)

    def create_task(self) -> Any:
        parser: Any = self
        if type(self).bound(parser.node) or parser.node.get("messageRef") is None:
            parser.spec_class = ServiceTask
            return TaskParser.create_task(parser)
        parser.spec_class = RecordingSendTask
        definition = parser.parse_message_event(parser.node)
        return parser._create_task(definition)


def send_parser(base: type[Any], *mixins: type[Any], bound: Callable[[Any], bool]) -> type[Any]:
    """A send task parser of one family that builds a service task or a recording send task."""
    return type(f"FlowdeskSend{base.__name__}", (SendParsing, *mixins, base), {"bound": staticmethod(bound)})


def throw_parser(base: type[Any], *mixins: type[Any], end: bool, bound: Callable[[Any], bool]) -> type[Any]:
    """A throw/end event parser of one family that builds Flowdesk's throw specs."""
    attrs = {"end": end, "bound": staticmethod(bound)}
    return type(f"FlowdeskThrow{base.__name__}", (ThrowParsing, *mixins, base), attrs)
