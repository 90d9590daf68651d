"""Delivering messages and signals to waiting tasks, with each parser family's own event classes.

Flowdesk routes a message to one waiting task itself (the subscription table says which), so
delivery is targeted: the task's own event definition builds the ``BpmnEvent`` (a definition of
another family would silently not match) and the task catches it directly, instead of SpiffWorkflow
searching every waiting task of the workflow. Message variables are set on the instance, as in
Camunda: they go into the catching task's data and flow on from there.

Camunda's SpiffWorkflow message class stores a caught payload under ``<task>_Response``, a
convention of spiff's own Camunda extension and not of Camunda 7; ``FlowdeskCamundaMessage`` keeps
the class (and its serializer) but merges the payload into the task data instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import ReceiveTaskParser
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEventDefinitionParser
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.util.task import TaskState

from engine.spiff import walk
from engine.spiff.event_scopes import scope_data


class FlowdeskCamundaMessage(CamundaMessage):  # type: ignore[misc]
    def update_internal_data(self, my_task: Any, event: Any) -> None:
        my_task.internal_data[self.name] = event.payload

    def update_task_data(self, my_task: Any) -> None:
        payload = my_task.internal_data.get(self.name)
        if isinstance(payload, Mapping):
            my_task.set_data(**payload)


class CamundaMessageParsing:
    """Mixin for Camunda event parsers: catching messages use ``FlowdeskCamundaMessage``."""

    def parse_message_event(self, message_event: Any) -> Any:
        parsed = super().parse_message_event(message_event)  # type: ignore[misc]
        return FlowdeskCamundaMessage(
            parsed.name, parsed.correlation_properties, parsed.expression, parsed.result_var
        )


class FlowdeskCamundaReceiveTaskParser(
    CamundaMessageParsing,
    CamundaEventDefinitionParser,  # type: ignore[misc]
    ReceiveTaskParser,  # type: ignore[misc]
):
    """Camunda's parser has no receive task of its own: the plain one would mix families."""


def definitions_of(task: Any) -> list[Any]:
    """The event definitions a waiting task catches (several for an event-based gateway)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def deliver(task: Any, definition: Any, variables: Mapping[str, Any]) -> None:
    """Let ``task`` catch the event of ``definition`` (one of ``definitions_of(task)``)."""
    task.data.update(variables)
    # Each class handles its payload: plain and Camunda merge it, spiff keeps it in its message variable.
    task.task_spec.catch(task, BpmnEvent(definition, payload=dict(variables)))
    task.task_spec._update(task)


def trigger_within(
    workflow: Any, scope: Any, name: str, definition: Any, variables: Mapping[str, Any]
) -> None:
    """Start event subprocess ``name`` of the embedded subprocess ``scope`` with the event.

    SpiffWorkflow starts event subprocesses by message or signal only at the top of the process
    (``catch`` looks at the process's own triggers), so one inside an embedded subprocess is
    created here the way the library creates a top-level one, and its start event catches.
    """
    child_id = scope.spec.start.trigger_wf(scope.task_tree, name)
    owner = workflow.get_task_from_id(child_id)
    subprocess = workflow.subprocesses.get(child_id)
    if subprocess is None or owner is None:
        return
    for task in subprocess.get_tasks(state=TaskState.WAITING):
        if getattr(task.task_spec, "event_definition", None) == definition:
            # The scope's variables as they are now, then the event's (as ``trigger`` does).
            task.data.update(scope_data(workflow, owner))
            deliver(task, definition, variables)
            return


def trigger(workflow: Any, definition: Any, variables: Mapping[str, Any]) -> None:
    """Deliver to a message start of an event subprocess: SpiffWorkflow creates the subprocess."""
    workflow.catch(BpmnEvent(definition, payload=dict(variables)))
    # The start event that caught gets the scope's variables as they are now, then the message's,
    # so the event subprocess carries them on.
    for subprocess_id, subprocess in workflow.subprocesses.items():
        for task in subprocess.get_tasks(state=TaskState.READY):
            if getattr(task.task_spec, "event_definition", None) == definition:
                owner = workflow.get_task_from_id(subprocess_id)
                if owner is not None:
                    task.data.update(scope_data(workflow, owner))
                task.data.update(variables)
                walk.touched(task)
