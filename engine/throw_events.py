"""Signal and message throw events, read from the XML at deploy time.

An intermediate throw or end event with a ``signalEventDefinition`` broadcasts its signal; one with
a ``messageEventDefinition`` either names an implementation and is then a service task
(``engine.bindings``: ``camunda:class``, ``delegateExpression``, ``expression``,
``type="external" topic``; Camunda 8's ``zeebe:taskDefinition``), or has none and Flowdesk
correlates the message to a waiting instance or a message start event (``engine.throws``).

The variables a thrown event carries:

- Camunda 7: ``camunda:in`` in the event definition's extension elements, as Camunda passes
  variables with a signal (``source``/``sourceExpression`` to ``target``, ``variables="all"``);
  Flowdesk reads them the same way for a correlated message.
- Camunda 8: ``zeebe:input`` mappings of the event (FEEL).
- spiffworkflow: the event's payload expression (evaluated when thrown).
- plain BPMN: none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine import zeebe
from engine.bindings import ServiceTaskModel, message_implementation, send_implementation, service_task_model
from engine.bpmn_xml import CAMUNDA_NS, NSMAP, Element, q
from engine.dialect import ZEEBE_NS, Dialect
from engine.problems import Problem
from engine.references import EL, FEEL, value_problems

SIGNAL, MESSAGE = "signal", "message"


@dataclass
class ThrowEventModel:
    """What one signal or (unbound) message throw event sends."""

    activity_id: str
    kind: str  # SIGNAL or MESSAGE
    name: str
    variables: list[tuple[str, str]] = field(default_factory=list)  # (target, value or expression)
    all_variables: bool = False  # camunda:in variables="all"
    language: str = EL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThrowEventModel:
        data = dict(data)
        data["variables"] = [tuple(v) for v in data.get("variables", [])]
        return cls(**data)


def _name(root: Element, ref: str | None, kind: str) -> str | None:
    if not ref:
        return None
    found = root.xpath(f"//bpmn:{kind}[@id=$id]", namespaces=NSMAP, id=ref)
    return str(found[0].get("name") or ref) if found else None


def camunda_in(
    definition: Element, element_id: str, filename: str, problems: list[Problem]
) -> tuple[list[tuple[str, str]], bool]:
    found: list[tuple[str, str]] = []
    every = False
    for mapping in definition.iterfind(f"{q('extensionElements')}/{q('in', CAMUNDA_NS)}"):
        if (mapping.get("variables") or "").strip() == "all":
            every = True
            continue
        source, expression = mapping.get("source"), mapping.get("sourceExpression")
        target = (mapping.get("target") or source or "").strip()
        if not target.isidentifier() or not (source or expression):
            problems.append(
                Problem(
                    filename,
                    'camunda:in needs source="variable" (or sourceExpression="${...}") and a target '
                    'variable name, or variables="all"',
                    mapping.sourceline,
                    element_id,
                )
            )
            continue
        value = expression if expression else "${" + (source or "").strip() + "}"
        messages = value_problems(value)
        problems += [
            Problem(filename, f"camunda:in `{target}`: {m}", mapping.sourceline, element_id) for m in messages
        ]
        if not messages:
            found.append((target, value))
    return found, every


def _zeebe_inputs(element: Element, filename: str, problems: list[Problem]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for mapping in element.iterfind(
        f"{q('extensionElements')}/{q('ioMapping', ZEEBE_NS)}/{q('input', ZEEBE_NS)}"
    ):
        target, source = mapping.get("target") or "", mapping.get("source") or ""
        messages = (
            value_problems(source, FEEL) if target.isidentifier() else ["target must be a variable name"]
        )
        problems += [
            Problem(filename, f"zeebe:input `{target}`: {m}", mapping.sourceline, element.get("id"))
            for m in messages
        ]
        if not messages:
            found.append((target, source))
    return found


def unbound_send(element: Element, dialect: Dialect) -> ThrowEventModel | None:
    """A send task without implementation but with a messageRef: a message Flowdesk correlates."""
    if dialect is Dialect.SPIFF or element.get("messageRef") is None:
        return None
    if dialect is Dialect.ZEEBE and zeebe.has_task_definition(element):
        return None
    if dialect is not Dialect.ZEEBE and send_implementation(element):
        return None
    name = _name(element.getroottree().getroot(), element.get("messageRef"), MESSAGE)
    if name is None:
        return None  # reported by the linter's reference check
    return ThrowEventModel(element.get("id") or "", MESSAGE, name)


def extract(
    element: Element, dialect: Dialect, filename: str, problems: list[Problem]
) -> ThrowEventModel | ServiceTaskModel | None:
    """The model of an intermediate throw or end event; None when it throws no signal or message."""
    element_id = element.get("id") or ""
    signal = element.find(q("signalEventDefinition"))
    message = element.find(q("messageEventDefinition"))
    definition = signal if signal is not None else message
    if definition is None:
        return None
    kind = SIGNAL if signal is not None else MESSAGE
    if kind == MESSAGE:
        if dialect is Dialect.ZEEBE and zeebe.has_task_definition(element):
            return zeebe.service_task(element, filename, problems)
        implementation = message_implementation(element) if dialect is Dialect.CAMUNDA7 else None
        if implementation is not None:
            return service_task_model(element, filename, problems, implementation)
    ref_attr = "signalRef" if kind == SIGNAL else "messageRef"
    name = _name(element.getroottree().getroot(), definition.get(ref_attr), kind)
    if name is None:
        if not definition.get(ref_attr):
            what = (
                "add a signalRef naming a bpmn:signal"
                if kind == SIGNAL
                else "add a messageRef naming a bpmn:message (Flowdesk then correlates it), or an "
                'implementation (camunda:class, camunda:delegateExpression, camunda:type="external")'
            )
            problems.append(
                Problem(
                    filename,
                    f"the {kind} throw event names no {kind}; {what}",
                    element.sourceline,
                    element_id,
                )
            )
        return None  # an unresolved ref is reported by the linter's reference check
    model = ThrowEventModel(element_id, kind, name)
    if dialect is Dialect.CAMUNDA7:
        model.variables, model.all_variables = camunda_in(definition, element_id, filename, problems)
    elif dialect is Dialect.ZEEBE:
        model.variables, model.language = _zeebe_inputs(element, filename, problems), FEEL
    return model
