"""The untrusted-upload front door: size limit, DTD refusal, syntax errors, BPMN schema, dialect."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn_files import load_bpmn
from engine.bpmn_schema import validate_bpmn
from engine.dialect import Dialect, detect_dialect
from engine.exceptions import DeploymentError
from engine.problems import Problem
from engine.xmlsafe import DEFAULT_MAX_BPMN_BYTES, parse_xml

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bpmn"
CAMUNDA_FILE = (FIXTURES / "upload_camunda_modeler.bpmn").read_bytes()
ZEEBE_FILE = (FIXTURES / "upload_zeebe.bpmn").read_bytes()

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DTD_MESSAGE = "DTDs/entities are not allowed in BPMN files"


def bpmn(process_body: str, *, namespaces: str = "", attributes: str = "") -> bytes:
    """A small BPMN file; the process body starts on line 4."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" {namespaces} id="Defs_1" '
        f'targetNamespace="http://example.com/bpmn" {attributes}>\n'
        '  <bpmn:process id="Process_1" isExecutable="true">\n'
        f"{process_body}\n"
        "  </bpmn:process>\n"
        "</bpmn:definitions>\n"
    ).encode()


SIMPLE_BODY = (
    '    <bpmn:startEvent id="Start_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>\n'
    '    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start_1" targetRef="End_1" />\n'
    '    <bpmn:endEvent id="End_1"><bpmn:incoming>Flow_1</bpmn:incoming></bpmn:endEvent>'
)


def problems_of(data: bytes, filename: str = "upload.bpmn", **kwargs: int) -> list[Problem]:
    with pytest.raises(DeploymentError) as raised:
        load_bpmn(data, filename, **kwargs)
    assert raised.value.problems, "a DeploymentError must list at least one problem"
    assert all(problem.file == filename for problem in raised.value.problems)
    return raised.value.problems


def billion_laughs(encoding: str = "UTF-8") -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10)
    ]
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(entities)
        + "\n]>\n<lolz>&lol9;</lolz>\n"
    )


# --- the happy path -----------------------------------------------------------------------------


def test_camunda_modeler_file_with_diagram_and_forms_passes() -> None:
    tree, dialect = load_bpmn(CAMUNDA_FILE, "leave.bpmn")

    assert dialect is Dialect.CAMUNDA7
    assert tree.getroot().tag == f"{{{BPMN_NS}}}definitions"
    assert validate_bpmn(tree, "leave.bpmn") == []


def test_line_numbers_of_the_upload_are_kept() -> None:
    tree = parse_xml(CAMUNDA_FILE, "leave.bpmn")

    task = tree.getroot().find(f".//{{{BPMN_NS}}}userTask")
    assert task is not None
    expected = (
        CAMUNDA_FILE.decode()
        .splitlines()
        .index(next(line for line in CAMUNDA_FILE.decode().splitlines() if 'id="Activity_approve"' in line))
    )
    assert task.sourceline == expected + 1


def test_bpmn_io_correlation_expression_validates_without_changing_the_callers_tree() -> None:
    tree = parse_xml(CAMUNDA_FILE, "leave.bpmn")
    formal = f".//{{{BPMN_NS}}}correlationPropertyRetrievalExpression/{{{BPMN_NS}}}formalExpression"
    assert tree.getroot().find(formal) is not None

    assert validate_bpmn(tree, "leave.bpmn") == []

    # SpiffWorkflow's parser reads formalExpression later; the XSD workaround must not rename it.
    assert tree.getroot().find(formal) is not None


def test_utf16_file_with_bom_parses_with_the_same_lines_as_utf8() -> None:
    text = CAMUNDA_FILE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    data = text.encode("utf-16")
    assert data.startswith(b"\xff\xfe")

    tree, dialect = load_bpmn(data, "leave-utf16.bpmn")

    assert dialect is Dialect.CAMUNDA7
    utf8_tree = parse_xml(CAMUNDA_FILE, "leave.bpmn")
    assert [e.sourceline for e in tree.getroot().iter()] == [e.sourceline for e in utf8_tree.getroot().iter()]


