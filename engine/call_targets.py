"""Which definition a call activity starts, and which variables go in and come back.

Pure functions over a ``CallActivityModel``: the called key and version are evaluated against the
calling instance's variables, the definition is looked up among the deployed ones (Camunda 7
bindings ``latest``, ``deployment``, ``version``, ``versionTag``), and the mappings turn one
instance's variables into the other's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn_xml import element_by_id
from engine.call_model import BUSINESS_KEY_VARIABLE, PYTHON, CallActivityModel, VariableMapping
from engine.db.models import ProcessDefinition
from engine.definitions import DefinitionInfo
from engine.el import is_el
from engine.exceptions import ProcessError
from engine.feel import is_feel
from engine.problems import Problem
from engine.references import FEEL, resolve_value
from engine.sandbox import Sandbox
from engine.varcodec import check_storable

if TYPE_CHECKING:
    from engine.bpmn_model import ProcessModel
    from engine.spiff.parsing import SourceFile


class CallTargetError(ProcessError):
    """The call activity cannot start its called instance; deploy what it calls, then retry the incident."""


def _evaluate(text: str, scope: Mapping[str, Any], model: CallActivityModel, sandbox: Sandbox) -> Any:
    if model.language == PYTHON:
        return text
    return resolve_value(text, scope, sandbox, model.language)


def called_key(model: CallActivityModel, scope: Mapping[str, Any], sandbox: Sandbox) -> str:
    key = _evaluate(model.called_element, scope, model, sandbox)
    if not isinstance(key, str) or not key:
        raise CallTargetError(
            f"call activity `{model.activity_id}`: calledElement `{model.called_element}` gave "
            f"{key!r}, not a process key",
            activity_id=model.activity_id,
        )
    return key


def _binding(model: CallActivityModel, scope: Mapping[str, Any], sandbox: Sandbox) -> tuple[str, Any]:
    if model.binding == "version":
        assert model.version is not None
        version = _evaluate(model.version, scope, model, sandbox)
        try:
            return "version", int(version)
        except (TypeError, ValueError):
            raise CallTargetError(
                f"call activity `{model.activity_id}`: camunda:calledElementVersion gave {version!r}, "
                "not a version number",
                activity_id=model.activity_id,
            ) from None
    if model.binding == "versionTag":
        assert model.version_tag is not None
        return "versionTag", str(_evaluate(model.version_tag, scope, model, sandbox))
    return model.binding, None


def resolve_definition(
    session: Session,
    model: CallActivityModel,
    key: str,
    caller: DefinitionInfo,
    scope: Mapping[str, Any],
    sandbox: Sandbox,
) -> str:
    """The id of the definition the call activity starts now; CallTargetError naming what is missing."""
    binding, value = _binding(model, scope, sandbox)
    query = select(ProcessDefinition.id).where(ProcessDefinition.key == key)
    if binding == "deployment":
        query = query.where(ProcessDefinition.deployment_id == caller.deployment_id)
        wanted = f"deployed together with `{caller.key}` version {caller.version}"
    elif binding == "version":
        query = query.where(ProcessDefinition.version == value)
        wanted = f"version {value}"
    elif binding == "versionTag":
        query = query.where(ProcessDefinition.version_tag == value)
        wanted = f"version tag `{value}`"
    else:
        wanted = "any version"
    found = list(session.scalars(query.order_by(ProcessDefinition.version.desc()).limit(2)))
    if not found:
        raise CallTargetError(
            f"call activity `{model.activity_id}` calls process `{key}` ({wanted}), but no such "
            f"process definition is deployed; deploy a BPMN file whose process id is `{key}`, then "
            "set this incident's retries to start it",
            activity_id=model.activity_id,
            key=key,
        )
    if binding == "versionTag" and len(found) > 1 and model.language != FEEL:
        # Camunda 7 refuses to choose; Camunda 8 takes the latest version with the tag.
        raise CallTargetError(
            f"call activity `{model.activity_id}`: more than one version of process `{key}` has "
            f"version tag `{value}`; give each version its own tag",
            activity_id=model.activity_id,
            key=key,
        )
    return found[0]


def _map(
    mappings: list[VariableMapping], scope: Mapping[str, Any], model: CallActivityModel, sandbox: Sandbox
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for mapping in mappings:
        if mapping.expression is not None:
            value = _evaluate(mapping.expression, {**scope, **values}, model, sandbox)
        else:
            value = scope.get(mapping.source or "")
        values[mapping.target] = check_storable(mapping.target, value)
    return values


def _visible(variables: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variables.items() if k != BUSINESS_KEY_VARIABLE}


def child_variables(
    model: CallActivityModel, parent_vars: Mapping[str, Any], business_key: str | None, sandbox: Sandbox
) -> dict[str, Any]:
    """What the child starts with: every parent variable (``all_in``) and the in-mappings."""
    scope = {**parent_vars, BUSINESS_KEY_VARIABLE: business_key}
    passed = _visible(parent_vars) if model.all_in else {}
    return {**passed, **_map(model.inputs, scope, model, sandbox)}


def child_business_key(
    model: CallActivityModel, parent_vars: Mapping[str, Any], business_key: str | None, sandbox: Sandbox
) -> str | None:
    """``camunda:in businessKey``: evaluated against the parent; none without it, as in Camunda."""
    if model.business_key is None:
        return None
    value = _evaluate(
        model.business_key, {**parent_vars, BUSINESS_KEY_VARIABLE: business_key}, model, sandbox
    )
    return None if value is None else str(value)


def parent_outputs(
    model: CallActivityModel,
    child_vars: Mapping[str, Any],
    parent_vars: Mapping[str, Any],
    business_key: str | None,
    sandbox: Sandbox,
) -> dict[str, Any]:
    """What comes back to the parent: every child variable (``all_out``) and the out-mappings.

    Camunda 7 evaluates ``sourceExpression`` in the child; Camunda 8 output mappings see the
    child's variables over the call activity's.
    """
    base = {**parent_vars, **child_vars} if model.language == FEEL else dict(child_vars)
    scope = {**base, BUSINESS_KEY_VARIABLE: business_key}
    passed = _visible(child_vars) if model.all_out else {}
    return {**passed, **_map(model.outputs, scope, model, sandbox)}


def undeployed_calls(session: Session, processes: Sequence[tuple[SourceFile, ProcessModel]]) -> list[Problem]:
    """Warnings for call activities naming (as text) a process key neither this deployment nor an
    earlier one has. Not errors: Camunda resolves the key when the activity starts, so a caller may
    be deployed before what it calls; until then its instances stop there with an incident."""
    keys = {str(el.get("id")) for source, _ in processes for el in source.root.iter(_PROCESS)}
    wanted = {
        call.called_element
        for _, model in processes
        for call in model.call_activities.values()
        if not is_el(call.called_element) and not is_feel(call.called_element)
    } - keys
    if not wanted:
        return []
    known = set(
        session.scalars(select(ProcessDefinition.key).where(ProcessDefinition.key.in_(sorted(wanted))))
    )
    warnings: list[Problem] = []
    for source, model in processes:
        for call in model.call_activities.values():
            if call.called_element not in wanted or call.called_element in known:
                continue
            element = element_by_id(source.root, call.activity_id)
            warnings.append(
                Problem(
                    source.filename,
                    f"calls process `{call.called_element}`, which is not deployed (yet): instances "
                    "will stop here with an incident until a process with that id is deployed",
                    element.sourceline if element is not None else None,
                    call.activity_id,
                )
            )
    return warnings


_PROCESS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}process"
