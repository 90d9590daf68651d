"""Deploy-time checks of timer values: every timer a deployment accepts can be scheduled."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from engine.bpmn_xml import Element, iter_bpmn, local_name, text_of
from engine.el import is_el
from engine.problems import Problem
from engine.references import value_problems
from engine.spiff.schedule import TimerError, TimerKind, check_literal, looks_literal

_ISO_LIKE = re.compile(r"^(R\d*/|P|\d{4}-)", re.IGNORECASE)
# Literal values are checked against a fixed instant: only their form matters here.
_CHECK_TIME = datetime(2026, 1, 1, tzinfo=UTC)

Compile = Callable[[str, Element, int | None], None]


def check_timers(
    process: Element, filename: str, problems: list[Problem], compile_expression: Compile
) -> None:
    for definition in iter_bpmn(process, "timerEventDefinition"):
        owner = definition.getparent()
        owner_id = owner.get("id") if owner is not None else None
        values = [
            child
            for child in definition
            if isinstance(child.tag, str) and local_name(child) in {k.value for k in TimerKind}
        ]
        if len(values) != 1 or text_of(values[0]) is None:
            problems.append(
                Problem(
                    filename,
                    "a timer needs exactly one timeDate, timeDuration or timeCycle with a value "
                    "(e.g. timeDuration PT1H, timeDate 2026-12-01T09:00:00Z, timeCycle R3/PT1H)",
                    definition.sourceline,
                    owner_id,
                )
            )
            continue
        element = values[0]
        kind = TimerKind(local_name(element))
        text = text_of(element) or ""
        starts_process = (
            owner is not None and local_name(owner) == "startEvent" and owner.getparent() is process
        )

        def problem(message: str, element: Element = element, owner_id: str | None = owner_id) -> None:
            problems.append(Problem(filename, message, element.sourceline, owner_id))

        if is_el(text):
            if starts_process:
                problem(
                    f"timer start event value `{text}` refers to a variable, but it is scheduled when "
                    "the process is deployed, before any variable exists; write a literal value"
                )
            for message in value_problems(text):
                problem(f"timer {message}")
            continue
        if looks_literal(text) or _ISO_LIKE.match(text):
            try:
                check_literal(kind, text, _CHECK_TIME)
            except TimerError as err:
                problem(f"{kind.value} `{text}`: {err}")
            continue
        if starts_process:
            problem(
                f"timer start event value `{text}` is an expression, but it is scheduled when the "
                "process is deployed; write a literal value such as R/P1D or 0 0 9 * * ?"
            )
            continue
        compile_expression(text, owner if owner is not None else element, element.sourceline)
