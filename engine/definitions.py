"""Deployed process definitions: lookups and the in-memory cache of parsed specs."""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine.bpmn_model import ProcessModel
from engine.db.models import DeploymentResource, ProcessDefinition, table
from engine.dialect import Dialect
from engine.exceptions import DefinitionNotFound
from engine.spiff.families import Family, family
from engine.spiff.serialization import spec_from_json
from engine.xmlsafe import decode_xml


@dataclass(frozen=True)
class DefinitionInfo:
    id: str
    key: str
    name: str | None
    version: int
    deployment_id: str
    resource_name: str
    dialect: str
    created_at: datetime
    has_start_form: bool
    version_tag: str | None = None

    @classmethod
    def of(cls, row: ProcessDefinition) -> DefinitionInfo:
        return cls(
            row.id,
            row.key,
            row.name,
            row.version,
            row.deployment_id,
            row.resource_name,
            row.dialect,
            row.created_at,
            bool(row.start_form),
            row.version_tag,
        )


@dataclass(frozen=True)
class LoadedDefinition:
    info: DefinitionInfo
    family: Family
    spec: Any
    subprocess_specs: dict[str, Any]
    model: ProcessModel


class DefinitionCache:
    """Parsed specs by definition id. Definitions never change once deployed, so entries never go stale."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, LoadedDefinition] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, session: Session, definition_id: str) -> LoadedDefinition:
        with self._lock:
            item = self._items.get(definition_id)
            if item is not None:
                self._items.move_to_end(definition_id)
                return item
        row = session.get(ProcessDefinition, definition_id)
        if row is None:
            raise DefinitionNotFound(
                f"No process definition has id {definition_id!r}", definition_id=definition_id
            )
        fam = family(Dialect(row.dialect))
        spec, subprocess_specs = spec_from_json(fam, row.spec)
        item = LoadedDefinition(
            DefinitionInfo.of(row),
            fam,
            spec,
            subprocess_specs,
            ProcessModel.from_dict(row.elements, row.start_form),
        )
        with self._lock:
            self._items[definition_id] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item


class DefinitionService:
    def __init__(self, database: Any, cache: DefinitionCache) -> None:
        self.database = database
        self.cache = cache

    def list(
        self,
        *,
        key: str | None = None,
        latest_only: bool = False,
        first: int = 0,
        max_results: int | None = None,
    ) -> builtins.list[DefinitionInfo]:
        with self.database.read() as session:
            query = select(ProcessDefinition)
            if key is not None:
                query = query.where(ProcessDefinition.key == key)
            if latest_only:
                latest = (
                    select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
                    .group_by(ProcessDefinition.key)
                    .subquery()
                )
                query = query.join(
                    latest,
                    (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v),
                )
            query = query.order_by(ProcessDefinition.key, ProcessDefinition.version).offset(first)
            if max_results is not None:
                query = query.limit(max_results)
            return [DefinitionInfo.of(row) for row in session.scalars(query)]

    def get(self, definition_id: str) -> DefinitionInfo:
        with self.database.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise DefinitionNotFound(
                    f"No process definition has id {definition_id!r}", definition_id=definition_id
                )
            return DefinitionInfo.of(row)

    def latest(self, key: str) -> DefinitionInfo:
        with self.database.read() as session:
            return DefinitionInfo.of(latest_row(session, key))

    def xml(self, definition_id: str) -> str:
        with self.database.read() as session:
            row = session.get(ProcessDefinition, definition_id)
            if row is None:
                raise DefinitionNotFound(
                    f"No process definition has id {definition_id!r}", definition_id=definition_id
                )
            resource = session.get(DeploymentResource, row.resource_id)
            assert resource is not None  # guaranteed by the foreign key
            return decode_xml(resource.content)

    def start_form(self, definition_id: str) -> builtins.list[dict[str, Any]]:
        with self.database.read() as session:
            return self.cache.load(session, definition_id).model.start_form


_DEFINITIONS = table(ProcessDefinition)
# Built once: every start by key runs it, and building and keying a statement costs more than
# SQLite takes to answer it.
_LATEST_ID = (
    select(_DEFINITIONS.c.id)
    .where(_DEFINITIONS.c.key == bindparam("key"))
    .order_by(_DEFINITIONS.c.version.desc())
    .limit(1)
)


def latest_id(session: Session, key: str) -> str:
    """Id of the newest version of ``key``; only the id is read, the spec comes from the cache."""
    found: str | None = session.execute(_LATEST_ID, {"key": key}).scalar()
    if found is None:
        raise DefinitionNotFound(
            f"No process definition has key {key!r}; deploy a BPMN file whose process id is {key!r}",
            key=key,
        )
    return found


def latest_row(session: Session, key: str) -> ProcessDefinition:
    row = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    if row is None:
        raise DefinitionNotFound(
            f"No process definition has key {key!r}; deploy a BPMN file whose process id is {key!r}",
            key=key,
        )
    return row
