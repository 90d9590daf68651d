"""Timer event definitions that read the engine's clock, and the parser hook that creates them.

SpiffWorkflow's timers call ``datetime.now`` and evaluate every timer value as a Python
expression, so Camunda's literal ``PT1H`` is a NameError there. Flowdesk's subclasses:

- take the time from the script engine's ``clock`` (the Engine's, a FakeClock in tests);
- get their expression translated at parse time (``timer_expression``): literal ISO-8601 and cron
  values become Python string literals, ``${name}`` / ``${a.b}`` references become variable
  lookups, anything else (spiffworkflow files) stays a Python expression for the sandbox;
- fire a top-level timer start event at once: the instance exists because its schedule fired
  (the scheduler in ``engine.timers`` starts it), or because someone started it explicitly.

Due times stay where SpiffWorkflow keeps them, in the task's ``internal_data['event_value']``
(an ISO text; for cycles a dict), and ``due_at`` reads them back for the timer table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

from engine.el import is_el
from engine.expressions import EL_TEXT
from engine.spiff.schedule import Cycle, TimerError, TimerKind, first_due, looks_literal, parse_date

_REFERENCE = re.compile(r"^\$\{\s*([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)\s*\}$")


def timer_expression(text: str) -> str:
    """The Python expression SpiffWorkflow evaluates for a timer value written in a BPMN file."""
    value = text.strip()
    match = _REFERENCE.match(value)
    if match:
        path = "".join(f"[{part!r}]" for part in match.group(2).split(".") if part)
        return f"{match.group(1)}{path}"
    if is_el(value):
        # Camunda EL: the script engine translates and evaluates it (engine.expressions).
        return value if value.startswith(("${", "#{")) else EL_TEXT + value
    if looks_literal(value):
        return repr(value)
    return value


def _now(my_task: Any) -> datetime:
    clock: Callable[[], datetime] | None = getattr(my_task.workflow.script_engine, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _starts_instance(my_task: Any) -> bool:
    # Event subprocess start events live in a subworkflow; only the process's own start fires at once.
    return isinstance(my_task.task_spec, StartEvent) and my_task.workflow.parent_task_id is None


def _evaluate(definition: TimerEventDefinition, my_task: Any, kind: TimerKind) -> datetime | Cycle:
    value = my_task.workflow.script_engine.evaluate(my_task, definition.expression)
    try:
        return first_due(kind, value, _now(my_task))
    except TimerError as err:
        raise TimerError(f"timer {definition.name!r}: {err}") from err


class _OnceTimer:
    kind: TimerKind

    def has_fired(self, my_task: Any) -> bool:
        if _starts_instance(my_task):
            return True
        value = my_task._get_internal_data("event_value")
        if value is None:
            due = _evaluate(self, my_task, self.kind)
            value = (due.next_at if isinstance(due, Cycle) else due).isoformat()
            my_task._set_internal_data(event_value=value)
        if parse_date(value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return bool(my_task._get_internal_data("event_fired", False))


class FlowdeskTimeDate(_OnceTimer, TimeDateEventDefinition):  # type: ignore[misc]
    kind = TimerKind.DATE


class FlowdeskDuration(_OnceTimer, DurationTimerEventDefinition):  # type: ignore[misc]
    kind = TimerKind.DURATION


class FlowdeskFirstOfCycle(_OnceTimer, TimeDateEventDefinition):  # type: ignore[misc]
    """An interrupting boundary timer with a cycle: it interrupts at the cycle's first time, once.

    (SpiffWorkflow's cycle adds a branch per firing and never interrupts the activity.)
    """

    kind = TimerKind.CYCLE


class FlowdeskCycle(CycleTimerEventDefinition):  # type: ignore[misc]
    kind = TimerKind.CYCLE

    def has_fired(self, my_task: Any) -> bool:
        return _starts_instance(my_task) or bool(super().has_fired(my_task))

    def cycle_complete(self, my_task: Any) -> bool:
        """True when the next firing is due (the task then adds a branch); ends after the last one."""
        stored = my_task._get_internal_data("event_value")
        if stored is None:
            cycle = _evaluate(self, my_task, TimerKind.CYCLE)
            assert isinstance(cycle, Cycle)
        elif stored.get("repeats") == 0:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
            return False
        else:
            cycle = Cycle.from_dict(stored)
        ready = False
        if cycle.next_at <= _now(my_task):
            ready = True
            following = cycle.following()
            stored = following.to_dict() if following else {**cycle.to_dict(), "repeats": 0}
        else:
            stored = cycle.to_dict()
        my_task._set_internal_data(event_value=stored)
        return ready


def is_timer(definition: Any) -> bool:
    return isinstance(definition, TimerEventDefinition)


def due_at(task: Any) -> datetime | None:
    """When a waiting timer task is next due, from what SpiffWorkflow stored on it."""
    value = task.internal_data.get("event_value")
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("repeats") == 0:
            return None
        return parse_date(value["next"])
    return parse_date(value)


class TimerParsing:
    """Mixin for event parsers: timers become Flowdesk's classes, with translated expressions."""

    def parse_timer_event(self, event: Any) -> TimerEventDefinition:
        node = self.node  # type: ignore[attr-defined]
        name = node.get("name", node.get("id"))
        description = self.get_event_description(event)  # type: ignore[attr-defined]
        for kind, cls in (
            (TimerKind.DATE, FlowdeskTimeDate),
            (TimerKind.DURATION, FlowdeskDuration),
            (TimerKind.CYCLE, FlowdeskCycle),
        ):
            element = first(self.xpath(f".//bpmn:{kind.value}"))  # type: ignore[attr-defined]
            if element is not None:
                text = (element.text or "").strip()
                if not text:
                    break
                if node.tag.endswith("}startEvent") and node.getparent().tag.endswith("}process"):
                    # The scheduler (engine.timers) keeps a start event's cycle; in the instance it
                    # has fired once, and a cycle definition would not continue the flow.
                    cls = FlowdeskTimeDate
                interrupting = str(node.get("cancelActivity", "true")).lower() != "false"
                if kind is TimerKind.CYCLE and node.tag.endswith("}boundaryEvent") and interrupting:
                    cls = FlowdeskFirstOfCycle
                return cls(name, timer_expression(text), description=description)
        raise ValidationException(
            "the timer has no timeDate, timeDuration or timeCycle value; give one (e.g. PT1H)",
            node=node,
            file_name=self.filename,  # type: ignore[attr-defined]
        )


TIMER_CLASSES = (FlowdeskTimeDate, FlowdeskDuration, FlowdeskFirstOfCycle, FlowdeskCycle)
