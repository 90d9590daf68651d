"""Leads: duplicates by e-mail (reused) and by phone (linked), lost leads kept and reopened."""

from __future__ import annotations

import pytest

from engine import Engine
from handlers.crm.leads import capture, disqualify, get_lead, reopen
from handlers.crm.models import LeadStatus
from handlers.exceptions import HandlerInputError, InvalidTransition
from tests.handlers.factories import NOW, activity, hot_lead


def test_duplicates_are_reported_and_linked_and_lost_leads_come_back(engine: Engine) -> None:
    with engine.database.write() as session:
        first = capture(session, hot_lead(phone="030 1234567"), key="k1", now=NOW)
        same_email = capture(
            session,
            {"email": "ANN.BUYER@acme.example", "activities": [activity("reply", 0)]},
            key="k2",
            now=NOW,
        )
        same_phone = capture(
            session, {"email": "colleague@acme.example", "phone": "+49 30 1234567"}, key="k3", now=NOW
        )
        lead = get_lead(session, first["leadId"])
        assert len(lead.data["activities"]) == 3  # the new activity was added to the known lead

    assert (same_email["leadId"], same_email["leadDuplicate"], same_email["duplicateMatchedBy"]) == (
        first["leadId"],
        True,
        "email",
    )
    assert same_phone["leadId"] != first["leadId"]  # maybe a colleague: a lead of its own, linked for review
    assert (same_phone["duplicateOfLeadId"], same_phone["duplicateMatchedBy"]) == (first["leadId"], "phone")

    with engine.database.write() as session:
        disqualify(session, first["leadId"], "no_budget", "call again next year", NOW)
    with engine.database.write() as session:
        again = capture(session, hot_lead(), key="k4", now=NOW)
        lead = get_lead(session, first["leadId"])
        assert again["leadReopened"] is True
        assert (lead.status, lead.lost_reason) == ("new", "no_budget")  # the last lost reason stays on record


def test_status_changes_are_guarded_and_a_lead_needs_a_way_to_reach_it(engine: Engine) -> None:
    with engine.database.write() as session:
        lead_id = capture(session, hot_lead(), key="k1", now=NOW)["leadId"]
        get_lead(session, lead_id).status = LeadStatus.SQL.value
    with (
        pytest.raises(InvalidTransition, match="is sql; it cannot become new"),
        engine.database.write() as session,
    ):
        reopen(session, lead_id, NOW)
    with (
        pytest.raises(HandlerInputError, match="needs an e-mail address or a phone"),
        engine.database.write() as s,
    ):
        capture(s, {"name": "Nobody"}, key="k2", now=NOW)


def test_concurrent_captures_of_one_email_make_one_lead(engine: Engine, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: there is no race to lose")
    import threading

    barrier = threading.Barrier(6)
    results: list[str] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with engine.database.write() as session:
                barrier.wait()
                results.append(capture(session, hot_lead(), key=f"race-{n}", now=NOW)["leadId"])
        except BaseException as err:  # fail the test, not the thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == [] and len(results) == 6 and len(set(results)) == 1
