"""Check a parsed file against the BPMN 2.0 XML schema and report every violation in plain words.

The schema is the OMG's BPMN 2.0 XSD as shipped inside SpiffWorkflow's wheel; it is compiled once,
on first use, and shared. libxml2 schema objects must not validate from several threads at once
(the error log lives on the schema object), so validation runs under a lock: it costs about a
tenth of a millisecond for a typical diagram, far less than a deployment's other steps.

The XSD allows attributes and ``extensionElements`` content from other namespaces, so Camunda,
Zeebe and SpiffWorkflow extensions validate without help.

Limits of libxml2's schema check, for whoever builds on it: after the first unexpected child element
it skips the rest of that parent's children, so errors behind an unknown element appear only once it
is fixed; and it does not check that ``xs:IDREF`` attributes (a sequence flow's ``sourceRef`` and
``targetRef``) name an existing id. Those references are the linter's job.
"""

from __future__ import annotations

import copy
import pathlib
import re
import tempfile
import threading
from collections.abc import Iterable
from importlib import resources
from typing import Any, NamedTuple, cast

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from engine.problems import Problem

BPMN_MODEL_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFINITIONS_TAG = f"{{{BPMN_MODEL_NS}}}definitions"

# The prefixes people know these namespaces by, for messages ("<bpmn:task>", not "{http://...}task").
KNOWN_PREFIXES = {
    BPMN_MODEL_NS: "bpmn",
    "http://www.omg.org/spec/BPMN/20100524/DI": "bpmndi",
    "http://www.omg.org/spec/DD/20100524/DC": "dc",
    "http://www.omg.org/spec/DD/20100524/DI": "di",
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://camunda.org/schema/zeebe/1.0": "zeebe",
    "http://camunda.org/schema/modeler/1.0": "modeler",
    "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
}

_SCHEMA_PACKAGE = "SpiffWorkflow.bpmn.parser"
_SCHEMA_FILES = ("BPMN20.xsd", "Semantic.xsd", "BPMNDI.xsd", "DC.xsd", "DI.xsd")

_RETRIEVAL_EXPRESSION = f"{{{BPMN_MODEL_NS}}}correlationPropertyRetrievalExpression"
_FORMAL_EXPRESSION = f"{{{BPMN_MODEL_NS}}}formalExpression"
_MESSAGE_PATH = f"{{{BPMN_MODEL_NS}}}messagePath"
_CALL_ACTIVITY = f"{{{BPMN_MODEL_NS}}}callActivity"
_NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")

_schema: etree.XMLSchema | None = None
_schema_lock = threading.Lock()


