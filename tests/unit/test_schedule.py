"""Timer values: ISO-8601 dates, durations, repeating intervals and cron, against a given now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.spiff.schedule import Cycle, TimerError, TimerKind, first_due, looks_literal
from engine.spiff.timers import timer_expression
from engine.worker import MIN_TIMER_WAIT, timer_wait

NOW = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)


def test_durations_count_months_by_the_calendar() -> None:
    assert first_due(TimerKind.DURATION, "PT1H30M", NOW) == NOW + timedelta(hours=1, minutes=30)
    assert first_due(TimerKind.DURATION, "P1M", NOW) == datetime(2026, 3, 3, 8, tzinfo=UTC)


def test_dates_without_zone_are_utc() -> None:
    assert first_due(TimerKind.DATE, "2026-12-01T09:00:00", NOW) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert first_due(TimerKind.DATE, "2026-12-01T09:00:00+01:00", NOW) == datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_repeating_intervals_count_down_and_end() -> None:
    cycle = first_due(TimerKind.CYCLE, "R2/PT1H", NOW)
    assert isinstance(cycle, Cycle) and (cycle.next_at, cycle.repeats) == (NOW + timedelta(hours=1), 2)
    second = cycle.following()
    assert second is not None and second.next_at == NOW + timedelta(hours=2)
    assert second.following() is None
    started = first_due(TimerKind.CYCLE, "R/2026-02-01T00:00:00Z/P1D", NOW)
    assert isinstance(started, Cycle) and started.next_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert started.repeats == -1


def test_cron_quartz_and_five_field() -> None:
    quartz = first_due(TimerKind.CYCLE, "0 15 10 ? * MON-FRI", NOW)  # 2026-01-31 is a Saturday
    assert isinstance(quartz, Cycle) and quartz.next_at == datetime(2026, 2, 2, 10, 15, tzinfo=UTC)
    plain = first_due(TimerKind.CYCLE, "*/20 * * * *", NOW)
    assert isinstance(plain, Cycle) and plain.next_at == NOW + timedelta(minutes=20)
    following = plain.following()
    assert following is not None and following.next_at == NOW + timedelta(minutes=40)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (TimerKind.DURATION, "PT"),
        (TimerKind.DURATION, "1 hour"),
        (TimerKind.DATE, "tomorrow"),
        (TimerKind.CYCLE, "R0/PT1H"),
        (TimerKind.CYCLE, "R3/PT1H/2026-01-01T00:00:00Z"),
        (TimerKind.CYCLE, "99 * * * *"),
    ],
)
def test_bad_values_raise_timer_errors(kind: TimerKind, value: str) -> None:
    with pytest.raises(TimerError):
        first_due(kind, value, NOW)


def test_camunda_literals_become_python_strings_and_references_lookups() -> None:
    assert timer_expression("PT1H") == "'PT1H'"
    assert timer_expression("2026-12-01T09:00:00Z") == "'2026-12-01T09:00:00Z'"
    assert timer_expression("0 0 9 * * ?") == "'0 0 9 * * ?'"
    assert timer_expression("${order.due}") == "order['due']"
    assert timer_expression('"PT" + str(hours) + "H"') == '"PT" + str(hours) + "H"'
    assert not looks_literal("wait_time")


def test_the_timer_loop_sleeps_until_the_next_due_time_at_most_the_poll() -> None:
    assert timer_wait(None, NOW, 1.0) == 1.0
    assert timer_wait(NOW + timedelta(milliseconds=300), NOW, 1.0) == pytest.approx(0.3)
    assert timer_wait(NOW + timedelta(hours=1), NOW, 1.0) == 1.0
    assert timer_wait(NOW - timedelta(seconds=5), NOW, 1.0) == MIN_TIMER_WAIT
