"""Bad BPMN files are refused with every problem located by file, line and element; nothing is stored."""

from __future__ import annotations

import pytest

from engine import DeploymentError, Engine
from tests.helpers import bpmn, camunda_process, script_process


def problems_of(engine: Engine, *files: tuple[str, bytes]) -> list[str]:
    with pytest.raises(DeploymentError) as err:
        engine.deployments.deploy(list(files))
    assert engine.definitions.list() == []  # nothing half-deployed
    return [p.describe() for p in err.value.problems]


def test_gateway_without_condition_or_default(engine: Engine) -> None:
    [problem] = problems_of(engine, bpmn("gateway_without_condition.bpmn"))
    assert problem.startswith(
        "gateway_without_condition.bpmn, line 8, element `Gateway_1`: exclusive gateway has "
        "an outgoing flow (`no`) without a condition and no default flow"
    )


def test_flow_pointing_at_a_missing_element(engine: Engine) -> None:
    found = problems_of(engine, bpmn("flow_to_missing_element.bpmn"))
    assert any("line 6" in p and "`f1`" in p and "Task_gone" in p for p in found), found


def test_malformed_xml_has_a_line(engine: Engine) -> None:
    found = problems_of(engine, ("broken.bpmn", b"<?xml version='1.0'?>\n<bpmn:definitions>\n<oops>\n"))
    assert found and all(p.startswith("broken.bpmn, line") for p in found)


def test_external_entity_is_refused_and_never_read(engine: Engine) -> None:
    hostile = (
        b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>'
    )
    found = problems_of(engine, ("evil.bpmn", hostile))
    assert found
    assert not any("root:" in p for p in found)


def test_entity_bomb_is_refused(engine: Engine) -> None:
    lol = b'<!ENTITY a0 "lol">' + b"".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">'.encode() for i in range(1, 10)
    )
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [' + lol + b"]><d>&a9;</d>"
    assert problems_of(engine, ("bomb.bpmn", bomb))


def test_fifty_megabyte_file_is_refused_by_size(engine: Engine) -> None:
    big = b"<?xml version='1.0'?><d>" + b" " * (50 * 1024 * 1024) + b"</d>"
    [problem] = problems_of(engine, ("big.bpmn", big))
    assert "MB" in problem or "bytes" in problem


def test_non_bpmn_xml_is_refused(engine: Engine) -> None:
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    [problem] = problems_of(engine, ("picture.bpmn", svg))
    assert "not a BPMN" in problem


def test_script_importing_os_is_refused_at_deploy_with_its_line(engine: Engine) -> None:
    found = problems_of(engine, ("imports.bpmn", script_process("x = 1\nimport os\nos.system('true')")))
    assert any("element `Script`" in p and "import" in p.lower() for p in found), found


def test_script_walking_subclasses_is_refused(engine: Engine) -> None:
    found = problems_of(engine, ("walk.bpmn", script_process("x = ().__class__.__base__.__subclasses__()")))
    assert any("element `Script`" in p and "are private" in p for p in found), found


def test_every_problem_of_every_file_is_listed(engine: Engine) -> None:
    found = problems_of(
        engine,
        bpmn("gateway_without_condition.bpmn"),
        bpmn("flow_to_missing_element.bpmn"),
        ("notes.txt", b"hello"),
    )
    files = {p.split(",")[0].split(":")[0] for p in found}
    assert files == {"gateway_without_condition.bpmn", "flow_to_missing_element.bpmn", "notes.txt"}


def test_camunda8_file_deploys_and_its_job_type_waits_for_a_worker(engine: Engine) -> None:
    [definition] = engine.deployments.deploy([bpmn("upload_zeebe.bpmn")]).definitions
    assert definition.key == "ship_order" and definition.dialect == "camunda8"
    instance = engine.runtime.start(key="ship_order")
    [job] = engine.jobs.list(instance_id=instance.id)
    assert job.kind == "external" and job.topic == "ship-order" and job.max_retries == 3


def test_unknown_process_key_is_a_clear_error(engine: Engine) -> None:
    from engine import DefinitionNotFound

    with pytest.raises(DefinitionNotFound) as err:
        engine.runtime.start(key="no_such_process")
    assert "no_such_process" in err.value.message


def test_element_ids_the_library_uses_for_its_own_steps_are_refused(engine: Engine) -> None:
    # SpiffWorkflow names its own start and end steps `Start` and `End`: an element with such an id
    # replaces them, and every instance would fail to start with "No output task connected".
    xml = camunda_process(
        """
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="End"><bpmn:incoming>f1</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="End" />"""
    )
    found = problems_of(engine, ("reserved.bpmn", xml))
    assert found == [
        "reserved.bpmn, line 8, element `Start`: the id `Start` is reserved by the engine for its own "
        "start step; rename the startEvent (e.g. `StartEvent_1`)",
        "reserved.bpmn, line 9, element `End`: the id `End` is reserved by the engine for its own "
        "end step; rename the endEvent (e.g. `EndEvent_1`)",
    ]


def test_error_starts_outside_event_subprocesses_and_error_throws_that_cannot_work_are_refused(
    engine: Engine,
) -> None:
    # Error and escalation start event subprocesses run (tests/engine/test_error_event_subprocesses.py);
    # these three cannot: SpiffWorkflow would make the first a plain start and pass the last silently.
    xml = camunda_process(
        """
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:errorEventDefinition /></bpmn:startEvent>
    <bpmn:intermediateThrowEvent id="Throw"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:errorEventDefinition /></bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="Throw" />
    <bpmn:sequenceFlow id="f2" sourceRef="Throw" targetRef="e" />
    <bpmn:subProcess id="OnProblem" triggeredByEvent="true">
      <bpmn:startEvent id="ProblemStart" isInterrupting="false"><bpmn:outgoing>e1</bpmn:outgoing>
        <bpmn:errorEventDefinition /></bpmn:startEvent>
      <bpmn:endEvent id="ProblemEnd"><bpmn:incoming>e1</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="e1" sourceRef="ProblemStart" targetRef="ProblemEnd" />
    </bpmn:subProcess>"""
    )
    assert problems_of(engine, ("starts.bpmn", xml)) == [
        "starts.bpmn, line 8, element `s`: errorEventDefinition: only the start event of an event "
        'subprocess (triggeredByEvent="true") can be started by an error; catch it there, or with a '
        "boundary event",
        "starts.bpmn, line 10, element `Throw`: errorEventDefinition: an intermediate throw event cannot "
        "throw an error (BPMN); use an error end event",
        "starts.bpmn, line 16, element `ProblemStart`: errorEventDefinition: an error start event always "
        'interrupts its scope; remove isInterrupting="false" (to go on beside the scope, throw an '
        "escalation and catch it with a non-interrupting escalation start)",
    ]
