"""BPMN compensation, read from the XML: who compensates what, and what SpiffWorkflow must not see.

SpiffWorkflow 3.2 knows no compensation (its boundary event parser refuses a compensation
boundary event outright), so Flowdesk runs it itself (``engine.compensating``):

- a compensation boundary event on an activity, with an association to a handler
  (``isForCompensation="true"``), makes the activity compensable; the handler is a service task
  bound to an in-process handler, a script task, a user task or an external task
  (``camunda:type="external"``);
- an intermediate throw or end event with a ``compensateEventDefinition`` compensates the completed
  activities of its scope (the process or subprocess it is in, including those inside completed
  subprocesses that have no handler of their own), or only ``activityRef``, most recent first,
  each completed activity instance once;
- the throw event waits while its handlers run, as Camunda's default ``waitForCompletion``. In-process
  handlers run at once; a user task or external task handler is a task of its own that the throw
  event waits for before it runs the next handler (``engine.spiff.runner_compensation``).

SpiffWorkflow parses a copy of the file without the compensation boundary events, their
associations and the in-process handlers (``without_compensation``); user task and external task
handlers stay in it, unconnected, so that their specs exist (``waiting_handlers``). The throw events
become service-task like steps that Flowdesk's executor runs (``engine.spiff.throws``).

A compensation event subprocess inside an embedded subprocess is that subprocess's handler: the
copy for SpiffWorkflow has it moved beside the subprocess, as an unconnected plain subprocess that
the throw event starts like a handler task (``_move_out``); a throw inside it compensates the
subprocess it handles.

Not supported, and refused at deploy time naming the element: compensation event subprocesses at
process level, handlers that are subprocesses or call activities, and a user task or external task
handler outside the scope of a throw event that compensates it (the handler task runs beside the
throw event).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.bpmn_xml import Element, camunda_attr, iter_bpmn, local_name, q
from engine.problems import Problem

COMPENSATE = "compensate"  # the ServiceTaskModel kind of a compensation throw event
_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
_HANDLER_KINDS = ("serviceTask", "scriptTask", "sendTask", "userTask")


@dataclass
class CompensationModel:
    """The compensation facts of one process, keyed by BPMN element id."""

    handlers: dict[str, str] = field(default_factory=dict)  # compensable activity -> its handler
    scopes: dict[str, list[str]] = field(default_factory=dict)  # element -> its containers, innermost first
    throws: dict[str, str | None] = field(default_factory=dict)  # throw event -> activityRef (None: all)
    scripts: dict[str, str] = field(default_factory=dict)  # script task handler -> its script
    # Compensable activity -> the scope of its handler, when the handler is a task to wait for.
    waiting: dict[str, str] = field(default_factory=dict)

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


def is_waiting_handler(element: Element) -> bool:
    """A handler that is a task of its own, which the throw event waits for: a user or external task."""
    if local_name(element) == "userTask":
        return True
    return local_name(element) in _HANDLER_KINDS and camunda_attr(element, "type") == "external"


def _is_handler(element: Element) -> bool:
    return (element.get("isForCompensation") or "").lower() == "true"


def waiting_handlers(root: Element) -> set[str]:
    """The ids of the handlers SpiffWorkflow must know as specs (``is_waiting_handler``), and of the
    compensation event subprocesses (moved beside their subprocess by ``without_compensation``)."""
    if not has_compensation(root):
        return set()
    found = {e.get("id") or "" for e in iter_bpmn(root) if _is_handler(e) and is_waiting_handler(e)}
    return found | {e.get("id") or "" for e in _event_handlers(root)}


def _is_event_subprocess(element: Element | None) -> bool:
    return (
        element is not None
        and local_name(element) == "subProcess"
        and element.get("triggeredByEvent") == "true"
    )


def handles_subprocess(start: Element) -> bool:
    """Whether ``start`` starts a compensation event subprocess inside an embedded subprocess: the
    compensation handler of that subprocess (the only place Camunda 7 allows one)."""
    event_subprocess = start.getparent()
    scope = event_subprocess.getparent() if event_subprocess is not None else None
    return (
        _is_compensation(start)
        and _is_event_subprocess(event_subprocess)
        and scope is not None
        and local_name(scope) == "subProcess"
    )


def _event_handlers(root: Element) -> list[Element]:
    """The compensation event subprocesses inside embedded subprocesses."""
    starts = [start for start in iter_bpmn(root, "startEvent") if handles_subprocess(start)]
    return [parent for start in starts if (parent := start.getparent()) is not None]


def _compensation_subprocesses(by_id: dict[str | None, Element]) -> set[str]:
    return {
        e.get("id") or ""
        for e in by_id.values()
        if _is_event_subprocess(e) and any(_is_compensation(s) for s in e.iterfind(q("startEvent")))
    }


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

    def handled(element: Element, activity: str) -> bool:
        if activity not in model.handlers:
            return False
        problem(
            element,
            f"`{activity}` has both a compensation boundary event and a compensation event "
            "subprocess; keep one of the two",
        )
        return True

    for element in iter_bpmn(process, "boundaryEvent", "startEvent", "intermediateThrowEvent", "endEvent"):
        if not _is_compensation(element):
            continue
        element_id = element.get("id") or ""
        kind = local_name(element)
        if kind == "startEvent":
            event_subprocess = element.getparent()
            scope = event_subprocess.getparent() if event_subprocess is not None else None
            if scope is None or event_subprocess is None or not handles_subprocess(element):
                problem(
                    element,
                    "a compensation event subprocess must be inside an embedded subprocess, which it "
                    "compensates; at process level attach a compensation boundary event to each "
                    "activity to undo, with an association to its handler",
                )
                continue
            activity = scope.get("id") or ""
            if handled(element, activity):
                continue
            # It runs as a subprocess beside `activity`, in its scope (without_compensation moves it).
            model.handlers[activity] = event_subprocess.get("id") or ""
            model.scopes[activity] = _containers(scope)
            model.waiting[activity] = (_containers(scope) or [""])[0]
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
                    f"a compensation handler must be a service, script, send or user task, not a "
                    f"{local_name(handler)}; put what it does in one such task",
                )
                continue
            if handled(element, activity):
                continue
            if is_waiting_handler(handler):
                model.waiting[activity] = (_containers(handler) or [""])[0]
            model.handlers[activity] = handler.get("id") or ""
            model.scopes[activity] = _containers(element)
            if local_name(handler) == "scriptTask":
                script = handler.find(q("script"))
                model.scripts[handler.get("id") or ""] = (script.text if script is not None else "") or ""
        else:
            definition = element.find(q("compensateEventDefinition"))
            ref = definition.get("activityRef") if definition is not None else None
            model.throws[element_id] = ref or None
            # A throw in a compensation event subprocess compensates the subprocess it handles.
            model.scopes[element_id] = [
                c for c in _containers(element) if c not in _compensation_subprocesses(by_id)
            ]
    for throw_id, ref in model.throws.items():
        if ref is not None and ref not in model.handlers:
            problem(
                by_id[throw_id],
                f"activityRef `{ref}` names no activity with a compensation boundary event; "
                "attach one to it, or remove activityRef to compensate every completed activity",
            )
        scope = (_containers(by_id[throw_id]) or [""])[0]  # where its handler tasks are started
        for activity in sorted(model.compensable(throw_id)):
            if activity in model.waiting and model.waiting[activity] != scope:
                problem(
                    by_id[model.handlers[activity]],
                    f"the user task or external task handler of `{activity}` runs as a task beside the "
                    f"throw event `{throw_id}`, which is in another scope; throw the compensation "
                    "event in the scope of the handler, or make the handler a service or script task",
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
    # Handlers to wait for stay: SpiffWorkflow runs them as tasks (see waiting_handlers).
    handlers = {e.get("id") for e in iter_bpmn(clone) if _is_handler(e) and not is_waiting_handler(e)}
    gone = boundaries | handlers
    for element in list(iter_bpmn(clone)):
        is_link = local_name(element) == "association" and (
            element.get("sourceRef") in gone or element.get("targetRef") in gone
        )
        if (element.get("id") in gone and local_name(element) != "process") or is_link:
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
    for event_subprocess in _event_handlers(clone):
        _move_out(event_subprocess)
    return clone


def _move_out(event_subprocess: Element) -> None:
    """Make a compensation event subprocess a plain, unconnected subprocess beside the subprocess it
    compensates: SpiffWorkflow would start it with its scope, and it runs after that scope ended."""
    scope = event_subprocess.getparent()
    outer = scope.getparent() if scope is not None else None
    if scope is None or outer is None:
        return
    scope.remove(event_subprocess)
    del event_subprocess.attrib["triggeredByEvent"]
    for start in event_subprocess.iterfind(q("startEvent")):
        for definition in start.findall(q("compensateEventDefinition")):
            start.remove(definition)
    outer.append(event_subprocess)
