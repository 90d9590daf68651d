"""Checks SpiffWorkflow does not make, or makes with messages nobody can act on.

Each check returns problems with the file, line and element id, and says what to change.
Scripts and expressions are compiled in the sandbox here, so a forbidden script is refused at
deploy time and never reaches a running instance.
"""

from __future__ import annotations

from engine import expressions
from engine.bpmn_xml import Element, is_bpmn, iter_bpmn, local_name, processes, q, text_of
from engine.compensation import handles_subprocess
from engine.exceptions import ScriptError
from engine.problems import Problem
from engine.sandbox import Sandbox
from engine.timer_lint import check_timers

_FLOW_CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")

# Elements whose behaviour is not implemented yet. Refusing them at deploy time is better than
# an instance that silently waits forever.
UNSUPPORTED = {
    "complexGateway": "complex gateways are not supported",
    "dataStore": "data stores are not supported",
}
UNSUPPORTED_EVENTS = {
    "conditionalEventDefinition": "conditional events are not supported",
    "linkEventDefinition": "link events are not supported yet",
}
# Compensation runs (engine.compensation); an event subprocess it starts must be in a subprocess.
_COMPENSATION_START = (
    "a compensation event subprocess must be inside an embedded subprocess, which it compensates; "
    "at process level attach a compensation boundary event to each activity to undo, with an "
    'association to its handler (isForCompensation="true")'
)
# Error and escalation start events exist only in event subprocesses (engine.spiff.event_scopes);
# an error start always interrupts its scope.
_CODE_STARTS = ("errorEventDefinition", "escalationEventDefinition")
_CODE_START = (
    'only the start event of an event subprocess (triggeredByEvent="true") can be started by an '
    "{what}; catch it there, or with a boundary event"
)
_ERROR_START_NON_INTERRUPTING = (
    'an error start event always interrupts its scope; remove isInterrupting="false" (to go on '
    "beside the scope, throw an escalation and catch it with a non-interrupting escalation start)"
)
# SpiffWorkflow reads no error definition on an intermediate throw event (BPMN allows none there),
# so the event would pass without throwing anything.
_ERROR_THROW = "an intermediate throw event cannot throw an error (BPMN); use an error end event"
# SpiffWorkflow names its own start and end steps of every process (and subprocess) like this: a
# BPMN element with one of these ids replaces them in the parsed spec, and the instance fails to
# start with "No output task connected".
RESERVED_IDS = ("Start", "End", "Root")
_REFS = {"messageRef": "message", "errorRef": "error", "signalRef": "signal", "escalationRef": "escalation"}


def _suggested_id(element: Element) -> str:
    kind = local_name(element)
    return f"{kind[0].upper()}{kind[1:]}_1"


def _code_start_problem(kind: str, owner: Element | None) -> str | None:
    """What is wrong with an error or escalation definition ``kind`` on ``owner``, if anything."""
    if owner is None:
        return None
    if local_name(owner) == "intermediateThrowEvent" and kind == "errorEventDefinition":
        return _ERROR_THROW
    if local_name(owner) != "startEvent":
        return None
    container = owner.getparent()
    if container is None or str(container.get("triggeredByEvent", "")).lower() != "true":
        return _CODE_START.format(what=kind.removesuffix("EventDefinition"))
    if kind == "errorEventDefinition" and str(owner.get("isInterrupting", "true")).lower() == "false":
        return _ERROR_START_NON_INTERRUPTING
    return None


