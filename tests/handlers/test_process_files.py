"""The shipped CRM/ERP processes draw in Camunda Modeler / bpmn-js: every element has diagram info."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.helpers import PROCESSES

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
}
DRAWN = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "serviceTask",
    "userTask",
    "exclusiveGateway",
    "eventBasedGateway",
    "boundaryEvent",
    "subProcess",
    "sequenceFlow",
)


@pytest.mark.parametrize("name", ["lead_to_cash.bpmn", "lead_qualification.bpmn"])
def test_every_element_has_a_shape_or_an_edge(name: str) -> None:
    tree = etree.parse(str(PROCESSES / name))
    # Inside subprocesses too (lead_to_cash's event subprocess is drawn expanded).
    elements = {el.get("id") for kind in DRAWN for el in tree.iterfind(f".//bpmn:process//bpmn:{kind}", NS)}
    shapes = {el.get("bpmnElement") for el in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {el.get("bpmnElement") for el in tree.iterfind(".//bpmndi:BPMNEdge", NS)}

    assert elements and elements == shapes | edges
    for bounds in tree.iterfind(".//dc:Bounds", NS):
        assert float(bounds.get("width", 0)) > 0 and float(bounds.get("height", 0)) > 0
    for edge in tree.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge) >= 2  # at least two waypoints


def test_the_cancellation_subprocess_is_drawn_around_what_it_contains() -> None:
    tree = etree.parse(str(PROCESSES / "lead_to_cash.bpmn"))
    bounds = {
        shape.get("bpmnElement"): [float(b.get(k, 0)) for k in ("x", "y", "width", "height")]
        for shape in tree.iterfind(".//bpmndi:BPMNShape", NS)
        for b in shape.iterfind("dc:Bounds", NS)
    }
    [sub] = tree.iterfind(".//bpmn:subProcess", NS)
    x, y, w, h = bounds[sub.get("id")]
    inner = [el.get("id") for el in sub if el.get("id") in bounds]

    assert sub.get("triggeredByEvent") == "true" and len(inner) == 9
    for element in inner:
        ex, ey, ew, eh = bounds[element]
        assert x < ex and ex + ew < x + w and y < ey and ey + eh < y + h, element


def test_lead_to_cash_has_the_human_tasks_and_groups_the_issue_names() -> None:
    tree = etree.parse(str(PROCESSES / "lead_to_cash.bpmn"))
    camunda = "{http://camunda.org/schema/1.0/bpmn}candidateGroups"
    tasks = {el.get("id"): el.get(camunda) for el in tree.iterfind(".//bpmn:userTask", NS)}

    assert tasks == {"sales_review": "sales", "credit_approval": "finance", "backorder_decision": "warehouse"}
