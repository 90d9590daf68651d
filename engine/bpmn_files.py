"""The front door for BPMN files from outside: parse safely, check the schema, detect the dialect.

Measured on one core (lxml 6.1, libxml2 2.14), medians: for a 5 KB, 86-line Camunda Modeler file
with a diagram, parsing takes ~65 µs, the schema check ~60 µs (~95 µs when bpmn.io's correlation
quirk forces a copy), dialect detection ~65 µs; ~0.3 ms for all of ``load_bpmn``. Compiling the
schema costs ~50 ms once per process, on first use. SpiffWorkflow's own parse of the same file
costs about a millisecond, so this front door adds little.
"""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped, unused-ignore]  # typed only with lxml-stubs

from engine.bpmn_schema import validate_bpmn
from engine.dialect import Dialect, detect_dialect
from engine.exceptions import DeploymentError
from engine.xmlsafe import DEFAULT_MAX_BPMN_BYTES, parse_xml


def load_bpmn(
    data: bytes, filename: str, max_bytes: int = DEFAULT_MAX_BPMN_BYTES
) -> tuple[etree._ElementTree, Dialect]:
    """Parse and check one uploaded BPMN file; return its tree and dialect.

    Raises:
        DeploymentError: listing every problem found. A file too large, with a DTD or not
            well-formed stops at the first step; otherwise every schema problem is reported.
    """
    tree = parse_xml(data, filename, max_bytes)
    dialect = detect_dialect(tree)
    problems = validate_bpmn(tree, filename)
    if problems:
        raise DeploymentError(problems)
    return tree, dialect
