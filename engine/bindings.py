"""How service tasks name the code that does their work, read from the BPMN XML.

Camunda 7: ``camunda:type="external" camunda:topic="X"`` (an external task for remote workers),
``camunda:delegateExpression="${X}"`` and ``camunda:class="a.b.C"`` (in-process handlers named X
and a.b.C), with ``camunda:inputOutput`` mappings, ``camunda:asyncBefore`` and
``camunda:failedJobRetryTimeCycle``; ``camunda:expression="${EL}"`` with ``camunda:resultVariable``
(the task evaluates the expression and stores its value). spiffworkflow:
``spiffworkflow:serviceTaskOperator id="X"`` with its parameters.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.bpmn_xml import CAMUNDA_NS, Element, camunda_attr, local_name, q, text_of
from engine.problems import Problem
from engine.references import value_problems

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
SERVICE_KINDS = frozenset({"serviceTask", "sendTask", "businessRuleTask"})
HANDLER = "handler"
EXTERNAL = "external"
EXPRESSION = "expression"  # camunda:expression: the task evaluates EL, optionally into a result variable
DEFAULT_RETRIES = 3
DEFAULT_RETRY_INTERVAL_SECONDS = 10

# Camunda 7 names a message throw event's implementation on its messageEventDefinition.
IMPLEMENTATION_ATTRIBUTES = ("type", "delegateExpression", "class", "expression")
THROW_EVENT_KINDS = frozenset({"intermediateThrowEvent", "endEvent"})

_REFERENCE = re.compile(r"^\$\{\s*([A-Za-z_][\w.]*)\s*\}$")
_CYCLE = re.compile(r"^R(\d+)/(P.+)$")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


@dataclass
class ServiceTaskModel:
    """How one service (or send / business rule) task is bound to the code that does its work."""

    activity_id: str
    kind: str  # HANDLER, EXTERNAL or EXPRESSION
    name: str  # handler name, external task topic, or "camunda:expression"
    inputs: list[tuple[str, Any]] = field(default_factory=list)  # (variable, text | list | dict)
    outputs: list[tuple[str, Any]] = field(default_factory=list)
    spiff_params: dict[str, str] = field(default_factory=dict)  # parameter name -> Python expression
    async_before: bool = False
    # True when the file says camunda:asyncBefore itself; a deployment's default decides otherwise.
    async_explicit: bool = False
    retries: int = DEFAULT_RETRIES
    retry_interval_seconds: int = DEFAULT_RETRY_INTERVAL_SECONDS
    explicit_retry_cycle: bool = False
    priority: int = 0
    expression: str | None = None  # EXPRESSION: the EL text
    result_variable: str | None = None  # camunda:resultVariable: where its value goes
    language: str = "el"  # of the mappings: "el" (Camunda 7) or "feel" (Camunda 8)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServiceTaskModel:
        data = dict(data)
        data["inputs"] = [tuple(i) for i in data.get("inputs", [])]
        data["outputs"] = [tuple(o) for o in data.get("outputs", [])]
        return cls(**data)


def duration_seconds(text: str) -> int | None:
    """Seconds of an ISO-8601 duration of days, hours, minutes and seconds (``PT1M``, ``P1DT2H``)."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _parameter_value(parameter: Element) -> Any:
    children = [c for c in parameter if isinstance(c.tag, str)]
    if not children:
        return parameter.text or ""
    child = children[0]
    kind = local_name(child)
    if kind == "list":
        return [_parameter_value(v) for v in child if isinstance(v.tag, str)]
    if kind == "map":
        return {
            entry.get("key") or "": _parameter_value(entry) for entry in child if isinstance(entry.tag, str)
        }
    raise ValueError(f"camunda:{kind} parameters are not supported; use text, ${{variable}}, list or map")


