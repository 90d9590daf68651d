"""Lead scoring: two scores, decay, negative rules, grades, reasons; the configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.crm.scoring import DEFAULT_CONFIG, load_config, score_lead
from handlers.exceptions import ConfigError
from tests.handlers.factories import NOW, activity, cold_lead, hot_lead

CONFIG = load_config(DEFAULT_CONFIG)


def test_good_fit_and_recent_engagement_is_an_mql_with_one_reason_per_rule() -> None:
    lead = hot_lead(activities=[activity("demo_request", 0, NOW), activity("download", 0, NOW)])

    result = score_lead(lead, CONFIG, NOW)

    assert (result.fit, result.engagement, result.grade, result.status) == (115, 33, "A", "mql")
    assert result.qualified and result.score == 148
    fired = {(r.rule, r.kind, r.points) for r in result.reasons}
    assert ("enterprise_size", "fit", 30) in fired and ("mid_market_size", "fit", 15) in fired
    assert ("activity:demo_request", "engagement", 25) in fired and (
        "activity:download",
        "engagement",
        8,
    ) in fired
    assert sum(r.points for r in result.reasons) == result.score


def test_a_poor_fit_never_becomes_an_mql_however_engaged() -> None:
    lead = cold_lead()
    lead["activities"] = [activity("demo_request", 0, NOW)] * 10

    result = score_lead(lead, CONFIG, NOW)

    assert result.engagement >= 250
    assert result.fit == -15 and result.grade == "F"
    assert result.status == "new" and not result.qualified
    assert ("free_mail_domain", "fit", -15) in {(r.rule, r.kind, r.points) for r in result.reasons}


def test_engagement_halves_every_half_life_and_stops_counting_after_the_window() -> None:
    def engagement(days: float) -> int:
        return score_lead(hot_lead(activities=[activity("demo_request", days, NOW)]), CONFIG, NOW).engagement

    assert engagement(0) == 25
    assert engagement(30) == 12  # 12.5 -> 12 (Python rounds the half to even; points are whole)
    assert engagement(60) == 6
    assert engagement(89) == 3
    assert engagement(91) == 0


def test_a_fit_good_enough_but_too_little_engagement_stays_new() -> None:
    result = score_lead(hot_lead(activities=[activity("visit", 1, NOW)]), CONFIG, NOW)

    assert result.grade == "A" and result.status == "new"


def test_competitors_are_disqualified_and_unsubscribes_count_negative() -> None:
    competitor = score_lead(hot_lead(email="spy@competitor.example"), CONFIG, NOW)
    unsubscribed = score_lead(
        hot_lead(activities=[activity("download", 1, NOW), activity("unsubscribe", 1, NOW)]), CONFIG, NOW
    )

    assert competitor.status == "disqualified" and competitor.fit < 0
    assert unsubscribed.engagement == 0  # never below zero


@pytest.mark.parametrize(
    ("lead", "grade"),
    [
        (hot_lead(), "A"),
        (
            {
                "email": "x@acme.example",
                "employees": 60,
                "industry": "software",
                "role": "CTO",
                "country": "DE",
            },
            "B",
        ),
        ({"email": "x@acme.example", "industry": "software"}, "D"),
        ({"email": "x@gmail.com"}, "F"),
    ],
    ids=["A", "B", "D", "F"],
)
def test_grade_follows_the_fit(lead: dict[str, object], grade: str) -> None:
    assert score_lead(lead, CONFIG, NOW).grade == grade


def test_operator_file_replaces_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "scoring.toml"
    own.write_text(
        "[thresholds]\nfit = 0\nengagement = 1\ndisqualify_fit_below = -1000\n"
        "[engagement]\nwindow_days = 7\nhalf_life_days = 7\n[engagement.points]\nvisit = 5\n"
        "[grades]\nA = 10\nB = 5\nC = 3\nD = 1\n"
    )
    monkeypatch.setenv("FLOWDESK_CRM_SCORING", str(own))

    config = load_config()
    result = score_lead({"email": "x@gmail.com", "activities": [activity("visit", 0, NOW)]}, config, NOW)

    assert result.status == "mql" and result.engagement == 5 and result.grade == "F"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[thresholds\n", "cannot be read"),
        (
            "[thresholds]\nfit = 1\nengagement = 1\ndisqualify_fit_below = 0\n",
            "needs a [thresholds] and an [engagement]",
        ),
        (
            "[thresholds]\nfit = 1\nengagement = 1\ndisqualify_fit_below = 0\n[engagement]\nwindow_days = 9\n"
            '[[fit]]\nrule = "big"\nfield = "employees"\nop = "greater"\nvalue = 5\npoints = 1\n',
            "[[fit]] number 1 (big): op 'greater' is unknown; use one of gte, lte",
        ),
        (
            "[thresholds]\nfit = 'high'\nengagement = 1\ndisqualify_fit_below = 0\n"
            "[engagement]\nwindow_days = 9\n",
            "'fit' must be a whole number, not 'high'",
        ),
    ],
)
def test_a_broken_configuration_is_a_clear_error(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)

    with pytest.raises(ConfigError) as raised:
        load_config(path)

    assert str(path) in raised.value.message and expected in raised.value.message


def test_a_missing_configuration_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; fix FLOWDESK_CRM_SCORING"):
        load_config(tmp_path / "nope.toml")