def test_utf8_bom_is_accepted() -> None:
    tree, _ = load_bpmn(b"\xef\xbb\xbf" + bpmn(SIMPLE_BODY), "bom.bpmn")

    assert tree.getroot().get("id") == "Defs_1"


def test_doctype_text_inside_a_script_is_not_mistaken_for_a_dtd() -> None:
    body = (
        '    <bpmn:scriptTask id="Task_html" scriptFormat="python">\n'
        '      <bpmn:script><![CDATA[page = "<!DOCTYPE html><html></html>"]]></bpmn:script>\n'
        "    </bpmn:scriptTask>"
    )

    load_bpmn(bpmn(body), "script.bpmn")


# --- size limit -----------------------------------------------------------------------------------


def test_file_over_the_size_limit_is_refused_before_parsing() -> None:
    data = b"<" + b"x" * (50 * 1024 * 1024)  # 50 MB, and not even XML: it must never reach lxml

    [problem] = problems_of(data, "huge.bpmn")

    assert "52,428,801 bytes" in problem.message
    assert f"{DEFAULT_MAX_BPMN_BYTES:,} bytes" in problem.message
    assert "FLOWDESK_MAX_BPMN_BYTES" in problem.message


def test_valid_file_of_the_limit_minus_one_byte_is_accepted() -> None:
    head = bpmn(SIMPLE_BODY)
    # Many small comments rather than one big one: libxml2 refuses a single text node over 10 MB.
    chunk = b"<!--" + b"x" * 1000 + b"-->\n"
    target = DEFAULT_MAX_BPMN_BYTES - 1
    padding = chunk * ((target - len(head)) // len(chunk))
    data = head + padding
    data += b"\n" * (target - len(data))
    assert len(data) == DEFAULT_MAX_BPMN_BYTES - 1

    tree, dialect = load_bpmn(data, "big.bpmn")

    assert dialect is Dialect.PLAIN
    assert tree.getroot().get("id") == "Defs_1"


def test_size_limit_is_inclusive_and_adjustable() -> None:
    data = bpmn(SIMPLE_BODY)

    load_bpmn(data, "exact.bpmn", max_bytes=len(data))
    [problem] = problems_of(data, "exact.bpmn", max_bytes=len(data) - 1)
    assert f"limit of {len(data) - 1:,} bytes" in problem.message


# --- DTDs and entities ------------------------------------------------------------------------------


def test_external_entity_is_refused_and_never_read() -> None:
    data = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE definitions [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
        b"<bpmn:documentation>&secret;</bpmn:documentation></bpmn:definitions>\n"
    )

    with pytest.raises(DeploymentError) as raised:
        load_bpmn(data, "xxe.bpmn")

    [problem] = raised.value.problems
    assert DTD_MESSAGE in problem.message
    assert problem.line == 2
    shown = [str(raised.value), repr(raised.value.problems), *(p.describe() for p in raised.value.problems)]
    assert not [text for text in shown if "root:" in text]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(billion_laughs().encode(), id="utf-8"),
        pytest.param(billion_laughs("UTF-16").encode("utf-16"), id="utf-16-bom"),
        pytest.param(billion_laughs("UTF-16").encode("utf-16-be"), id="utf-16-be-no-bom"),
        # libxml2 reads UTF-7 through iconv, where "<!" may be spelled "+ADwAIQ-".
        pytest.param(billion_laughs("UTF-7").replace("<!DOCTYPE", "+ADwAIQ-DOCTYPE").encode(), id="utf-7"),
    ],
)
def test_billion_laughs_is_refused(data: bytes) -> None:
    [problem] = problems_of(data, "lol.bpmn")

    assert DTD_MESSAGE in problem.message
    assert problem.line == 2
    assert "lollollol" not in problem.message


def test_doctype_after_leading_comments_is_found() -> None:
    data = b'<?xml version="1.0"?>\n<!-- exported -->\n<?tool x?>\n<!DOCTYPE r SYSTEM "r.dtd">\n<r/>'

    [problem] = problems_of(data)

    assert DTD_MESSAGE in problem.message
    assert problem.line == 4


