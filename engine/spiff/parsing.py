"""Turn validated BPMN trees into SpiffWorkflow specs, translating the library's errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.bpmn_xml import Element, element_by_id, is_executable, processes
from engine.compensation import waiting_handlers, without_compensation
from engine.dialect import Dialect
from engine.exceptions import DeploymentError
from engine.problems import Problem
from engine.spiff.families import family
from engine.spiff.serialization import spec_to_json


@dataclass(frozen=True)
class SourceFile:
    filename: str
    root: Element
    dialect: Dialect


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    name: str | None
    source: SourceFile
    process_element: Element
    spec_json: str


def _problem_from_validation(err: ValidationException, source: SourceFile) -> Problem:
    element_id = getattr(err, "id", "") or None
    line = getattr(err, "line_number", "") or None
    if element_id and not isinstance(line, int):
        line = getattr(element_by_id(source.root, element_id), "sourceline", None)
    message = str(err.args[0]) if err.args else str(err)
    return Problem(source.filename, message, line if isinstance(line, int) else None, element_id)


def parse_processes(sources: Sequence[SourceFile]) -> list[ParsedProcess]:
    """Parse every executable process of ``sources``; raise DeploymentError listing all problems.

    Files of one dialect share one parser, so processes in one deployment can refer to each other.
    """
    parsed: list[ParsedProcess] = []
    problems: list[Problem] = []
    by_dialect: dict[Dialect, list[SourceFile]] = {}
    for source in sources:
        by_dialect.setdefault(source.dialect, []).append(source)
    for dialect, group in by_dialect.items():
        fam = family(dialect)
        parser: Any = fam.parser_class()
        current = group[0]
        try:
            for current in group:
                # SpiffWorkflow knows no compensation: Flowdesk runs it (engine.compensation).
                parser.add_bpmn_xml(without_compensation(current.root), filename=current.filename)
        except ValidationException as err:
            problems.append(_problem_from_validation(err, current))
            continue
        except Exception as err:  # the library hides some validation problems behind raw errors
            problems.append(Problem(current.filename, _explain(err)))
            continue
        handler_ids = set().union(*(waiting_handlers(source.root) for source in group))
        for source in group:
            for process in processes(source.root):
                key = process.get("id")
                if not key or not is_executable(process):
                    continue
                try:
                    spec = parser.get_spec(key)
                    _parse_handlers(parser, handler_ids)
                    subprocess_specs = parser.get_subprocess_specs(key, require_call_activity_specs=False)
                    spec_json = spec_to_json(fam, spec, subprocess_specs)
                except ValidationException as err:
                    problems.append(_problem_from_validation(err, source))
                    continue
                except Exception as err:
                    problems.append(Problem(source.filename, _explain(err), process.sourceline, key))
                    continue
                parsed.append(ParsedProcess(key, process.get("name"), source, process, spec_json))
    if problems:
        raise DeploymentError(problems)
    return parsed


def _parse_handlers(parser: Any, ids: set[str]) -> None:
    """Give compensation handlers that run as tasks their specs (engine.compensation).

    They have no incoming flow, so the library's parser, which follows flows from the start
    events, never reaches them; each is parsed into the spec of the process or subprocess that
    holds it, unconnected, for the throw event to start (engine.spiff.runner_compensation).
    """
    if not ids:
        return
    for process_parser in list(parser.process_parsers.values()):
        nodes = [n for n in process_parser.node if isinstance(n.tag, str) and n.get("id") in ids]
        if nodes:
            spec = process_parser.get_spec()
            for node in nodes:
                handler = process_parser.parse_node(node)
                # The library refuses to make a task without an input ready; nothing flows into a
                # handler, and the start's outputs stay as they are.
                handler.inputs = handler.inputs or [spec.start]


def _explain(err: Exception) -> str:
    return (
        f"the process could not be parsed ({type(err).__name__}: {err}); "
        "check the element references and extension attributes in the file"
    )
