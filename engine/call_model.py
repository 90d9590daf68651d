"""What a call activity calls and which variables go in and out, read from the BPMN XML at deploy time.

Camunda 7: ``calledElement`` (a process key, or ``${...}``), ``camunda:calledElementBinding``
(``latest`` by default, ``deployment``, ``version`` with ``camunda:calledElementVersion``,
``versionTag`` with ``camunda:calledElementVersionTag``), ``camunda:in`` / ``camunda:out`` with
``source``/``target``, ``sourceExpression``/``target`` or ``variables="all"``, and
``camunda:in businessKey="#{execution.processBusinessKey}"``. Without any mapping nothing is passed,
as in Camunda 7.

Camunda 8: ``zeebe:calledElement processId`` (text or FEEL) with ``propagateAllParentVariables`` and
``propagateAllChildVariables`` (both true by default), ``bindingType`` / ``versionTag``, and
``zeebe:ioMapping`` inputs and outputs; output mappings, when there are any, are all that comes back.

spiffworkflow and plain BPMN files: ``calledElement`` is the process id; every variable goes in and
comes back, which is SpiffWorkflow's own call activity semantic.

A multi-instance marker needs nothing here: each instance of the loop (engine.spiff.multi_instance)
is a call activity task with its own element variable, which the mappings read like any variable.
Only Camunda 7 files may have one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.bpmn_xml import CAMUNDA_NS, Element, camunda_attr, q
from engine.dialect import ZEEBE_NS, Dialect
from engine.feel import is_feel
from engine.problems import Problem
from engine.references import EL, FEEL, value_problems

PYTHON = "python"  # spiffworkflow and plain files: no expressions in mappings
BINDINGS = ("latest", "deployment", "version", "versionTag")
# Camunda's execution.processBusinessKey (and its older spellings) read the calling instance's
# business key; the EL translator only knows execution.getVariable, so it becomes a variable.
BUSINESS_KEY_VARIABLE = "flowdeskProcessBusinessKey"
_BUSINESS_KEY = re.compile(
    r"\bexecution\s*\.\s*(?:processBusinessKey|businessKey|getProcessBusinessKey\s*\(\s*\)"
    r"|getBusinessKey\s*\(\s*\))"
)


@dataclass(frozen=True)
class VariableMapping:
    """One in or out mapping: ``source`` (a variable) or ``expression``, into ``target``."""

    target: str
    source: str | None = None
    expression: str | None = None

    @classmethod
    def from_list(cls, data: list[Any]) -> VariableMapping:
        return cls(*data)


@dataclass
class CallActivityModel:
    activity_id: str
    called_element: str  # a process key, or an expression (EL ``${...}``, FEEL ``=...``)
    binding: str = "latest"
    version: str | None = None  # binding "version": a number, or EL giving one
    version_tag: str | None = None  # binding "versionTag"
    inputs: list[VariableMapping] = field(default_factory=list)
    outputs: list[VariableMapping] = field(default_factory=list)
    all_in: bool = False
    all_out: bool = False
    business_key: str | None = None  # an expression giving the child's business key
    language: str = EL

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [[m.target, m.source, m.expression] for m in self.inputs]
        data["outputs"] = [[m.target, m.source, m.expression] for m in self.outputs]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallActivityModel:
        data = dict(data)
        data["inputs"] = [VariableMapping.from_list(m) for m in data.get("inputs", [])]
        data["outputs"] = [VariableMapping.from_list(m) for m in data.get("outputs", [])]
        return cls(**data)


class _Reader:
    def __init__(self, element: Element, filename: str, problems: list[Problem]) -> None:
        self.element = element
        self.filename = filename
        self.problems = problems
        self.activity_id = element.get("id") or ""

    def problem(self, node: Element, message: str) -> None:
        self.problems.append(Problem(self.filename, message, node.sourceline, self.activity_id))

    def checked(self, node: Element, what: str, text: str | None, language: str) -> str | None:
        if text is None:
            return None
        if language == EL:
            text = _BUSINESS_KEY.sub(BUSINESS_KEY_VARIABLE, text)
        for message in value_problems(text, language):
            self.problem(node, f"{what}: {message}")
        return text


def call_activity_model(
    element: Element, dialect: Dialect, filename: str, problems: list[Problem]
) -> CallActivityModel | None:
    """The model of one ``bpmn:callActivity``; problems appended (and None) when it cannot run."""
    reader = _Reader(element, filename, problems)
    before = len(problems)
    loop = element.find(q("multiInstanceLoopCharacteristics"))
    if loop is not None and dialect is not Dialect.CAMUNDA7:
        reader.problem(loop, _MULTI_INSTANCE_ELSEWHERE[dialect])
    if dialect is Dialect.ZEEBE:
        model = _zeebe(reader)
    elif dialect is Dialect.CAMUNDA7:
        model = _camunda(reader)
    else:
        model = _plain(reader)
    return model if len(problems) == before else None


# Multi-instance call activities run as Camunda 7 reads loops (engine.spiff.multi_instance): one
# child per item, the element variable local to its instance. The other dialects' loops would need
# their own item and output handling; Camunda 8 loops are not read for any activity yet.
_MULTI_INSTANCE_ELSEWHERE = {
    Dialect.ZEEBE: "multi-instance call activities (zeebe:loopCharacteristics) are not supported in "
    "Camunda 8 files; call the process once per item from a loop of your own, or use a Camunda 7 file "
    "(camunda:collection and camunda:elementVariable)",
    Dialect.SPIFF: "multi-instance call activities run in Camunda 7 files only: give the loop "
    "camunda:collection and camunda:elementVariable (or a loopCardinality) in a Camunda 7 file",
    Dialect.PLAIN: "multi-instance call activities run in Camunda 7 files only: give the loop "
    "camunda:collection and camunda:elementVariable (or a loopCardinality) in a Camunda 7 file",
}


def _plain(reader: _Reader) -> CallActivityModel | None:
    called = (reader.element.get("calledElement") or "").strip()
    if not called:
        reader.problem(reader.element, "the call activity has no calledElement: name the process id to call")
        return None
    return CallActivityModel(reader.activity_id, called, all_in=True, all_out=True, language=PYTHON)


def _camunda(reader: _Reader) -> CallActivityModel | None:
    element = reader.element
    called = (element.get("calledElement") or "").strip()
    if not called:
        reader.problem(
            element,
            "the call activity has no calledElement: name the key of the process to call "
            "(Camunda Modeler: Called element > Type BPMN, Called element)",
        )
        return None
    called = reader.checked(element, "calledElement", called, EL) or called
    binding = camunda_attr(element, "calledElementBinding") or "latest"
    model = CallActivityModel(reader.activity_id, called, binding=binding, language=EL)
    if binding not in BINDINGS:
        reader.problem(
            element, f"camunda:calledElementBinding `{binding}` is not one of {', '.join(BINDINGS)}"
        )
    elif binding == "version":
        version = camunda_attr(element, "calledElementVersion")
        if version is None or not (version.isdigit() or version.startswith(("${", "#{"))):
            reader.problem(
                element,
                'binding "version" needs camunda:calledElementVersion: a version number (e.g. 2) or ${...}',
            )
        model.version = reader.checked(element, "camunda:calledElementVersion", version, EL)
    elif binding == "versionTag":
        model.version_tag = camunda_attr(element, "calledElementVersionTag")
        if model.version_tag is None:
            reader.problem(element, 'binding "versionTag" needs camunda:calledElementVersionTag')
        model.version_tag = reader.checked(element, "camunda:calledElementVersionTag", model.version_tag, EL)
    extensions = element.find(q("extensionElements"))
    for kind in ("in", "out"):
        for node in extensions.iterfind(q(kind, CAMUNDA_NS)) if extensions is not None else []:
            _camunda_mapping(reader, model, kind, node)
    return model


def _camunda_mapping(reader: _Reader, model: CallActivityModel, kind: str, node: Element) -> None:
    business_key = node.get("businessKey")
    if kind == "in" and business_key is not None:
        model.business_key = reader.checked(node, "camunda:in businessKey", business_key.strip(), EL)
        return
    if (node.get("variables") or "").strip() == "all":
        if kind == "in":
            model.all_in = True
        else:
            model.all_out = True
        return
    source, expression = node.get("source"), node.get("sourceExpression")
    target = (node.get("target") or "").strip()
    if (source is None) == (expression is None) or not target:
        reader.problem(
            node,
            f'camunda:{kind} needs source="..." or sourceExpression="${{...}}", and target="..." '
            '(or variables="all")',
        )
        return
    if not target.isidentifier():
        reader.problem(node, f"camunda:{kind} target `{target}` must be a variable name")
        return
    mapping = VariableMapping(
        target,
        source.strip() if source is not None else None,
        reader.checked(node, f"camunda:{kind} sourceExpression", expression, EL),
    )
    (model.inputs if kind == "in" else model.outputs).append(mapping)


def _flag(node: Element, name: str) -> bool:
    return str(node.get(name, "true")).strip().lower() != "false"


def _zeebe(reader: _Reader) -> CallActivityModel | None:
    element = reader.element
    called = element.find(f"{q('extensionElements')}/{q('calledElement', ZEEBE_NS)}")
    process_id = (called.get("processId") or "").strip() if called is not None else ""
    if called is None or not process_id:
        reader.problem(
            element,
            'the call activity has no zeebe:calledElement processId="...": name the process id to call',
        )
        return None
    if is_feel(process_id):
        reader.checked(called, "zeebe:calledElement processId", process_id, FEEL)
    binding = (called.get("bindingType") or "latest").strip()
    model = CallActivityModel(
        reader.activity_id,
        process_id,
        binding=binding,
        version_tag=(called.get("versionTag") or "").strip() or None,
        all_in=_flag(called, "propagateAllParentVariables"),
        all_out=_flag(called, "propagateAllChildVariables"),
        language=FEEL,
    )
    if binding not in ("latest", "deployment", "versionTag"):
        reader.problem(called, f"zeebe:calledElement bindingType `{binding}` is not supported")
    elif binding == "versionTag" and model.version_tag is None:
        reader.problem(called, 'bindingType "versionTag" needs a versionTag')
    for which, into in (("input", model.inputs), ("output", model.outputs)):
        for node in element.iterfind(
            f"{q('extensionElements')}/{q('ioMapping', ZEEBE_NS)}/{q(which, ZEEBE_NS)}"
        ):
            target, source = (node.get("target") or "").strip(), (node.get("source") or "").strip()
            if not target.isidentifier() or not source:
                reader.problem(node, f"zeebe:{which} needs a source and a variable name as target")
                continue
            into.append(VariableMapping(target, None, reader.checked(node, f"zeebe:{which}", source, FEEL)))
    if model.outputs:
        model.all_out = False  # output mappings are what comes back (Camunda 8)
    return model


def version_tag_of(process: Element) -> str | None:
    """``camunda:versionTag`` of a process, or Camunda 8's ``zeebe:versionTag value``."""
    tag = camunda_attr(process, "versionTag")
    if tag is None:
        node = process.find(f"{q('extensionElements')}/{q('versionTag', ZEEBE_NS)}")
        tag = (node.get("value") or "").strip() or None if node is not None else None
    return tag
