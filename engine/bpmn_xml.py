"""Small helpers for reading BPMN documents with lxml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeAlias

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NSMAP = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

# lxml ships no type information; elements are handled as Any at this boundary.
Element: TypeAlias = Any


def q(local: str, ns: str = BPMN_NS) -> str:
    """Clark notation of a tag: ``{namespace}local``."""
    return f"{{{ns}}}{local}"


def local_name(element: Element) -> str:
    return str(etree.QName(element).localname)


def is_bpmn(element: Element, *locals_: str) -> bool:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith("{" + BPMN_NS + "}"):
        return False
    return not locals_ or tag[len(BPMN_NS) + 2 :] in locals_


def processes(root: Element) -> list[Element]:
    return list(root.iterfind(q("process")))


def is_executable(process: Element) -> bool:
    # An absent attribute counts as executable, as in SpiffWorkflow.
    return str(process.get("isExecutable", "true")).strip().lower() != "false"


def iter_bpmn(root: Element, *locals_: str) -> Iterator[Element]:
    for element in root.iter():
        if is_bpmn(element, *locals_):
            yield element


def line_of(element: Element | None) -> int | None:
    return element.sourceline if element is not None else None


def element_by_id(root: Element, element_id: str) -> Element | None:
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0] if isinstance(found, list) and found else None


def text_of(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def camunda_attr(element: Element, name: str) -> str | None:
    value = element.get(q(name, CAMUNDA_NS))
    return value.strip() if value is not None and value.strip() else None
