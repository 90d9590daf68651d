"""Lead scoring: a fit score and a decaying engagement score, from rules in a TOML file.

Pure functions over plain data: ``load_config`` reads and checks a file (every mistake is a
``ConfigError`` naming the file and the rule), ``score_lead`` applies it to one lead at a moment.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from handlers.exceptions import ConfigError

CONFIG_SETTING = "FLOWDESK_CRM_SCORING"
DEFAULT_CONFIG = Path(__file__).with_name("scoring.toml")
OPERATORS = ("gte", "lte", "in", "contains", "email_domain_in", "present")
GRADE_LETTERS = ("A", "B", "C", "D")


@dataclass(frozen=True)
class FitRule:
    rule: str
    field: str
    op: str
    value: Any
    points: int


@dataclass(frozen=True)
class ScoringConfig:
    fit_rules: tuple[FitRule, ...]
    activity_points: Mapping[str, int]
    fit_threshold: int
    engagement_threshold: int
    disqualify_fit_below: int
    window_days: int
    half_life_days: float
    grades: tuple[tuple[str, int], ...]
    source: str = ""


@dataclass(frozen=True)
class Reason:
    rule: str
    kind: str  # "fit" or "engagement"
    points: int
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "kind": self.kind, "points": self.points, "detail": self.detail}


@dataclass(frozen=True)
class LeadScore:
    fit: int
    engagement: int
    grade: str
    status: str  # "mql", "new" (nurture) or "disqualified"
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    @property
    def score(self) -> int:
        return self.fit + self.engagement

    @property
    def qualified(self) -> bool:
        return self.status == "mql"


# --- configuration ------------------------------------------------------------------------------


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_SETTING) or DEFAULT_CONFIG)


def load_config(path: Path | None = None) -> ScoringConfig:
    """Read and check a scoring file (``FLOWDESK_CRM_SCORING`` or the shipped default)."""
    path = path or config_path()
    where = f"scoring configuration {str(path)!r}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(
            f"{where} does not exist; fix {CONFIG_SETTING} or unset it to use the shipped default"
        ) from err
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{where} cannot be read: {err}; fix the file") from err
    return parse_config(raw, where)


def _int(table: Mapping[str, Any], key: str, where: str) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be a whole number, not {value!r}")
    return value


def parse_config(raw: Mapping[str, Any], where: str = "scoring configuration") -> ScoringConfig:
    thresholds = raw.get("thresholds")
    engagement = raw.get("engagement")
    if not isinstance(thresholds, dict) or not isinstance(engagement, dict):
        raise ConfigError(f"{where}: needs a [thresholds] and an [engagement] table; see the shipped default")
    fit_threshold = _int(thresholds, "fit", f"{where}, [thresholds]")
    engagement_threshold = _int(thresholds, "engagement", f"{where}, [thresholds]")
    disqualify_below = _int(thresholds, "disqualify_fit_below", f"{where}, [thresholds]")
    rules: list[FitRule] = []
    fit_tables = raw.get("fit", [])
    if not isinstance(fit_tables, list):
        raise ConfigError(f"{where}: 'fit' must be a list of [[fit]] tables")
    for number, table in enumerate(fit_tables, start=1):
        name = table.get("rule") if isinstance(table, dict) else None
        rule_where = f"{where}, [[fit]] number {number} ({name or 'no rule name'})"
        if not isinstance(table, dict) or not isinstance(name, str) or not name:
            raise ConfigError(f"{rule_where}: every [[fit]] table needs a 'rule' name")
        op = table.get("op")
        if op not in OPERATORS:
            raise ConfigError(f"{rule_where}: op {op!r} is unknown; use one of {', '.join(OPERATORS)}")
        if not isinstance(table.get("field"), str):
            raise ConfigError(f"{rule_where}: 'field' must name a lead field, e.g. \"employees\"")
        value = table.get("value")
        if op in ("in", "contains", "email_domain_in") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise ConfigError(f"{rule_where}: op {op} needs 'value' to be a list of texts")
        if op in ("gte", "lte") and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise ConfigError(f"{rule_where}: op {op} needs a numeric 'value'")
        rules.append(FitRule(name, table["field"], op, value, _int(table, "points", rule_where)))
    points = engagement.get("points", {})
    if not isinstance(points, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in points.values()
    ):
        raise ConfigError(f"{where}: [engagement.points] must map activity types to whole numbers")
    grades_raw = raw.get("grades")
    if not isinstance(grades_raw, dict) or set(grades_raw) != set(GRADE_LETTERS):
        letters = ", ".join(GRADE_LETTERS)
        raise ConfigError(f"{where}: [grades] must set the minimum fit of {letters} (below D is F)")
    grades = tuple((letter, _int(grades_raw, letter, f"{where}, [grades]")) for letter in GRADE_LETTERS)
    minimums = [minimum for _, minimum in grades]
    if minimums != sorted(minimums, reverse=True):
        raise ConfigError(f"{where}: [grades] minimums must fall from A to D, not {dict(grades)}")
    half_life = engagement.get("half_life_days", 30)
    if not isinstance(half_life, int | float) or isinstance(half_life, bool) or half_life <= 0:
        raise ConfigError(f"{where}: [engagement] half_life_days must be a positive number")
    window = _int(engagement, "window_days", f"{where}, [engagement]")
    if window <= 0:
        raise ConfigError(f"{where}: [engagement] window_days must be positive")
    return ScoringConfig(
        fit_rules=tuple(rules),
        activity_points=dict(points),
        fit_threshold=fit_threshold,
        engagement_threshold=engagement_threshold,
        disqualify_fit_below=disqualify_below,
        window_days=window,
        half_life_days=float(half_life),
        grades=grades,
        source=where,
    )


# --- scoring --------------------------------------------------------------------------------------


def _matches(rule: FitRule, lead: Mapping[str, Any]) -> bool:
    value = lead.get(rule.field)
    if rule.op == "present":
        return bool(value)
    if value is None or value == "":
        return False
    if rule.op in ("gte", "lte"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return bool(number >= rule.value) if rule.op == "gte" else bool(number <= rule.value)
    text = str(value).strip().lower()
    if rule.op == "in":
        return text in {v.lower() for v in rule.value}
    if rule.op == "contains":
        return any(v.lower() in text for v in rule.value)
    domain = text.rpartition("@")[2]
    return domain in {v.lower() for v in rule.value}


def _activity_time(raw: Any) -> datetime | None:
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, str) and raw:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def grade_for(fit: int, config: ScoringConfig) -> str:
    for letter, minimum in config.grades:
        if fit >= minimum:
            return letter
    return "F"


def score_lead(lead: Mapping[str, Any], config: ScoringConfig, now: datetime) -> LeadScore:
    """Fit and engagement of ``lead`` at ``now``, with one reason per rule that fired."""
    reasons: list[Reason] = []
    fit = 0
    # Every matching rule adds its points, so bands are cumulative (1,000 employees earn both
    # size rules): an operator reads the reasons and sees each contribution.
    for rule in config.fit_rules:
        if _matches(rule, lead):
            fit += rule.points
            reasons.append(Reason(rule.rule, "fit", rule.points, f"{rule.field} {rule.op} {rule.value}"))
    per_type: dict[str, float] = {}
    counts: dict[str, int] = {}
    activities = lead.get("activities") or []
    if not isinstance(activities, Sequence) or isinstance(activities, str):
        activities = []
    for activity in activities:
        if not isinstance(activity, Mapping):
            continue
        kind = str(activity.get("type", ""))
        points = config.activity_points.get(kind)
        when = _activity_time(activity.get("at") or activity.get("date"))
        if points is None or when is None:
            continue
        age_days = max((now - when).total_seconds() / 86400, 0.0)
        if age_days > config.window_days:
            continue
        per_type[kind] = per_type.get(kind, 0.0) + points * math.pow(0.5, age_days / config.half_life_days)
        counts[kind] = counts.get(kind, 0) + 1
    engagement = 0
    for kind in sorted(per_type):
        points = round(per_type[kind])
        if points == 0:
            continue
        engagement += points
        reasons.append(
            Reason(
                f"activity:{kind}",
                "engagement",
                points,
                f"{counts[kind]} in the last {config.window_days} days",
            )
        )
    engagement = max(engagement, 0)
    if fit < config.disqualify_fit_below:
        status = "disqualified"
    elif fit >= config.fit_threshold and engagement >= config.engagement_threshold:
        status = "mql"
    else:
        status = "new"
    return LeadScore(fit, engagement, grade_for(fit, config), status, tuple(reasons))
