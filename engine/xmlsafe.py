"""Parse untrusted XML uploads safely, keeping line numbers for error reports.

Every BPMN file reaches Flowdesk from outside (an upload, a deployment API call), so it is parsed
here with a hardened lxml parser before anything else sees it; SpiffWorkflow's own parser uses
lxml's defaults and must only ever be handed the tree built here.

The defences, in the order they run:

1. Size: refused before any parsing, so a huge upload costs nothing but its length.
2. DTDs: a document type declaration is refused on the raw bytes, before libxml2 reads it. BPMN
   never needs one, and a DTD is the only way to declare entities, so entity bombs ("billion
   laughs") and external entities (``file:///etc/passwd``) are turned away without being expanded
   or fetched. libxml2 2.14 already stops a billion-laughs document with its amplification limit,
   but with a message about "amplification factor" that tells a person nothing, and older libxml2
   versions behave differently; refusing the DOCTYPE ourselves gives one clear message everywhere.
3. The parser itself: no DTD loading, no entity substitution, no network, no ``huge_tree`` (which
   keeps libxml2's limits on nesting depth and text size), and a fresh parser per call because a
   parser's error log is only meaningful for the document it last parsed.
4. After parsing, the tree's docinfo is checked for a DTD again: libxml2 decodes through iconv and
   reads encodings the byte scan may not recognise. Should a DOCTYPE slip past the scan that way,
   step 3 still keeps its entities unexpanded and unfetched, and this check refuses the file.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from typing import Any, cast

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from engine.exceptions import DeploymentError
from engine.problems import Problem

DEFAULT_MAX_BPMN_BYTES = 10 * 1024 * 1024
"""The default size limit of one BPMN file, in bytes."""

MAX_BYTES_SETTING = "FLOWDESK_MAX_BPMN_BYTES"
"""The setting that raises or lowers :data:`DEFAULT_MAX_BPMN_BYTES`; named in the size problem."""

DTD_NOT_ALLOWED = (
    "DTDs/entities are not allowed in BPMN files: remove the <!DOCTYPE ...> declaration "
    "(BPMN modelers never write one)"
)

# How many bytes are decoded to look for a DOCTYPE. The prolog (XML declaration, comments,
# processing instructions, DOCTYPE) sits before the root element and is short in every real file;
# only when it runs past this window is the whole document decoded.
_PROLOG_WINDOW = 64 * 1024

_ENCODING_DECLARATION = re.compile(r"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def parse_xml(data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BPMN_BYTES) -> etree._ElementTree:
    """Parse ``data`` as XML with a hardened parser and return the tree.

    ``filename`` only labels the problems. Elements keep their ``sourceline`` for later error
    reports (libxml2 records the line where an element's start tag ends).

    Raises:
        DeploymentError: the file is larger than ``max_bytes``, declares a DTD, or is not
            well-formed XML; with one problem per syntax error, each with its line.
    """
    if len(data) > max_bytes:
        raise DeploymentError([Problem(filename, _too_big_message(len(data), max_bytes))])
    doctype_line = _doctype_line(data)
    if doctype_line is not None:
        raise DeploymentError([Problem(filename, DTD_NOT_ALLOWED, doctype_line)])

    parser = _hardened_parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        problems = _syntax_problems(cast(Iterable[Any], parser.error_log), filename)
        if not problems:  # not seen with libxml2 2.14, but never lose the error
            problems = [Problem(filename, _plain_syntax_message(str(error.msg)), _int_or_none(error.lineno))]
        raise DeploymentError(problems) from error
    tree: etree._ElementTree = root.getroottree()

    # libxml2 records any DOCTYPE, even one without an internal subset, as the internal DTD.
    docinfo = tree.docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise DeploymentError([Problem(filename, DTD_NOT_ALLOWED)])
    return tree


def _hardened_parser() -> etree.XMLParser:
    """A new parser that never loads, fetches or expands anything outside the document."""
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
        # Blank text and comments stay: dropping them would not change line numbers, but a
        # faithful tree is easier to reason about when a problem is reported against it.
        remove_blank_text=False,
    )


def _too_big_message(size: int, max_bytes: int) -> str:
    return (
        f"the file is {size:,} bytes, more than the limit of {max_bytes:,} bytes; "
        f"split the process into several files, or raise the limit with the {MAX_BYTES_SETTING} setting"
    )


# --- DOCTYPE detection on the raw bytes -------------------------------------------------------


def _doctype_line(data: bytes) -> int | None:
    """The line of a DOCTYPE declaration in the document's prolog, or None when there is none.

    Only the prolog is scanned, not the whole document: the text ``<!DOCTYPE`` may legitimately
    appear later, for instance inside a CDATA section of a script.
    """
    window = data[:_PROLOG_WINDOW]
    codec = _scan_codec(window)
    text = window.decode(codec, errors="replace")
    found, position = _scan_prolog(text, complete=len(data) <= _PROLOG_WINDOW)
    if found is None:
        # The prolog is longer than the window (a huge leading comment): decode everything.
        text = data.decode(codec, errors="replace")
        found, position = _scan_prolog(text, complete=True)
    if not found:
        return None
    return text.count("\n", 0, position) + 1


def _scan_codec(head: bytes) -> str:
    """The Python codec to decode the document's start with, following XML 1.0 appendix F.

    Byte order marks and the zero-byte patterns of UTF-16/32 come first. Otherwise the document is
    ASCII-compatible and latin-1 decodes it byte for byte, which is enough to find the ASCII
    markup; when the XML declaration names an encoding Python knows, that codec is used instead.
    """
    for bom, codec in (
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose BOM is its prefix
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
    ):
        if head.startswith(bom):
            return codec
    first = head[:4]
    if first.startswith(b"\x00\x00\x00") and len(first) == 4:
        return "utf-32-be"
    if len(first) == 4 and first[0] != 0 and first[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if len(first) >= 2 and first[0] == 0 and first[1] != 0:
        return "utf-16-be"
    if len(first) >= 2 and first[0] != 0 and first[1] == 0:
        return "utf-16-le"
    declared = _ENCODING_DECLARATION.match(head[:200].decode("latin-1"))
    if declared:
        # Decode with the declared encoding when Python knows it: libxml2 reads even UTF-7
        # (through iconv), where "<!DOCTYPE" may be written as "+ADwAIQ-DOCTYPE".
        # bytes.decode accepts text encodings only, so a declared "zlib" or "base64" cannot turn
        # this scan into a decompressor.
        try:
            b"<".decode(declared.group(1))
            return codecs.lookup(declared.group(1)).name
        except (LookupError, UnicodeDecodeError):
            pass  # libxml2 will refuse an encoding it does not know itself
    return "latin-1"


def _scan_prolog(text: str, *, complete: bool) -> tuple[bool | None, int]:
    """Walk the prolog of ``text``: (True, position) at a DOCTYPE, (False, 0) at anything else.

    Returns (None, 0) when ``text`` ends inside the prolog and is not the complete document. A plain
    loop with ``str.find`` rather than a regular expression, so a crafted prolog cannot make the
    scan backtrack.
    """
    position = 1 if text.startswith("\ufeff") else 0
    end = len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if text.startswith("<?", position):
            close = text.find("?>", position + 2)
            marker_length = 2
        elif text.startswith("<!--", position):
            close = text.find("-->", position + 4)
            marker_length = 3
        else:
            # Case-insensitive: libxml2 rejects a lower-case doctype anyway, but the message
            # about DTDs is the helpful one.
            token = text[position : position + 9]
            if token.upper() == "<!DOCTYPE":
                return True, position
            if len(token) < 9 and not complete:
                return None, 0  # the window ends just before or inside the next token
            return False, 0
        if close < 0:
            # Unterminated comment or PI: either the window ends inside it, or the parser
            # will report the syntax error.
            return (None, 0) if not complete else (False, 0)
        position = close + marker_length


# --- syntax errors in plain words ---------------------------------------------------------------

_SYNTAX_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)"),
        r"the closing tag </\3> does not match the opening tag <\1> on line \2",
    ),
    (
        re.compile(r"Premature end of data in tag (\S+) line (\d+)"),
        r"the file ends before the tag <\1> opened on line \2 is closed; is the file complete?",
    ),
    (
        re.compile(r"EndTag: '</' not found"),
        "the file ends before all tags are closed; is the file complete?",
    ),
    (re.compile(r"Document is empty"), "the file is empty"),
    (
        re.compile(r"Start tag expected, '<' not found"),
        "the file does not start with an XML element; is this an XML file?",
    ),
    (
        re.compile(r"Extra content at the end of the document"),
        "there is more content after the end of the root element; an XML file has exactly one root element",
    ),
    (re.compile(r"xmlParseEntityRef: no name"), "a bare '&' must be written as &amp;"),
    (
        re.compile(r"Entity '([^']+)' not defined"),
        r"unknown entity &\1; (XML knows only &lt; &gt; &amp; &quot; &apos; and numeric references "
        r"like &#169;)",
    ),
    (re.compile(r"Attribute (\S+) redefined"), r"the attribute \1 appears twice on the same element"),
    (re.compile(r"""AttValue: " or ' expected"""), "attribute values must be in double or single quotes"),
    (
        re.compile(r"Unescaped '<' not allowed in attributes values"),
        "an attribute value contains '<' (write it as &lt;) or its closing quote is missing",
    ),
    (re.compile(r"Couldn't find end of Start Tag (\S+)"), r"the start tag <\1> is not closed with '>'"),
    (
        re.compile(r"StartTag: invalid element name"),
        "'<' starts something that is not a valid element name (write a literal '<' as &lt;)",
    ),
    (re.compile(r"Specification mandates value for attribute (\S+)"), r"the attribute \1 has no value"),
    (
        re.compile(r"Namespace prefix (\S+) on (\S+) is not defined"),
        r"the namespace prefix '\1' (on <\1:\2>) is not declared; add xmlns:\1=\"...\" to the root element",
    ),
    (
        re.compile(r"Unsupported encoding:? ?(.*)"),
        r"the file's encoding \1 is not supported; save it as UTF-8",
    ),
    (
        re.compile(r"Invalid bytes in character encoding|Input is not proper UTF-8|Document labelled UTF-16"),
        "the file is not valid UTF-8 (or not in the encoding its XML declaration names); save it as UTF-8",
    ),
    (
        re.compile(r"Char 0x([0-9A-Fa-f]+) out of allowed range|PCDATA invalid Char value (\d+)"),
        "the file contains a control character that XML does not allow",
    ),
    (re.compile(r"Excessive depth in document: (\d+)"), r"elements are nested more than \1 levels deep"),
    (re.compile(r"Maximum entity amplification|Detected an entity reference loop"), DTD_NOT_ALLOWED),
]