class Linter:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def check(self, root: Element, filename: str) -> list[Problem]:
        problems: list[Problem] = []
        executable = [p for p in processes(root) if p.get("isExecutable", "true").lower() != "false"]
        if not processes(root):
            problems.append(
                Problem(filename, "the file has no bpmn:process; draw a process, not only a collaboration")
            )
        elif not executable:
            problems.append(
                Problem(
                    filename,
                    'no process is executable: set isExecutable="true" on the process '
                    "(Camunda Modeler: 'Executable' checkbox in the process properties)",
                    processes(root)[0].sourceline,
                    processes(root)[0].get("id"),
                )
            )
        for process in executable:
            self._check_unsupported(process, filename, problems)
            for container in [process, *iter_bpmn(process, *_FLOW_CONTAINERS[1:])]:
                self._check_flows(container, filename, problems)
            self._check_start(process, filename, problems)
            self._check_scripts(process, filename, problems)
            self._check_reserved_ids(process, filename, problems)
            check_timers(
                process,
                filename,
                problems,
                lambda source, owner, line: self._compile(source, "eval", filename, owner, line, problems),
            )
        self._check_refs(root, filename, problems)
        return problems

    def _check_reserved_ids(self, process: Element, filename: str, problems: list[Problem]) -> None:
        for element in iter_bpmn(process):
            element_id = element.get("id")
            if element_id in RESERVED_IDS:
                problems.append(
                    Problem(
                        filename,
                        f"the id `{element_id}` is reserved by the engine for its own {element_id.lower()} "
                        f"step; rename the {local_name(element)} (e.g. `{_suggested_id(element)}`)",
                        element.sourceline,
                        element_id,
                    )
                )

    def _check_unsupported(self, process: Element, filename: str, problems: list[Problem]) -> None:
        for element in iter_bpmn(process):
            kind = local_name(element)
            is_definition = kind in UNSUPPORTED_EVENTS or kind == "compensateEventDefinition"
            owner = element.getparent() if is_definition else element
            reason = UNSUPPORTED.get(kind) or UNSUPPORTED_EVENTS.get(kind)
            starts = owner is not None and local_name(owner) == "startEvent"
            if kind == "compensateEventDefinition" and starts and not handles_subprocess(owner):
                reason = _COMPENSATION_START
            if kind in _CODE_STARTS:
                owner = element.getparent()
                reason = _code_start_problem(kind, owner) or reason
            if reason and owner is not None:
                problems.append(Problem(filename, f"{kind}: {reason}", element.sourceline, owner.get("id")))

    def _check_flows(self, container: Element, filename: str, problems: list[Problem]) -> None:
        nodes = {
            child.get("id"): child
            for child in container
            if is_bpmn(child) and local_name(child) not in ("sequenceFlow", "laneSet", "extensionElements")
        }
        outgoing: dict[str, list[Element]] = {}
        for flow in container.iterfind(q("sequenceFlow")):
            flow_id = flow.get("id")
            for attr in ("sourceRef", "targetRef"):
                ref = flow.get(attr)
                if not ref or ref not in nodes:
                    problems.append(
                        Problem(
                            filename,
                            f"sequence flow {attr} points at `{ref}`, which is not an element of this "
                            f"{local_name(container)}; reconnect the flow in the modeler",
                            flow.sourceline,
                            flow_id,
                        )
                    )
            outgoing.setdefault(flow.get("sourceRef") or "", []).append(flow)
        for node_id, node in nodes.items():
            if node_id is None or local_name(node) not in ("exclusiveGateway", "inclusiveGateway"):
                continue
            flows = outgoing.get(node_id, [])
            default = node.get("default")
            if default and default not in {f.get("id") for f in flows}:
                problems.append(
                    Problem(
                        filename,
                        f"default flow `{default}` is not an outgoing flow of this gateway",
                        node.sourceline,
                        node_id,
                    )
                )
            if len(flows) < 2:
                continue
            kind = "exclusive" if local_name(node) == "exclusiveGateway" else "inclusive"
            for flow in flows:
                if flow.get("id") != default and text_of(flow.find(q("conditionExpression"))) is None:
                    problems.append(
                        Problem(
                            filename,
                            f"{kind} gateway has an outgoing flow (`{flow.get('id')}`) without a condition "
                            "and no default flow; add a condition or mark it as the default flow",
                            node.sourceline,
                            node_id,
                        )
                    )

    def _check_start(self, process: Element, filename: str, problems: list[Problem]) -> None:
        if process.find(q("startEvent")) is None:
            problems.append(
                Problem(
                    filename, "the process has no start event; add one", process.sourceline, process.get("id")
                )
            )

    def _check_scripts(self, process: Element, filename: str, problems: list[Problem]) -> None:
        for task in iter_bpmn(process, "scriptTask"):
            script_format = (task.get("scriptFormat") or "python").strip().lower()
            script_el = task.find(q("script"))
            if script_format not in ("python", "python3", "py"):
                problems.append(
                    Problem(
                        filename,
                        f"script format `{script_format}` is not supported; Flowdesk runs Python scripts",
                        task.sourceline,
                        task.get("id"),
                    )
                )
                continue
            script = script_el.text if script_el is not None else None
            if not script or not script.strip():
                problems.append(
                    Problem(filename, "script task has no script", task.sourceline, task.get("id"))
                )
                continue
            first_line = script_el.sourceline if script_el is not None else task.sourceline
            self._compile(script, "exec", filename, task, first_line, problems)
        for condition in iter_bpmn(process, *expressions.EXPRESSION_ELEMENTS):
            source = text_of(condition)
            owner = condition.getparent()
            if source is None or owner is None:
                continue
            if expressions.is_el_text(source):
                is_condition = local_name(condition) in expressions.CONDITION_ELEMENTS
                message = expressions.check(source, is_condition, self.sandbox)
                if message:
                    problems.append(Problem(filename, message, condition.sourceline, owner.get("id")))
                continue
            self._compile(source, "eval", filename, owner, condition.sourceline, problems)

    def _compile(
        self,
        source: str,
        mode: str,
        filename: str,
        owner: Element,
        first_line: int | None,
        problems: list[Problem],
    ) -> None:
        try:
            self.sandbox.check(source, mode)  # type: ignore[arg-type]
        except ScriptError as err:
            relative = err.context.get("line")
            line = first_line
            if isinstance(relative, int) and first_line is not None:
                line = first_line + relative - 1
            problems.append(Problem(filename, err.message, line, owner.get("id")))

    def _check_refs(self, root: Element, filename: str, problems: list[Problem]) -> None:
        declared = {kind: {el.get("id") for el in root.iterfind(q(kind))} for kind in set(_REFS.values())}
        for element in iter_bpmn(root):
            for attr, kind in _REFS.items():
                ref = element.get(attr)
                if ref and ref not in declared[kind]:
                    owner = (
                        element.getparent() if local_name(element).endswith("EventDefinition") else element
                    )
                    problems.append(
                        Problem(
                            filename,
                            f"{attr} points at `{ref}`, but the file declares no bpmn:{kind} with that id",
                            element.sourceline,
                            owner.get("id") if owner is not None else None,
                        )
                    )