def test_doctype_after_a_prolog_longer_than_the_scan_window_is_found() -> None:
    data = b"<!--" + b"x" * 200_000 + b"-->\n<!DOCTYPE r [<!ENTITY a 'b'>]>\n<r>&a;</r>"

    [problem] = problems_of(data)

    assert DTD_MESSAGE in problem.message


# --- malformed XML ----------------------------------------------------------------------------------


def test_malformed_xml_reports_the_line_in_plain_words() -> None:
    data = bpmn(SIMPLE_BODY).replace(b"</bpmn:process>", b"</bpmn:proces>")

    problems = problems_of(data, "broken.bpmn")

    # libxml2 names the tags without their prefixes.
    assert (problems[0].line, problems[0].message) == (
        7,
        "the closing tag </proces> does not match the opening tag <process> on line 3",
    )


def test_each_syntax_error_is_one_problem() -> None:
    data = b'<a>\n<b x="1" x="2"/>\n<c>&bogus;</c>\n<d>fish & chips</d>\n</a>'

    problems = problems_of(data)

    assert [(p.line, p.message) for p in problems] == [
        (2, "the attribute x appears twice on the same element"),
        (
            3,
            "unknown entity &bogus; (XML knows only &lt; &gt; &amp; &quot; &apos; and numeric references "
            "like &#169;)",
        ),
        (4, "a bare '&' must be written as &amp;"),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b'{"not": "xml"}', "does not start with an XML element"),
        (b"<a>\n<b>\n", "the file ends before"),
        (b"<a/>\n<b/>", "more content after the end of the root element"),
    ],
)
def test_common_syntax_errors_are_explained(data: bytes, expected: str) -> None:
    [problem] = problems_of(data)

    assert expected in problem.message
    assert problem.line is not None


# --- BPMN schema --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "root"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10"><rect/></svg>', "<svg>"),
        (b'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion/></project>', "<project>"),
        (b"<definitions><process/></definitions>", "<definitions> (no namespace)"),
    ],
)
def test_xml_that_is_not_bpmn_gets_one_clear_problem(data: bytes, root: str) -> None:
    [problem] = problems_of(data, "picture.svg")

    assert problem.message.startswith(f"not a BPMN 2.0 file: root element is {root}")
    assert "expected bpmn:definitions" in problem.message


def test_unknown_bpmn_element_is_reported_with_line_and_id() -> None:
    body = SIMPLE_BODY + '\n    <bpmn:frobnicate id="Frob_1" />'

    [problem] = problems_of(bpmn(body), "frob.bpmn")

    assert problem.line == 7
    assert problem.element_id == "Frob_1"
    assert problem.message.startswith("element <bpmn:frobnicate> is not allowed here")


def test_every_schema_violation_is_reported() -> None:
    body = (
        '    <bpmn:startEvent id="Start_1" color="red" />\n'
        '    <bpmn:sequenceFlow id="Flow_1" targetRef="End_1">\n'
        '      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\n'
        "        <bpmn:documentation>x</bpmn:documentation><bpmn:oops/>\n"
        "      </bpmn:conditionExpression>\n"
        "    </bpmn:sequenceFlow>\n"
        '    <bpmn:endEvent id="End_1" />\n'
        '    <bpmn:task id="End_1" />'
    )
    data = bpmn(body, namespaces='xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')

    problems = problems_of(data, "many.bpmn")

    assert [(p.line, p.element_id, p.message) for p in problems] == [
        (4, "Start_1", "attribute color is not allowed on <bpmn:startEvent>"),
        (5, "Flow_1", "element <bpmn:sequenceFlow> is missing the required attribute sourceRef"),
        (
            7,
            "Flow_1",
            "element <bpmn:oops> is not allowed here; "
            "expected one of: bpmn:documentation, bpmn:extensionElements",
        ),
        (
            11,
            "End_1",
            "id 'End_1' of <bpmn:task> is used by more than one element; ids must be unique in a file",
        ),
    ]


def test_schema_errors_on_one_line_point_at_the_right_element() -> None:
    body = '<bpmn:task id="Task_a" /><bpmn:task id="Task_b" bad="1" />'

    [problem] = problems_of(bpmn(body), "oneline.bpmn")

    assert (problem.line, problem.element_id) == (4, "Task_b")


