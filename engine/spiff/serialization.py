"""Stored forms of specs and running workflows.

A definition's spec is stored once (``spec_to_json``); an instance stores only its own state
(``workflow_to_json``), wrapped in a versioned envelope so that later changes to the format get
one migration function each (``_MIGRATIONS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.exceptions import ProcessError
from engine.spiff.families import Family

FORMAT_VERSION = 1
_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def spec_to_json(fam: Family, spec: Any, subprocess_specs: dict[str, Any]) -> str:
    registry = fam.serializer.registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(sp) for name, sp in subprocess_specs.items()},
        }
    )


def spec_from_json(fam: Family, text: str) -> tuple[Any, dict[str, Any]]:
    registry = fam.serializer.registry
    stored = json.loads(text)
    spec = registry.restore(stored["spec"])
    subprocess_specs = {name: registry.restore(sp) for name, sp in stored["subprocess_specs"].items()}
    return spec, subprocess_specs


def workflow_to_json(fam: Family, workflow: BpmnWorkflow, *, instance_id: str = "") -> str:
    """The instance's state without its spec; raises ProcessError when data cannot be stored."""
    serializer = fam.serializer
    registry = serializer.registry
    registry._encoder_mode = True
    try:
        state: dict[str, Any] = {
            "data": registry.convert(registry.clean(workflow.data)),
            "correlations": workflow.correlations,
            "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "tasks": {str(tid): registry.convert(task) for tid, task in workflow.tasks.items()},
            "root": str(workflow.task_tree.id),
            "subprocesses": {str(tid): registry.convert(sp) for tid, sp in workflow.subprocesses.items()},
            "bpmn_events": registry.convert(workflow.bpmn_events),
        }
        envelope = {"format": FORMAT_VERSION, "spiff": serializer.VERSION, "state": state}
        return json.dumps(envelope, cls=serializer._encoder_cls)
    except (TypeError, ValueError) as err:
        raise storage_error(err, instance_id) from err
    finally:
        registry._encoder_mode = False


def storage_error(err: Exception, instance_id: str = "") -> ProcessError:
    return ProcessError(
        f"The instance's data cannot be stored: {err}. Keep variables to text, numbers, "
        "booleans, lists, maps, decimals and dates.",
        instance_id=instance_id or None,
    )


def workflow_from_json(
    fam: Family, text: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and the (cached) spec of its definition."""
    return workflow_from_envelope(fam, json.loads(text), spec, subprocess_specs, script_engine)


def workflow_from_envelope(
    fam: Family, envelope: dict[str, Any], spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
) -> BpmnWorkflow:
    """``workflow_from_json`` of the parsed text (engine.state_store puts stored rows into it)."""
    version = envelope.get("format")
    while version in _MIGRATIONS:
        envelope = _MIGRATIONS[version](envelope)
        version = envelope["format"]
    if version != FORMAT_VERSION:
        raise ProcessError(f"stored instance format {version} is newer than this Flowdesk understands")
    state = envelope["state"]
    registry = fam.serializer.registry
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
    workflow.tasks = {UUID(tid): registry.restore(t, workflow=workflow) for tid, t in state["tasks"].items()}
    workflow.task_tree = workflow.tasks[UUID(state["root"])]
    workflow.success = state["success"]
    workflow.completed = state.get("completed", False)
    workflow.correlations = state.get("correlations", {})
    if state.get("last_task"):
        workflow.last_task = workflow.tasks.get(UUID(state["last_task"]))
    workflow.data = registry.restore(state.get("data", {}))
    _restore_subprocesses(fam, state.get("subprocesses", {}), workflow, workflow)
    workflow.bpmn_events = registry.restore(state.get("bpmn_events", []))
    return workflow


def _restore_subprocesses(fam: Family, stored: dict[str, Any], workflow: Any, top: BpmnWorkflow) -> None:
    # Parents before children: a subprocess needs the task it hangs from.
    from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask

    registry = fam.serializer.registry
    for task in list(workflow.tasks.values()):
        if isinstance(task.task_spec, SubWorkflowTask) and str(task.id) in stored:
            sp = registry.restore(stored.pop(str(task.id)), task=task, top_workflow=top)
            top.subprocesses[task.id] = sp
            sp.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
            _restore_subprocesses(fam, stored, sp, top)
