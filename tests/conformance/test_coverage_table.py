"""docs/bpmn-coverage.md, the coverage table and the conformance tests say the same thing."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conformance.coverage import COVERAGE, render

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "bpmn-coverage.md"
HERE = Path(__file__).resolve().parent


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_the_document_is_generated_from_the_table() -> None:
    assert DOC.read_text() == render(), (
        "docs/bpmn-coverage.md is out of date: run "
        "`python -m tests.conformance.coverage > docs/bpmn-coverage.md`"
    )


def test_every_row_names_a_test_that_exists() -> None:
    missing = []
    for row in COVERAGE:
        path, name = row.proof.split("::")
        if not (ROOT / path).exists() or name not in defined_tests(ROOT / path):
            missing.append(f"{row.element}: {row.proof}")
    assert missing == []


def test_every_conformance_test_is_in_the_table() -> None:
    named = {row.proof.split("::")[1] for row in COVERAGE if row.proof.startswith("tests/conformance/")}
    defined = set().union(
        *(defined_tests(p) for p in HERE.glob("test_*.py") if p.name != Path(__file__).name)
    )
    assert defined - named == set(), "add a row to tests/conformance/coverage.py for each of these tests"


def test_every_case_file_is_run_by_a_test() -> None:
    sources = "".join(p.read_text() for p in HERE.glob("test_*.py"))
    unused = [p.stem for p in (HERE / "bpmn").glob("*.bpmn") if f'"{p.stem}"' not in sources]
    assert unused == []
