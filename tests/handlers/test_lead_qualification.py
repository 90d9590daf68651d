"""processes/lead_qualification.bpmn: marketing's MQL / nurture / disqualified outcomes."""

from __future__ import annotations

from engine import Engine
from tests.handlers.factories import activity, cold_lead, hot_lead
from tests.handlers.l2c import path
from tests.helpers import bpmn

CASES = [
    ("mql", hot_lead(), "EndEvent_mql", "mql"),
    (
        "good fit, quiet",
        hot_lead(email="quiet@acme.example", activities=[activity("visit", 1)]),
        "EndEvent_nurture",
        "new",
    ),
    ("poor fit, busy", cold_lead(), "EndEvent_nurture", "new"),
    ("competitor", hot_lead(email="spy@competitor.example"), "EndEvent_disqualified", "disqualified"),
]


def test_each_lead_ends_where_its_scores_send_it(engine: Engine) -> None:
    engine.deployments.deploy([bpmn("lead_qualification.bpmn")])

    for case, lead, end, status in CASES:
        info = engine.runtime.start(key="lead_qualification", variables={"lead": lead})
        outcome = (path(engine, info.id)[-1], engine.runtime.variables(info.id)["leadStatus"])
        assert outcome == (end, status), case