def _mappings(element: Element, which: str, problems: list[Problem], filename: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    path = f"{q('extensionElements')}/{q('inputOutput', CAMUNDA_NS)}/{q(which, CAMUNDA_NS)}"
    for parameter in element.iterfind(path):
        name = parameter.get("name") or ""
        if not name.isidentifier():
            problems.append(
                Problem(
                    filename,
                    f"{which} name {name!r} is not a valid variable name",
                    parameter.sourceline,
                    element.get("id"),
                )
            )
            continue
        try:
            value = _parameter_value(parameter)
        except ValueError as err:
            problems.append(
                Problem(filename, f"{which} `{name}`: {err}", parameter.sourceline, element.get("id"))
            )
            continue
        messages = value_problems(value)
        problems += [
            Problem(filename, f"{which} `{name}`: {message}", parameter.sourceline, element.get("id"))
            for message in messages
        ]
        if not messages:
            found.append((name, value))
    return found


def _retry_cycle(element: Element, problems: list[Problem], filename: str) -> tuple[int, int] | None:
    node = element.find(f"{q('extensionElements')}/{q('failedJobRetryTimeCycle', CAMUNDA_NS)}")
    text = text_of(node)
    if text is None:
        return None
    match = _CYCLE.match(text)
    interval = duration_seconds(match.group(2)) if match else None
    if match is None or interval is None:
        problems.append(
            Problem(
                filename,
                f"camunda:failedJobRetryTimeCycle `{text}` is not understood; "
                "write it as R<retries>/<duration>, e.g. R5/PT1M",
                node.sourceline,
                element.get("id"),
            )
        )
        return DEFAULT_RETRIES, DEFAULT_RETRY_INTERVAL_SECONDS
    return int(match.group(1)), interval


def _binding(element: Element) -> tuple[str, str] | str:
    """(kind, name) of the task's binding, or a message saying what is wrong."""
    camunda_type = camunda_attr(element, "type")
    delegate = camunda_attr(element, "delegateExpression")
    operator = element.find(f"{q('extensionElements')}/{{{SPIFF_NS}}}serviceTaskOperator")
    if camunda_type == "external":
        topic = camunda_attr(element, "topic")
        return (EXTERNAL, topic) if topic else 'camunda:type="external" needs a camunda:topic'
    if camunda_type:
        return (
            f'camunda:type="{camunda_type}" (connectors) is not supported; '
            "use external, a delegate expression or a class"
        )
    if delegate:
        match = _REFERENCE.match(delegate)
        if not match:
            return f"camunda:delegateExpression `{delegate}` must name a handler as ${{handler.name}}"
        return HANDLER, match.group(1)
    if camunda_attr(element, "class"):
        return HANDLER, camunda_attr(element, "class") or ""
    if camunda_attr(element, "expression"):
        return EXPRESSION, "camunda:expression"
    if operator is not None and operator.get("id"):
        return HANDLER, operator.get("id") or ""
    if camunda_attr(element, "decisionRef"):
        return "business rule tasks with DMN decisions (camunda:decisionRef) are not supported yet"
    send = " (or, for a send task, a messageRef: Flowdesk then correlates the message)"
    return (
        'the task has no implementation: set camunda:type="external" with a camunda:topic, '
        'camunda:delegateExpression="${handlerName}", or camunda:class'
        + (send if local_name(element) == "sendTask" else "")
    )


def message_implementation(element: Element) -> Element | None:
    """The element naming a message throw event's implementation (Camunda 7), or None.

    Camunda Modeler writes ``camunda:class`` and the like on the ``bpmn:messageEventDefinition``;
    they are accepted on the event itself too.
    """
    definition = element.find(q("messageEventDefinition"))
    if definition is None or local_name(element) not in THROW_EVENT_KINDS:
        return None
    for candidate in (definition, element):
        if any(camunda_attr(candidate, name) for name in IMPLEMENTATION_ATTRIBUTES):
            return candidate
    return None


def send_implementation(element: Element) -> bool:
    """Whether a send task names its implementation (else, with a messageRef, Flowdesk correlates)."""
    operator = element.find(f"{q('extensionElements')}/{{{SPIFF_NS}}}serviceTaskOperator")
    return operator is not None or any(camunda_attr(element, name) for name in IMPLEMENTATION_ATTRIBUTES)


def service_task_model(
    element: Element, filename: str, problems: list[Problem], implementation: Element | None = None
) -> ServiceTaskModel | None:
    """The binding of one service/send/business rule task; problems are appended, None returned.

    ``implementation`` is where the binding attributes are, when not on ``element`` itself (the
    message event definition of a throw event); mappings and retries are always on ``element``.
    """
    element_id = element.get("id") or ""
    impl = element if implementation is None else implementation
    binding = _binding(impl)
    if isinstance(binding, str):
        problems.append(
            Problem(filename, f"{local_name(element)}: {binding}", element.sourceline, element_id)
        )
        return None
    kind, name = binding
    expression = camunda_attr(impl, "expression") if kind == EXPRESSION else None
    result_variable = camunda_attr(impl, "resultVariable")
    if expression is not None:
        for message in value_problems(expression):
            problems.append(
                Problem(filename, f"camunda:expression: {message}", element.sourceline, element_id)
            )
    if result_variable is not None and (kind != EXPRESSION or not result_variable.isidentifier()):
        why = (
            "is not a valid variable name"
            if kind == EXPRESSION
            else "only applies to camunda:expression (a handler returns its variables itself)"
        )
        problems.append(
            Problem(
                filename, f"camunda:resultVariable `{result_variable}` {why}", element.sourceline, element_id
            )
        )
    cycle = _retry_cycle(element, problems, filename)
    retries, interval = cycle or (DEFAULT_RETRIES, DEFAULT_RETRY_INTERVAL_SECONDS)
    params: dict[str, str] = {}
    operator = element.find(f"{q('extensionElements')}/{{{SPIFF_NS}}}serviceTaskOperator")
    if operator is not None:
        for param in operator.iter(f"{{{SPIFF_NS}}}parameter"):
            if param.get("id"):
                params[param.get("id") or ""] = param.get("value") or "None"
    priority_text = (
        camunda_attr(impl, "taskPriority")
        or camunda_attr(element, "taskPriority")
        or camunda_attr(element, "jobPriority")
        or "0"
    )
    try:
        priority = int(priority_text)
    except ValueError:
        problems.append(
            Problem(
                filename,
                f"priority `{priority_text}` is not a whole number"
                + ("; job priorities cannot be expressions yet" if "${" in priority_text else ""),
                element.sourceline,
                element_id,
            )
        )
        priority = 0
    return ServiceTaskModel(
        activity_id=element_id,
        kind=kind,
        name=name,
        inputs=_mappings(element, "inputParameter", problems, filename),
        outputs=_mappings(element, "outputParameter", problems, filename),
        spiff_params=params,
        async_before=(camunda_attr(element, "asyncBefore") or "false").lower() == "true",
        async_explicit=camunda_attr(element, "asyncBefore") is not None,
        retries=retries,
        retry_interval_seconds=interval,
        explicit_retry_cycle=cycle is not None,
        priority=priority,
        expression=expression,
        result_variable=result_variable,
    )
