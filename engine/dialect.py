"""Which BPMN dialect a file is written in, judged by the extension namespaces it actually uses.

The dialect picks the SpiffWorkflow parser family (and the serializer that must match it) and the
expression language of attributes (EL for Camunda 7, FEEL for Camunda 8), so it is decided once,
at deployment, and stored with the definition.
"""

from __future__ import annotations

import enum
from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"

_EXECUTION_PLATFORM = f"{{{MODELER_NS}}}executionPlatform"


class Dialect(enum.StrEnum):
    """A BPMN dialect; the value is what is stored with a deployed definition."""

    CAMUNDA7 = "camunda7"
    SPIFF = "spiff"
    PLAIN = "bpmn"
    ZEEBE = "camunda8"


def detect_dialect(tree: etree._ElementTree) -> Dialect:
    """The dialect of ``tree``, from the namespaces of the elements and attributes it contains.

    Declarations alone do not count: Camunda Modeler declares ``xmlns:camunda`` (or ``xmlns:zeebe``)
    in every file, used or not. Zeebe wins over Camunda 7 and Camunda 7 over SpiffWorkflow when a
    file mixes them, since a Zeebe file cannot run on the Camunda 7 parser at all.

    A file using none of these extensions is PLAIN, unless Camunda Modeler marked it with
    ``modeler:executionPlatform``: a "Camunda Cloud" diagram is ZEEBE even without zeebe: elements
    (its conditions are FEEL), a "Camunda Platform" diagram is CAMUNDA7 (its conditions are JUEL).
    """
    used = _namespaces_used(tree.getroot())
    if ZEEBE_NS in used:
        return Dialect.ZEEBE
    if CAMUNDA_NS in used:
        return Dialect.CAMUNDA7
    if SPIFF_NS in used:
        return Dialect.SPIFF
    platform = str(tree.getroot().get(_EXECUTION_PLATFORM) or "").strip().lower()
    if platform == "camunda cloud":
        return Dialect.ZEEBE
    if platform == "camunda platform":
        return Dialect.CAMUNDA7
    return Dialect.PLAIN


def _namespaces_used(root: Any) -> set[str]:
    """The namespaces of every element and attribute name in the document."""
    used: set[str] = set()
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag.startswith("{"):  # comments and PIs have no string tag
            used.add(tag[1 : tag.index("}")])
        # keys() is cheaper than the attrib proxy; an lxml element itself iterates over its children.
        for name in element.keys():  # noqa: SIM118
            if name.startswith("{"):
                used.add(name[1 : name.index("}")])
    return used
