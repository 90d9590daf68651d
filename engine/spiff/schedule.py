"""When a timer is due: ISO-8601 dates, durations, repeating intervals (``R3/PT1H``) and cron.

SpiffWorkflow parses ISO-8601 but reads the wall clock itself (``datetime.now``); everything here
takes ``now`` as an argument, so the engine's injected clock decides. Cron expressions follow
Camunda (Quartz: seconds first, ``?`` allowed) and plain five-field cron, through croniter.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import variables

_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(\.\d+)?[YMWD])*(T(\d+(\.\d+)?[HMS])+)?$", re.IGNORECASE)
_CRON_FIELD = re.compile(r"^[\d*?/,\-LW#A-Za-z]+$")


class TimerError(ValueError):
    """A timer value that is not an ISO-8601 date, duration, repeating interval or cron expression."""


class TimerKind(enum.StrEnum):
    """Which BPMN element holds the value: ``timeDate``, ``timeDuration`` or ``timeCycle``."""

    DATE = "timeDate"
    DURATION = "timeDuration"
    CYCLE = "timeCycle"


def is_cron(text: str) -> bool:
    fields = text.split()
    return len(fields) in (5, 6, 7) and all(_CRON_FIELD.match(f) for f in fields)


def looks_literal(text: str) -> bool:
    """True for a bare ISO-8601 value or cron expression (Camunda's way of writing timers)."""
    value = text.strip()
    if not value:
        return False
    if _DURATION.match(value) or (value.upper().startswith("R") and "/" in value) or is_cron(value):
        return True
    try:
        parse_date(value)
    except TimerError:
        return False
    return True


def parse_date(value: Any) -> datetime:
    """An aware UTC datetime from an ISO-8601 text, a datetime or a date.

    Naive values are read as UTC, not as the server's local time (SpiffWorkflow's choice): the
    same file means the same instant wherever Flowdesk runs.
    """
    moment = variables.parse_date(value)
    if moment is None:
        if isinstance(value, str):
            raise TimerError(f"`{value}` is not an ISO-8601 date such as 2026-12-01T09:00:00Z")
        raise TimerError(f"a timer date must be a text or a date, not {type(value).__name__}")
    return moment.astimezone(UTC)


def add_duration(text: str, start: datetime) -> datetime:
    """``start`` plus an ISO-8601 duration (months and years by the calendar)."""
    value = text.strip()
    if not _DURATION.match(value):
        raise TimerError(f"`{text}` is not an ISO-8601 duration such as PT1H or P2D")
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
        delta: timedelta = TimerEventDefinition.get_timedelta_from_start(parsed, start)
        return start + delta
    except Exception as err:
        raise TimerError(f"`{text}` is not an ISO-8601 duration such as PT1H or P2D") from err


def _cron(text: str, after: datetime) -> datetime:
    fields = text.split()
    if len(fields) == 7:  # Quartz's optional year field; croniter has none
        fields = fields[:6]
    expression = " ".join(fields)
    seconds_first = len(fields) == 6
    if not croniter.is_valid(expression, second_at_beginning=seconds_first):
        raise TimerError(f"`{text}` is not a valid cron expression")
    moment: datetime = croniter(expression, after, second_at_beginning=seconds_first).get_next(datetime)
    return parse_date(moment)


@dataclass(frozen=True)
class Cycle:
    """A repeating timer: ``repeats`` more firings (-1: forever), the next one at ``next_at``."""

    next_at: datetime
    repeats: int
    interval: str | None = None  # an ISO-8601 duration, for R.../... cycles
    cron: str | None = None

    def following(self) -> Cycle | None:
        """The cycle after ``next_at`` has fired; None when it has fired its last time."""
        repeats = self.repeats - 1 if self.repeats > 0 else self.repeats
        if repeats == 0:
            return None
        if self.cron is not None:
            return Cycle(_cron(self.cron, self.next_at), repeats, cron=self.cron)
        assert self.interval is not None
        return Cycle(add_duration(self.interval, self.next_at), repeats, interval=self.interval)

    def to_dict(self) -> dict[str, Any]:
        return {
            "next": self.next_at.isoformat(),
            "repeats": self.repeats,
            "interval": self.interval,
            "cron": self.cron,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cycle:
        return cls(parse_date(data["next"]), int(data["repeats"]), data.get("interval"), data.get("cron"))


def parse_cycle(value: Any, now: datetime) -> Cycle:
    """A ``timeCycle`` value: ``R3/PT1H``, ``R/PT10M``, ``R2/2026-12-01T09:00:00Z/P1D`` or cron."""
    if not isinstance(value, str):
        raise TimerError(f"a timer cycle must be a text, not {type(value).__name__}")
    text = value.strip()
    if is_cron(text):
        return Cycle(_cron(text, now), -1, cron=text)
    parts = text.split("/")
    if not parts[0].upper().startswith("R") or len(parts) not in (2, 3):
        raise TimerError(
            f"`{value}` is not a repeating interval (R3/PT1H, R/P1D, R2/2026-12-01T09:00:00Z/PT1H) "
            "or a cron expression (0 0 9 * * ?)"
        )
    count = parts[0][1:]
    if count and not count.isdigit():
        raise TimerError(f"`{value}`: the repetition count after R must be a whole number")
    repeats = int(count) if count else -1
    if repeats == 0:
        raise TimerError(f"`{value}` repeats zero times; use R1 or more")
    if len(parts) == 2:
        interval = parts[1]
        return Cycle(add_duration(interval, now), repeats, interval=interval)
    if _DURATION.match(parts[2].strip()):
        # A start date: the first firing is at the start, then every interval.
        return Cycle(parse_date(parts[1]), repeats, interval=parts[2])
    if _DURATION.match(parts[1].strip()):
        raise TimerError(f"`{value}`: an interval that ends at a date is not supported; give a start date")
    raise TimerError(f"`{value}` is not a repeating interval such as R3/PT1H")


def first_due(kind: TimerKind, value: Any, now: datetime) -> datetime | Cycle:
    """When a timer that starts waiting at ``now`` is first due (a Cycle for timeCycle)."""
    if kind is TimerKind.DATE:
        return parse_date(value)
    if kind is TimerKind.DURATION:
        if isinstance(value, timedelta):
            return now + value
        if not isinstance(value, str):
            raise TimerError(f"a timer duration must be a text such as PT1H, not {type(value).__name__}")
        return add_duration(value, now)
    return parse_cycle(value, now)


def check_literal(kind: TimerKind, text: str, now: datetime) -> None:
    """Raise TimerError when a literal timer value cannot be scheduled."""
    first_due(kind, text, now)
