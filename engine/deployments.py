"""Deploying BPMN files: check everything first, then store new definition versions atomically."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import expressions, zeebe
from engine.bindings import EXPRESSION, EXTERNAL
from engine.bpmn_files import load_bpmn
from engine.bpmn_lint import Linter
from engine.bpmn_model import ProcessModel, extract_process_model
from engine.bpmn_xml import element_by_id
from engine.call_model import version_tag_of
from engine.call_targets import undeployed_calls
from engine.clock import Clock
from engine.compensation import COMPENSATE
from engine.db import Database
from engine.db.models import Deployment, DeploymentResource, ProcessDefinition
from engine.definitions import DefinitionInfo
from engine.exceptions import DeploymentError, Forbidden
from engine.handlers import HandlerRegistry
from engine.identity import Actor
from engine.messages import register_start_events
from engine.problems import Problem
from engine.spiff.parsing import ParsedProcess, SourceFile, parse_processes
from engine.timers import schedule_start_timers

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml", ".xml")


@dataclass(frozen=True)
class DeploymentInfo:
    id: str
    name: str | None
    source: str | None
    created_at: object
    definitions: list[DefinitionInfo] = field(default_factory=list)
    # Processes whose content was identical to their latest version (duplicate filtering).
    unchanged: list[DefinitionInfo] = field(default_factory=list)
    # Deployed anyway, but worth a look: a call activity calling a process nobody deployed (yet).
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Checked:
    parsed: ParsedProcess
    model: ProcessModel
    checksum: str  # of the definition: its file, and the deployment settings that shape it
    content: bytes


def _asynchronous(item: _Checked) -> _Checked:
    """``item`` with every bound service task that does not choose for itself made asynchronous.

    The checksum changes with it: the same file deployed with another default is a new version
    even under duplicate filtering.
    """
    for activity_id, service in list(item.model.service_tasks.items()):
        if service.kind not in (EXTERNAL, COMPENSATE) and not service.async_explicit:
            item.model.service_tasks[activity_id] = replace(service, async_before=True)
    checksum = hashlib.sha256(f"{item.checksum}:async-before".encode()).hexdigest()
    return replace(item, checksum=checksum)


class DeploymentService:
    def __init__(
        self, database: Database, linter: Linter, clock: Clock, max_bytes: int, handlers: HandlerRegistry
    ) -> None:
        self.handlers = handlers
        self.database = database
        self.linter = linter
        self.clock = clock
        self.max_bytes = max_bytes

    def check(self, files: Sequence[tuple[str, bytes]]) -> list[_Checked]:
        """Validate every file completely; raise one DeploymentError listing every problem."""
        if not files:
            raise DeploymentError(
                [Problem("(deployment)", "no file was given; attach at least one .bpmn file")]
            )
        problems: list[Problem] = []
        sources: list[SourceFile] = []
        contents: dict[str, bytes] = {}
        for filename, data in files:
            if not filename.lower().endswith(BPMN_SUFFIXES):
                problems.append(Problem(filename, "only BPMN files (.bpmn) can be deployed"))
                continue
            try:
                tree, dialect = load_bpmn(data, filename, self.max_bytes)
            except DeploymentError as err:
                problems.extend(err.problems)
                continue
            root = tree.getroot()
            file_problems = self.linter.check(root, filename) + expressions.prepare(root, filename)
            problems.extend(file_problems)
            if not file_problems:
                sources.append(SourceFile(filename, root, dialect))
                contents[filename] = data
        if problems:
            raise DeploymentError(problems)
        parsed = parse_processes(sources)
        checked: list[_Checked] = []
        model_problems: list[Problem] = []
        keys: dict[str, str] = {}
        for process in parsed:
            if process.key in keys:
                model_problems.append(
                    Problem(
                        process.source.filename,
                        f"process id `{process.key}` is also defined in {keys[process.key]}",
                        process.process_element.sourceline,
                        process.key,
                    )
                )
            keys[process.key] = process.source.filename
            model = extract_process_model(
                process.process_element, process.source.dialect, process.source.filename, model_problems
            )
            zeebe.bind_job_types(model.service_tasks, self.handlers)
            model_problems += self._unbound(model, process)
            content = contents[process.source.filename]
            checked.append(_Checked(process, model, hashlib.sha256(content).hexdigest(), content))
        if model_problems:
            raise DeploymentError(model_problems)
        return checked

    def _unbound(self, model: ProcessModel, process: ParsedProcess) -> list[Problem]:
        """Service tasks naming a handler nobody registered (external topics wait for workers by design)."""
        problems: list[Problem] = []
        for service in model.service_tasks.values():
            if service.kind in (EXTERNAL, EXPRESSION, COMPENSATE) or service.name in self.handlers:
                continue
            element = element_by_id(process.source.root, service.activity_id)
            closest = self.handlers.closest(service.name)
            hint = f"did you mean {closest!r}? " if closest else ""
            problems.append(
                Problem(
                    process.source.filename,
                    f"no handler is registered as {service.name!r}; {hint}registered handlers: "
                    f"{', '.join(self.handlers.names()) or 'none'} "
                    '(or use camunda:type="external" for a remote worker)',
                    element.sourceline if element is not None else None,
                    service.activity_id,
                )
            )
        compensation = model.compensation
        for activity, handler in compensation.handlers.items():
            bound = model.service_tasks.get(handler)
            if bound is not None and bound.kind == EXTERNAL and activity not in compensation.waiting:
                # A Camunda 8 job type nobody registered: only camunda:type="external" makes a task.
                problems.append(
                    Problem(
                        process.source.filename,
                        f"compensation handler job type {bound.name!r} has no in-process handler; "
                        'register one, or use a Camunda 7 external task (camunda:type="external")',
                        None,
                        handler,
                    )
                )
        return problems

    def deploy(
        self,
        files: Sequence[tuple[str, bytes]],
        *,
        name: str | None = None,
        source: str | None = None,
        actor: Actor | None = None,
        duplicate_filtering: bool = False,
        async_before: bool = False,
    ) -> DeploymentInfo:
        """Store new versions of the processes in ``files`` (all checked first, all or nothing).

        ``async_before`` is the deployment's default for bound service tasks that do not say
        ``camunda:asyncBefore`` themselves: each becomes a job for a worker instead of running in
        the step that reaches it.
        """
        if actor is not None and not actor.can_deploy:
            raise Forbidden(
                f"user {actor.name!r} may not deploy: only members of 'designers' or 'admins' can"
            )
        checked = self.check(files)
        if async_before:
            checked = [_asynchronous(item) for item in checked]
        for attempt in range(3):
            try:
                return self._store(checked, name, source, actor, duplicate_filtering)
            except IntegrityError:
                # Another deployment of the same key took the version number first: number again.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _store(
        self,
        checked: list[_Checked],
        name: str | None,
        source: str | None,
        actor: Actor | None,
        duplicate_filtering: bool,
    ) -> DeploymentInfo:
        now = self.clock()
        deployment_id = str(uuid.uuid4())
        with self.database.write() as session:
            deployment = Deployment(
                id=deployment_id,
                name=name,
                source=source,
                created_at=now,
                created_by=actor.name if actor else None,
            )
            resources: dict[str, DeploymentResource] = {}
            created: list[ProcessDefinition] = []
            processes: list[ParsedProcess] = []
            unchanged: list[ProcessDefinition] = []
            for item in checked:
                key = item.parsed.key
                latest = session.scalars(
                    select(ProcessDefinition)
                    .where(ProcessDefinition.key == key)
                    .order_by(ProcessDefinition.version.desc())
                    .limit(1)
                ).first()
                if duplicate_filtering and latest is not None and latest.checksum == item.checksum:
                    unchanged.append(latest)
                    continue
                filename = item.parsed.source.filename
                if filename not in resources:
                    resources[filename] = DeploymentResource(
                        id=str(uuid.uuid4()),
                        name=filename,
                        checksum=hashlib.sha256(item.content).hexdigest(),
                        content=item.content,
                    )
                    deployment.resources.append(resources[filename])
                version = (
                    session.scalar(
                        select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key)
                    )
                    or 0
                ) + 1
                processes.append(item.parsed)
                created.append(
                    ProcessDefinition(
                        id=f"{key}:{version}:{uuid.uuid4()}",
                        key=key,
                        name=item.parsed.name,
                        version=version,
                        deployment_id=deployment_id,
                        resource_id=resources[filename].id,
                        resource_name=filename,
                        dialect=item.parsed.source.dialect.value,
                        checksum=item.checksum,
                        spec=item.parsed.spec_json,
                        elements=item.model.to_dict(),
                        start_form=item.model.start_form,
                        created_at=now,
                        version_tag=version_tag_of(item.parsed.process_element),
                    )
                )
            if not created:
                # Everything was a duplicate: nothing new is stored, as Camunda does.
                session.rollback()
                first = unchanged[0]
                return DeploymentInfo(
                    first.deployment_id,
                    name,
                    source,
                    first.created_at,
                    [],
                    [DefinitionInfo.of(r) for r in unchanged],
                )
            session.add(deployment)
            session.flush()
            session.add_all(created)
            session.flush()
            for row, parsed in zip(created, processes, strict=True):
                schedule_start_timers(session, row.id, row.key, parsed.process_element, now)
                register_start_events(session, row.id, row.key, parsed.process_element, now)
            return DeploymentInfo(
                deployment_id,
                name,
                source,
                now,
                [DefinitionInfo.of(r) for r in created],
                [DefinitionInfo.of(r) for r in unchanged],
                undeployed_calls(session, [(c.parsed.source, c.model) for c in checked]),
            )
