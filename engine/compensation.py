"""BPMN compensation, read from the XML: who compensates what, and what SpiffWorkflow must not see.

SpiffWorkflow 3.2 knows no compensation (its boundary event parser refuses a compensation
boundary event outright), so Flowdesk runs it itself (``engine.compensating``):

- a compensation boundary event on an activity, with an association to a handler
  (``isForCompensation="true"``), makes the activity compensable; the handler is a service task
  bound to an in-process handler, or a script task;
- an intermediate throw or end event with a ``compensateEventDefinition`` compensates the completed
  activities of its scope (the process or subprocess it is in, including those inside completed
  subprocesses that have no handler of their own), or only ``activityRef``, most recent first,
  each completed activity instance once;
- the throw event waits while its handlers run, as Camunda's default ``waitForCompletion``.

SpiffWorkflow parses a copy of the file without the compensation boundary events, their
associations and the handlers (``without_compensation``); the throw events become service-task
like steps that Flowdesk's executor runs (``engine.spiff.throws``).

Not supported, and refused at deploy time naming the element: compensation event subprocesses,
handlers that are user tasks, subprocesses or external tasks.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.bpmn_xml import Element, iter_bpmn, local_name, q
from engine.problems import Problem

COMPENSATE = "compensate"  # the ServiceTaskModel kind of a compensation throw event
_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
_HANDLER_KINDS = ("serviceTask", "scriptTask", "sendTask")


@dataclass
class CompensationModel:
    """The compensation facts of one process, keyed by BPMN element id."""

    handlers: dict[str, str] = field(default_factory=dict)  # compensable activity -> its handler
    scopes: dict[str, list[str]] = field(default_factory=dict)  # element -> its containers, innermost first
    throws: dict[str, str | None] = field(default_factory=dict)  # throw event -> activityRef (None: all)
    scripts: dict[str, str] = field(default_factory=dict)  # script task handler -> its script

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompensationModel:
        return cls(**data)

    def compensable(self, throw_id: str) -> set[str]:
        """The activities a throw event compensates, when they have completed."""
        ref = self.throws.get(throw_id)
        if ref is not None:
            return {ref} if ref in self.handlers else set()
        scope = (self.scopes.get(throw_id) or [""])[0]
        found = set()
        for activity in self.handlers:
            containers = self.scopes.get(activity, [])
            if scope not in containers:
                continue
            # Inside a completed subprocess that has a handler of its own, that handler does it.
            between = containers[: containers.index(scope)]
            if not any(c in self.handlers for c in between):
                found.add(activity)
        return found


def _is_compensation(element: Element) -> bool:
    return element.find(q("compensateEventDefinition")) is not None


def _containers(element: Element) -> list[str]:
    found = []
    parent = element.getparent()
    while parent is not None:
        if local_name(parent) in _CONTAINERS and parent.get("id"):
            found.append(parent.get("id") or "")
        parent = parent.getparent()
    return found


def _associations(process: Element) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for association in iter_bpmn(process, "association"):
        source, target = association.get("sourceRef"), association.get("targetRef")
        if source and target:
            targets.setdefault(source, []).append(target)
            targets.setdefault(target, []).append(source)
    return targets


def extract(process: Element, filename: str, problems: list[Problem]) -> CompensationModel:
    """The compensation model of a process; what Flowdesk cannot run is added to ``problems``."""
    model = CompensationModel()
    by_id = {e.get("id"): e for e in iter_bpmn(process) if e.get("id")}
    linked = _associations(process)

    def problem(element: Element, message: str) -> None:
        problems.append(Problem(filename, message, element.sourceline, element.get("id")))

    for element in iter_bpmn(process, "boundaryEvent", "startEvent", "intermediateThrowEvent", "endEvent"):
        if not _is_compensation(element):
            continue
        element_id = element.get("id") or ""
        kind = local_name(element)
        if kind == "startEvent":
            problem(
                element,
                "compensation event subprocesses are not supported; attach a compensation boundary "
                "event to each activity to undo, with an association to its handler",
            )
        elif kind == "boundaryEvent":
            activity = element.get("attachedToRef") or ""
            handlers = [by_id[t] for t in linked.get(element_id, []) if t in by_id]
            handlers = [h for h in handlers if (h.get("isForCompensation") or "").lower() == "true"]
            if len(handlers) != 1:
                problem(
                    element,
                    "a compensation boundary event needs one association to its compensation handler "
                    '(an activity with isForCompensation="true"); draw it in the modeler',
                )
                continue
            handler = handlers[0]
            if local_name(handler) not in _HANDLER_KINDS:
                problem(
                    handler,
                    f"a compensation handler must be a service task or a script task, not a "
                    f"{local_name(handler)}; Flowdesk runs handlers while the throw event waits",
                )
                continue
            model.handlers[activity] = handler.get("id") or ""
            model.scopes[activity] = _containers(element)
            if local_name(handler) == "scriptTask":
                script = handler.find(q("script"))
                model.scripts[handler.get("id") or ""] = (script.text if script is not None else "") or ""
        else:
            definition = element.find(q("compensateEventDefinition"))
            ref = definition.get("activityRef") if definition is not None else None
            model.throws[element_id] = ref or None
            model.scopes[element_id] = _containers(element)
    for throw_id, ref in model.throws.items():
        if ref is not None and ref not in model.handlers:
            problem(
                by_id[throw_id],
                f"activityRef `{ref}` names no activity with a compensation boundary event; "
                "attach one to it, or remove activityRef to compensate every completed activity",
            )
    return model


def has_compensation(root: Element) -> bool:
    return any(True for _ in root.iter(q("compensateEventDefinition")))


def without_compensation(root: Element) -> Element:
    """A copy of the file for SpiffWorkflow: no compensation boundary events, handlers, associations."""
    if not has_compensation(root):
        return root
    clone: Element = copy.deepcopy(root)
    boundaries = {e.get("id") for e in iter_bpmn(clone, "boundaryEvent") if _is_compensation(e)}
    handlers = {e.get("id") for e in iter_bpmn(clone) if (e.get("isForCompensation") or "").lower() == "true"}
    gone = boundaries | handlers
    for element in list(iter_bpmn(clone)):
        is_link = local_name(element) == "association" and (
            element.get("sourceRef") in gone or element.get("targetRef") in gone
        )
        if (element.get("id") in gone and local_name(element) != "process") or is_link:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
    return clone
