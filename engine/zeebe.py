"""Camunda 8 (zeebe) extensions, read from the XML: the common subset Flowdesk runs.

Service tasks name their work with ``zeebe:taskDefinition type="X"``: X is the in-process handler
registered under that name when there is one at deploy time, otherwise the topic of an external
task for remote workers (Camunda 8 job workers are remote by nature). ``zeebe:ioMapping`` inputs and
outputs and ``zeebe:assignmentDefinition`` (assignee, candidateGroups, candidateUsers),
``zeebe:taskSchedule dueDate`` and ``zeebe:priorityDefinition`` hold FEEL (``=expr``) or static text.
"""

from __future__ import annotations

from engine.bindings import DEFAULT_RETRIES, EXTERNAL, HANDLER, ServiceTaskModel
from engine.bpmn_xml import Element, local_name, q
from engine.dialect import ZEEBE_NS
from engine.feel import is_feel
from engine.handlers import HandlerRegistry
from engine.problems import Problem
from engine.references import FEEL, split_list, value_problems

JOB = "zeebe-job"  # until deploy time decides: HANDLER when registered, else EXTERNAL


def _extension(element: Element, name: str) -> Element | None:
    found: Element | None = element.find(f"{q('extensionElements')}/{q(name, ZEEBE_NS)}")
    return found


def _problem(problems: list[Problem], filename: str, element: Element, node: Element, message: str) -> None:
    problems.append(Problem(filename, message, node.sourceline, element.get("id")))


def _mappings(element: Element, which: str, filename: str, problems: list[Problem]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for mapping in element.iterfind(
        f"{q('extensionElements')}/{q('ioMapping', ZEEBE_NS)}/{q(which, ZEEBE_NS)}"
    ):
        target, source = mapping.get("target") or "", mapping.get("source") or ""
        if not target.isidentifier():
            _problem(
                problems,
                filename,
                element,
                mapping,
                f"zeebe:{which} target `{target}` must be a variable name (nested targets such as a.b "
                "are not supported; map a whole object instead)",
            )
            continue
        messages = value_problems(source, FEEL)
        for message in messages:
            _problem(problems, filename, element, mapping, f"zeebe:{which} `{target}`: {message}")
        if not messages:
            found.append((target, source))
    return found


def has_task_definition(element: Element) -> bool:
    """A Camunda 8 message throw event with a job type behaves as a service task."""
    return _extension(element, "taskDefinition") is not None


def service_task(element: Element, filename: str, problems: list[Problem]) -> ServiceTaskModel | None:
    """The binding of one Camunda 8 service/send/business rule task; problems appended, None returned."""
    element_id = element.get("id") or ""
    definition = _extension(element, "taskDefinition")
    job_type = (definition.get("type") or "").strip() if definition is not None else ""
    if definition is None or not job_type or is_feel(job_type):
        why = (
            "a job type given as a FEEL expression is not supported; write the type as text"
            if job_type
            else 'the task has no job type: add zeebe:taskDefinition type="..." (Task definition > Type)'
        )
        problems.append(Problem(filename, f"{local_name(element)}: {why}", element.sourceline, element_id))
        return None
    retries_text = (definition.get("retries") or str(DEFAULT_RETRIES)).strip()
    if not retries_text.isdigit():
        _problem(problems, filename, element, definition, f"retries `{retries_text}` must be a whole number")
        retries_text = str(DEFAULT_RETRIES)
    return ServiceTaskModel(
        activity_id=element_id,
        kind=JOB,
        name=job_type,
        inputs=list(_mappings(element, "input", filename, problems)),
        outputs=list(_mappings(element, "output", filename, problems)),
        retries=int(retries_text),
        language=FEEL,
    )


def user_task_attributes(element: Element, filename: str, problems: list[Problem]) -> dict[str, object]:
    """assignee, candidate users and groups, due date and priority of a Camunda 8 user task."""
    values: dict[str, object] = {}
    sources = {
        "assignee": ("assignmentDefinition", "assignee"),
        "candidate_users": ("assignmentDefinition", "candidateUsers"),
        "candidate_groups": ("assignmentDefinition", "candidateGroups"),
        "due_date": ("taskSchedule", "dueDate"),
        "priority": ("priorityDefinition", "priority"),
    }
    for field, (extension, attribute) in sources.items():
        node = _extension(element, extension)
        text = (node.get(attribute) or "").strip() if node is not None else ""
        if node is None or not text:
            continue
        for message in value_problems(text, FEEL):
            _problem(problems, filename, element, node, f"zeebe:{extension} {attribute}: {message}")
        if field.startswith("candidate_"):
            # A FEEL expression gives the whole list (=["a", "b"]); static text is comma-separated.
            values[field] = [text] if is_feel(text) else split_list(text)
        else:
            values[field] = text
    return values


def bind_job_types(service_tasks: dict[str, ServiceTaskModel], handlers: HandlerRegistry) -> None:
    """Decide, at deploy time, whether each job type is an in-process handler or an external topic."""
    for service in service_tasks.values():
        if service.kind == JOB:
            service.kind = HANDLER if service.name in handlers else EXTERNAL