def test_extensions_of_all_dialects_pass_the_schema() -> None:
    namespaces = (
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
    )
    body = (
        '    <bpmn:userTask id="Task_1" camunda:assignee="demo" camunda:priority="5">\n'
        "      <bpmn:extensionElements>\n"
        '        <camunda:formData><camunda:formField id="f" type="string" /></camunda:formData>\n'
        '        <zeebe:taskDefinition type="work" />\n'
        "        <spiffworkflow:instructionsForEndUser>Do it</spiffworkflow:instructionsForEndUser>\n"
        "      </bpmn:extensionElements>\n"
        "    </bpmn:userTask>"
    )
    tree = parse_xml(bpmn(body, namespaces=namespaces), "mixed.bpmn")

    assert validate_bpmn(tree, "mixed.bpmn") == []


def test_validation_from_many_threads_gives_each_caller_its_own_errors() -> None:
    good = parse_xml(CAMUNDA_FILE, "good.bpmn")
    bad = parse_xml(bpmn(SIMPLE_BODY + '\n    <bpmn:task id="Task_x" bad="1" />'), "bad.bpmn")
    results: list[tuple[str, list[Problem]]] = []
    lock = threading.Lock()

    def work(name: str, tree: etree._ElementTree) -> None:
        for _ in range(50):
            found = validate_bpmn(tree, name)
            with lock:
                results.append((name, found))

    threads = [threading.Thread(target=work, args=(n, t)) for n, t in [("good", good), ("bad", bad)] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 400
    for name, found in results:
        if name == "good":
            assert found == []
        else:
            assert [(p.line, p.element_id) for p in found] == [(7, "Task_x")]


# --- dialects ---------------------------------------------------------------------------------------------


def test_zeebe_file_passes_the_file_checks_as_camunda8() -> None:
    tree, dialect = load_bpmn(ZEEBE_FILE, "ship.bpmn")

    assert dialect is Dialect.ZEEBE and tree.getroot().get("id") == "Definitions_zeebe"
    assert detect_dialect(parse_xml(ZEEBE_FILE, "ship.bpmn")) is Dialect.ZEEBE


@pytest.mark.parametrize(
    ("namespaces", "body", "attributes", "expected"),
    [
        ("", SIMPLE_BODY, "", Dialect.PLAIN),
        # Declared but unused: Camunda Modeler declares xmlns:camunda in every file.
        ('xmlns:camunda="http://camunda.org/schema/1.0/bpmn"', SIMPLE_BODY, "", Dialect.PLAIN),
        (
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
            '    <bpmn:userTask id="T" camunda:assignee="demo" />',
            "",
            Dialect.CAMUNDA7,
        ),
        (
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
            '    <bpmn:manualTask id="T"><bpmn:extensionElements><spiffworkflow:instructionsForEndUser>'
            "Go</spiffworkflow:instructionsForEndUser></bpmn:extensionElements></bpmn:manualTask>",
            "",
            Dialect.SPIFF,
        ),
        (
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
            '    <bpmn:serviceTask id="T" camunda:asyncBefore="true"><bpmn:extensionElements>'
            '<zeebe:taskDefinition type="x" /></bpmn:extensionElements></bpmn:serviceTask>',
            "",
            Dialect.ZEEBE,
        ),
        (
            'xmlns:modeler="http://camunda.org/schema/modeler/1.0"',
            SIMPLE_BODY,
            'modeler:executionPlatform="Camunda Cloud"',
            Dialect.ZEEBE,
        ),
    ],
    ids=["plain", "camunda-declared-only", "camunda", "spiff", "zeebe-wins", "camunda-cloud-platform"],
)
def test_dialect_follows_the_namespaces_in_use(
    namespaces: str, body: str, attributes: str, expected: Dialect
) -> None:
    tree = parse_xml(bpmn(body, namespaces=namespaces, attributes=attributes), "d.bpmn")

    assert detect_dialect(tree) is expected


def test_dialect_values_are_what_definitions_store() -> None:
    assert [d.value for d in Dialect] == ["camunda7", "spiff", "bpmn", "camunda8"]
