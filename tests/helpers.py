"""Test helpers: BPMN files by name, and users of each demo group."""

from __future__ import annotations

import json
from pathlib import Path

from engine import Actor, Engine, state_store
from engine.db.models import ProcessInstance

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bpmn"

SALES = Actor("sally", frozenset({"sales"}))
FINANCE = Actor("fred", frozenset({"finance"}))
WAREHOUSE = Actor("wanda", frozenset({"warehouse"}))
ADMIN = Actor("root", frozenset({"admins", "designers"}))


def bpmn(name: str) -> tuple[str, bytes]:
    """A (filename, content) pair from processes/ or tests/fixtures/bpmn/."""
    for folder in (PROCESSES, FIXTURES):
        path = folder / name
        if path.exists():
            return name, path.read_bytes()
    raise FileNotFoundError(name)


def camunda_process(body: str, process_id: str = "p", extra_ns: str = "") -> bytes:
    """A minimal Camunda 7 BPMN document around ``body`` (the inside of one bpmn:process)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {extra_ns}
    id="defs" targetNamespace="http://flowdesk.example/test">
  <bpmn:process id="{process_id}" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>
""".encode()


def script_process(script: str, process_id: str = "p") -> bytes:
    """start -> script task `Script` -> user task `After` -> end."""
    from xml.sax.saxutils import escape

    return camunda_process(
        f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Script" scriptFormat="python"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="After" camunda:candidateGroups="sales"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Script" />
    <bpmn:sequenceFlow id="f2" sourceRef="Script" targetRef="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="After" targetRef="end" />""",
        process_id,
    )


def stored_state(engine: Engine, instance_id: str) -> str:
    """The instance's whole stored state (head and task rows put together) as JSON text."""
    with engine.database.read() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        return json.dumps(state_store.read(session, instance)[0])