def validate_bpmn(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Every BPMN 2.0 schema violation in ``tree``, each with its line and nearest element id.

    A file whose root is not ``bpmn:definitions`` gets one problem saying so, and no schema check.
    The caller's tree is never modified.
    """
    root = tree.getroot()
    if root.tag != DEFINITIONS_TAG:
        return [
            Problem(
                filename,
                f"not a BPMN 2.0 file: root element is {_describe_root(root.tag)}, expected bpmn:definitions "
                f"(namespace {BPMN_MODEL_NS})",
                _line_of(root),
            )
        ]
    candidate = _bpmn_io_compatible(tree)
    schema = _compiled_schema()
    with _schema_lock:
        valid = schema.validate(candidate)
        # Copied inside the lock: the next validation replaces the schema's error log.
        log = cast(Iterable[Any], schema.error_log)
        errors = [_SchemaError(_positive(e.line), str(e.message), str(e.path or "")) for e in log]
    if valid:
        return []
    finder = _ElementFinder(tree)
    return [
        Problem(filename, plain_schema_message(e.message), e.line, finder.nearest_id(e.line, e.path))
        for e in errors
    ]


class _SchemaError(NamedTuple):
    line: int | None
    message: str
    path: str  # libxml2's XPath to the offending element, e.g. /bpmn:definitions/bpmn:process/bpmn:task[2]


def _bpmn_io_compatible(tree: etree._ElementTree) -> etree._ElementTree:
    """The tree to validate: ``tree`` itself, or a copy with bpmn.io's correlation quirk fixed.

    bpmn.io (and so Camunda Modeler) writes ``correlationPropertyRetrievalExpression/formalExpression``
    where the XSD wants ``messagePath``. SpiffWorkflow's BpmnValidator renames the element in place;
    here a copy is renamed instead, because SpiffWorkflow's parser later reads the original name.
    A deep copy keeps every element's source line, so problems still point into the uploaded file.

    Camunda reads a call activity's ``calledElement`` (an ``xs:QName`` in the XSD) as a process key
    or an expression (``${key}``); such values are replaced by a valid name in the copy too.
    """
    calls = [c for c in tree.getroot().iter(_CALL_ACTIVITY) if not _NCNAME.match(c.get("calledElement", "x"))]
    if not calls and not any(
        child.tag == _FORMAL_EXPRESSION
        for retrieval in tree.getroot().iter(_RETRIEVAL_EXPRESSION)
        for child in retrieval
    ):
        return tree
    fixed: etree._ElementTree = copy.deepcopy(tree)
    for retrieval in fixed.getroot().iter(_RETRIEVAL_EXPRESSION):
        for element in retrieval:
            if element.tag == _FORMAL_EXPRESSION:
                element.tag = _MESSAGE_PATH
    for call in fixed.getroot().iter(_CALL_ACTIVITY):
        if call.get("calledElement") is not None:
            call.set("calledElement", "calledProcess")
    return fixed


def _compiled_schema() -> etree.XMLSchema:
    """The BPMN 2.0 schema, compiled on first use (~50 ms cold) and then shared."""
    global _schema
    with _schema_lock:
        if _schema is None:
            _schema = _compile_schema()
        return _schema


def _compile_schema() -> etree.XMLSchema:
    schema_dir = resources.files(_SCHEMA_PACKAGE).joinpath("schema")
    # BPMN20.xsd imports its siblings by relative path, so they must sit side by side on disk. A
    # normal install is a directory already; a zipped one is copied out once.
    if isinstance(schema_dir, pathlib.Path):
        return _compile_schema_in(schema_dir)
    with tempfile.TemporaryDirectory(prefix="flowdesk-bpmn-xsd-") as tmp:
        for name in _SCHEMA_FILES:
            (pathlib.Path(tmp) / name).write_bytes(schema_dir.joinpath(name).read_bytes())
        return _compile_schema_in(pathlib.Path(tmp))


def _compile_schema_in(directory: pathlib.Path) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    document = etree.parse(str(directory / "BPMN20.xsd"), parser)
    return etree.XMLSchema(document)


# --- locating errors --------------------------------------------------------------------------


class _ElementFinder:
    """Finds the id of the element a schema error is about.

    libxml2 gives the offending element's line (where its start tag ends, i.e. its ``sourceline``)
    and an XPath to it. The path is tried first, since it still tells elements apart when a tool
    wrote the whole file on one line; it is trusted only if it leads to one element on the reported
    line. Otherwise the first element on that line is taken. From there, ancestors are walked up
    to the nearest one with an ``id``: a problem in ``<bpmn:conditionExpression>`` is reported
    against its sequence flow.
    """

    def __init__(self, tree: etree._ElementTree) -> None:
        self._tree = tree
        root = tree.getroot()
        # libxml2 writes paths with the document's own prefixes (and "*" for the default namespace).
        self._namespaces = {prefix: uri for prefix, uri in root.nsmap.items() if prefix}
        self._by_line: dict[int, Any] = {}
        for element in root.iter(etree.Element):  # elements only: a comment has a line too
            line = _line_of(element)
            if line is not None and line not in self._by_line:
                self._by_line[line] = element

    def nearest_id(self, line: int | None, path: str = "") -> str | None:
        if line is None:
            return None
        element = self._by_path(path, line)
        if element is None:  # not `or`: an lxml element without children is falsy
            element = self._by_line.get(line)
        while element is not None:
            element_id = element.get("id")
            if element_id:
                return str(element_id)
            element = element.getparent()
        return None

    def _by_path(self, path: str, line: int) -> Any:
        if not path.startswith("/"):
            return None
        try:
            found = self._tree.xpath(path, namespaces=self._namespaces)
        except etree.XPathError:  # a prefix redeclared deeper in the document, for instance
            return None
        if isinstance(found, list) and len(found) == 1 and _line_of(found[0]) == line:
            return found[0]
        return None


def _line_of(element: Any) -> int | None:
    return _positive(element.sourceline)


def _positive(value: object) -> int | None:
    # libxml2 reports line 0 when it knows no line.
    return value if isinstance(value, int) and value > 0 else None


# --- messages in plain words --------------------------------------------------------------------

_CLARK_NAME = re.compile(r"\{([^}]*)\}([\w.-]+)")
_ERROR_SUBJECT = re.compile(
    r"^Element '(?P<element>[^']+)'(?:, attribute '(?P<attribute>[^']+)')?: (?P<rest>.*)$", re.S
)
_EXPECTED = re.compile(r"Expected is (?:one of )?\( (?P<names>.*) \)\.?$", re.S)
_NOT_VALID_VALUE = re.compile(
    r"^'(?P<value>.*)' is not a valid value of the (?:local )?\w+ type '(?P<type>[^']+)'\.?$", re.S
)
_NOT_IN_SET = re.compile(
    r"^\[facet 'enumeration'\] The value '(?P<value>.*)' is not an element of the set "
    r"\{(?P<choices>.*)\}\.?$",
    re.S,
)
_FACET = re.compile(r"^\[facet '\w+'\] ")
_REQUIRED_ATTRIBUTE = re.compile(r"^The attribute '([^']+)' is required but missing\.?$")
_ATTRIBUTE_NOT_ALLOWED = re.compile(r"^The attribute '[^']+' is not allowed\.?$")
_NCNAME = re.compile(r"^[^\W\d][\w.-]*$")
_MAX_EXPECTED_SHOWN = 6


def plain_schema_message(message: str) -> str:
    """Rewrite one libxml2 schema message into plain words.

    ``Element '{ns}foo': This element is not expected.`` becomes ``element <bpmn:foo> is not allowed
    here``; messages without a known shape keep their text, with namespaces shortened to prefixes.
    """
    message = message.strip()
    subject = _ERROR_SUBJECT.match(message)
    if subject is None:
        return _shorten_names(message)
    element = f"<{_display_name(subject['element'])}>"
    attribute = subject["attribute"]
    # What a bad value belongs to: "attribute isExecutable of <bpmn:process>" or "the text of <...>".
    owner = f"attribute {_display_name(attribute)} of {element}" if attribute else f"the text of {element}"
    rest = subject["rest"].strip()

    if rest.startswith("This element is not expected."):
        return f"element {element} is not allowed here" + _expected_suffix(rest, "expected")
    if rest.startswith("Missing child element(s)."):
        return f"element {element} is missing a child element" + _expected_suffix(rest, "add")
    if rest.startswith("Character content other than whitespace is not allowed"):
        return f"element {element} must not contain text, only child elements"
    if match := _REQUIRED_ATTRIBUTE.match(rest):
        return f"element {element} is missing the required attribute {_display_name(match[1])}"
    if attribute and _ATTRIBUTE_NOT_ALLOWED.match(rest):
        return f"attribute {_display_name(attribute)} is not allowed on {element}"
    if match := _NOT_VALID_VALUE.match(rest):
        return _invalid_value_message(element, owner, match["value"], match["type"])
    if match := _NOT_IN_SET.match(rest):
        choices = ", ".join(re.findall(r"'([^']*)'", match["choices"]))
        return f"{owner} must be one of {choices}, not '{match['value']}'"
    rest = _FACET.sub("", rest)
    return f"{owner if attribute else f'element {element}'}: {_shorten_names(rest)}"


def _invalid_value_message(element: str, owner: str, value: str, type_name: str) -> str:
    if type_name == "xs:ID":
        if _NCNAME.match(value):
            # A well-formed id fails xs:ID only when another element already uses it.
            return f"id '{value}' of {element} is used by more than one element; ids must be unique in a file"
        return (
            f"'{value}' is not a valid id ({owner}): an id starts with a letter or '_' and contains only "
            "letters, digits, '-', '_' and '.'"
        )
    if type_name == "xs:boolean":
        return f"{owner} must be true or false, not '{value}'"
    if type_name in ("xs:integer", "xs:int", "xs:nonNegativeInteger", "xs:positiveInteger"):
        return f"{owner} must be a whole number, not '{value}'"
    if type_name == "xs:QName":
        return f"{owner} must be a reference like 'prefix:name' with a declared prefix, not '{value}'"
    return f"{owner} has the value '{value}', which is not a valid {type_name}"


def _expected_suffix(rest: str, verb: str) -> str:
    expected = _EXPECTED.search(rest)
    if expected is None:
        return ""
    names = [_display_name(name.strip()) for name in expected["names"].split(",") if name.strip()]
    shown = ", ".join(names[:_MAX_EXPECTED_SHOWN])
    # libxml2 itself lists at most ten names, so a long list is a sample of what is allowed.
    if len(names) > _MAX_EXPECTED_SHOWN:
        shown += ", ..."
    return f"; {verb} one of: {shown}" if len(names) > 1 else f"; {verb} {shown}"


def _display_name(name: object) -> str:
    """``{namespace}local`` as ``prefix:local`` for the namespaces people know by prefix."""
    text = str(name)
    match = _CLARK_NAME.fullmatch(text)
    if match is None:
        return text
    prefix = KNOWN_PREFIXES.get(match[1])
    return f"{prefix}:{match[2]}" if prefix else text


def _describe_root(tag: object) -> str:
    """``<svg> (namespace http://www.w3.org/2000/svg)``: the namespace is often the whole mistake."""
    text = str(tag)
    match = _CLARK_NAME.fullmatch(text)
    if match is None:
        return f"<{text}> (no namespace)"
    if match[1] in KNOWN_PREFIXES:
        return f"<{_display_name(text)}>"
    return f"<{match[2]}> (namespace {match[1]})"


def _shorten_names(text: str) -> str:
    return _CLARK_NAME.sub(lambda match: _display_name(match[0]), text)
