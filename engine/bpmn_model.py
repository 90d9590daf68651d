"""What the engine needs to know about a process's elements that SpiffWorkflow does not keep.

Extracted from the XML at deploy time and stored as JSON on the definition: user-task
assignment (assignee, candidates, lanes), due dates, priorities and Camunda generated forms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine import compensation, throw_events, zeebe
from engine.bindings import SERVICE_KINDS, THROW_EVENT_KINDS, ServiceTaskModel, service_task_model
from engine.bpmn_xml import CAMUNDA_NS, Element, camunda_attr, iter_bpmn, local_name, q, text_of
from engine.call_model import CallActivityModel, call_activity_model
from engine.dialect import Dialect
from engine.forms import FormField, field_from_camunda
from engine.problems import Problem
from engine.references import FEEL, split_list, value_problems


@dataclass
class UserTaskModel:
    activity_id: str
    name: str | None
    documentation: str | None = None
    assignee: str | None = None
    candidate_users: list[str] = field(default_factory=list)
    candidate_groups: list[str] = field(default_factory=list)
    due_date: str | None = None
    priority: str | None = None
    form_fields: list[dict[str, Any]] = field(default_factory=list)
    language: str = "el"  # of the attributes: "el" (Camunda 7) or "feel" (Camunda 8)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserTaskModel:
        return cls(**data)

    def forms(self) -> list[FormField]:
        return [FormField.from_dict(f) for f in self.form_fields]


@dataclass
class ProcessModel:
    """Per-process element facts, keyed by BPMN element id."""

    names: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    user_tasks: dict[str, UserTaskModel] = field(default_factory=dict)
    service_tasks: dict[str, ServiceTaskModel] = field(default_factory=dict)
    throw_events: dict[str, throw_events.ThrowEventModel] = field(default_factory=dict)
    compensation: compensation.CompensationModel = field(default_factory=compensation.CompensationModel)
    start_form: list[dict[str, Any]] = field(default_factory=list)
    call_activities: dict[str, CallActivityModel] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "types": self.types,
            "user_tasks": {k: v.to_dict() for k, v in self.user_tasks.items()},
            "service_tasks": {k: v.to_dict() for k, v in self.service_tasks.items()},
            "throw_events": {k: v.to_dict() for k, v in self.throw_events.items()},
            "compensation": self.compensation.to_dict(),
            "call_activities": {k: v.to_dict() for k, v in self.call_activities.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], start_form: list[dict[str, Any]] | None = None) -> ProcessModel:
        return cls(
            names=dict(data.get("names", {})),
            types=dict(data.get("types", {})),
            user_tasks={k: UserTaskModel.from_dict(v) for k, v in data.get("user_tasks", {}).items()},
            service_tasks={
                k: ServiceTaskModel.from_dict(v) for k, v in data.get("service_tasks", {}).items()
            },
            throw_events={
                k: throw_events.ThrowEventModel.from_dict(v) for k, v in data.get("throw_events", {}).items()
            },
            compensation=compensation.CompensationModel.from_dict(data.get("compensation", {})),
            start_form=list(start_form or []),
            call_activities={
                k: CallActivityModel.from_dict(v) for k, v in data.get("call_activities", {}).items()
            },
        )


def _lanes(process: Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in iter_bpmn(process, "lane"):
        name = (lane.get("name") or "").strip()
        if not name:
            continue
        for ref in lane.iterfind(q("flowNodeRef")):
            if ref.text and ref.text.strip():
                lanes[ref.text.strip()] = name
    return lanes


def _form_fields(element: Element, filename: str, problems: list[Problem]) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    for xml_field in element.iterfind(
        f"{q('extensionElements')}/{q('formData', CAMUNDA_NS)}/{q('formField', CAMUNDA_NS)}"
    ):
        field_id = xml_field.get("id") or ""
        validations: list[tuple[str, str | None]] = []
        properties: dict[str, str] = {}
        options: list[tuple[str, str]] = []
        for child in xml_field:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == q("validation", CAMUNDA_NS):
                validations += [(c.get("name") or "", c.get("config")) for c in child]
            elif tag == q("properties", CAMUNDA_NS):
                properties.update({c.get("id") or "": c.get("value") or "" for c in child})
            elif tag == q("value", CAMUNDA_NS):
                options.append((child.get("id") or "", child.get("name") or child.get("id") or ""))
        try:
            form_field = field_from_camunda(
                field_id,
                xml_field.get("label"),
                xml_field.get("type") or "string",
                xml_field.get("defaultValue"),
                validations,
                properties,
                options,
            )
        except ValueError as err:
            problems.append(
                Problem(filename, f"form field `{field_id}`: {err}", xml_field.sourceline, element.get("id"))
            )
            continue
        fields.append(form_field.to_dict())
    return fields


def extract_process_model(
    process: Element, dialect: Dialect, filename: str, problems: list[Problem]
) -> ProcessModel:
    """Collect element facts of one ``bpmn:process``; bad form definitions are added to ``problems``."""
    model = ProcessModel()
    lanes = _lanes(process)
    for element in iter_bpmn(process):
        element_id = element.get("id")
        if not element_id:
            continue
        kind = local_name(element)
        model.types[element_id] = kind
        if element.get("name"):
            model.names[element_id] = element.get("name", "")
        if kind == "startEvent" and element.getparent() is process:
            model.start_form = _form_fields(element, filename, problems)
        if kind in THROW_EVENT_KINDS and element.find(q("compensateEventDefinition")) is not None:
            throw = ServiceTaskModel(element_id, compensation.COMPENSATE, "compensation")
            model.service_tasks[element_id] = throw
            continue
        if kind in THROW_EVENT_KINDS:
            thrown = throw_events.extract(element, dialect, filename, problems)
            if isinstance(thrown, ServiceTaskModel):
                model.service_tasks[element_id] = thrown  # a message throw event bound to code
            elif thrown is not None:
                model.throw_events[element_id] = thrown
            continue
        sends = throw_events.unbound_send(element, dialect) if kind == "sendTask" else None
        if sends is not None:
            if dialect is Dialect.CAMUNDA7:
                found = throw_events.camunda_in(element, element_id, filename, problems)
                sends.variables, sends.all_variables = found
            model.throw_events[element_id] = sends
            continue
        if kind in SERVICE_KINDS:
            if dialect is Dialect.ZEEBE:
                service = zeebe.service_task(element, filename, problems)
            else:
                service = service_task_model(element, filename, problems)
            if service is not None:
                model.service_tasks[element_id] = service
            continue
        if kind == "callActivity":
            call = call_activity_model(element, dialect, filename, problems)
            if call is not None:
                model.call_activities[element_id] = call
            continue
        if kind != "userTask":
            continue
        task = UserTaskModel(
            activity_id=element_id,
            name=element.get("name"),
            documentation=text_of(element.find(q("documentation"))),
        )
        if dialect is Dialect.CAMUNDA7:
            task.assignee = camunda_attr(element, "assignee")
            task.candidate_users = split_list(camunda_attr(element, "candidateUsers"))
            task.candidate_groups = split_list(camunda_attr(element, "candidateGroups"))
            task.due_date = camunda_attr(element, "dueDate")
            task.priority = camunda_attr(element, "priority")
            task.form_fields = _form_fields(element, filename, problems)
            for attribute in ("assignee", "candidateUsers", "candidateGroups", "dueDate", "priority"):
                for message in value_problems(split_list(camunda_attr(element, attribute))):
                    problems.append(
                        Problem(filename, f"camunda:{attribute}: {message}", element.sourceline, element_id)
                    )
        elif dialect is Dialect.ZEEBE:
            attributes = zeebe.user_task_attributes(element, filename, problems)
            task = replace(task, language=FEEL, **attributes)  # type: ignore[arg-type]
        if not task.candidate_groups and not task.candidate_users and not task.assignee:
            # Plain and spiff files say who works on a task with lanes: lane name = group.
            lane = lanes.get(element_id)
            if lane:
                task.candidate_groups = [lane]
        model.user_tasks[element_id] = task
    model.compensation = compensation.extract(process, filename, problems)
    return model