def _plain_syntax_message(message: str) -> str:
    """Rewrite one libxml2 parser message into plain words; unknown messages pass through."""
    message = message.strip()
    for pattern, replacement in _SYNTAX_MESSAGES:
        match = pattern.search(message)
        if match:
            return match.expand(replacement)
    return f"the file is not well-formed XML: {message}"


def _syntax_problems(entries: Iterable[Any], filename: str) -> list[Problem]:
    """One problem per syntax error in the parser's error log.

    libxml2 reports a cascade for some mistakes (a missing quote yields three errors on the same
    line); only the first error of each line is kept, because the rest describe the same mistake.
    """
    problems: list[Problem] = []
    seen_lines: set[int | None] = set()
    for entry in entries:
        if entry.level < etree.ErrorLevels.ERROR:
            continue
        line = _int_or_none(entry.line)
        if line in seen_lines:
            continue
        seen_lines.add(line)
        problems.append(Problem(filename, _plain_syntax_message(str(entry.message)), line))
    return problems


def _int_or_none(value: object) -> int | None:
    """A positive line number, or None: libxml2 reports 0 when it knows no line."""
    return value if isinstance(value, int) and value > 0 else None


def decode_xml(data: bytes) -> str:
    """Text of a stored XML document in the encoding it declares (UTF-8 when it declares none)."""
    codec = _scan_codec(data[:256])
    if codec == "latin-1":  # the scan's fallback for ASCII-compatible files; XML's default is UTF-8
        codec = "utf-8"
    return data.decode(codec, errors="replace").lstrip("\ufeff")
