"""A person's group inbox (``candidate_user``, newest or oldest first, one page) and capped counts.

The page comes from walking each identity's candidate index and merging; it must list exactly
what the general query lists, page by page, with every filter.
"""

from __future__ import annotations

import pytest

from engine import Engine, FakeClock, TaskQuery
from tests.helpers import camunda_process

INBOX = camunda_process("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Work" name="Work"
        camunda:candidateUsers="${user}" camunda:candidateGroups="${group}">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Work" />
    <bpmn:sequenceFlow id="f2" sourceRef="Work" targetRef="end" />""")


@pytest.fixture
def inbox(engine: Engine, clock: FakeClock) -> Engine:
    """23 tasks for kim, kim's groups, both at once, or others; some claimed, some tied in time."""
    engine.identity.add_user("kim", "pw", ["sales", "support"])
    engine.identity.add_user("zed", "pw", ["finance"])
    engine.deployments.deploy(
        [
            ("inbox.bpmn", INBOX),
            (
                "other.bpmn",
                INBOX.replace(b'id="p"', b'id="other"').replace(b'name="Work"', b'name="Other work"'),
            ),
        ]
    )
    people = [("kim", "finance"), ("zed", "sales"), ("kim", "sales"), ("zed", "support"), ("zed", "finance")]
    for n in range(23):
        if n % 4:  # every fourth task shares its creation time with the one before
            clock.advance(seconds=1)
        user, group = people[n % len(people)]
        key = "other" if n % 3 == 0 else "p"
        engine.runtime.start(key=key, variables={"user": user, "group": group})
    for task in engine.tasks.list(TaskQuery())[::6]:
        engine.tasks.claim(task.id, "zed" if task.candidate_users == ("zed",) else "kim")
    return engine


def _ids(tasks: list) -> list[str]:  # type: ignore[type-arg]
    return [t.id for t in tasks]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    "filters",
    [{}, {"process_key": "other"}, {"name_like": "%OTHER%"}, {"process_key": "p", "name_like": "Work"}],
)
def test_inbox_pages_list_what_the_general_query_lists(
    inbox: Engine, descending: bool, filters: dict
) -> None:  # type: ignore[type-arg]
    q = TaskQuery(candidate_user="kim", descending=descending, **filters)
    everything = inbox.tasks.list(q)
    assert everything, "the fixture must give kim tasks for every filter"
    assert len(set(_ids(everything))) == len(everything)
    for first in (0, 2, 5, 30):
        page = inbox.tasks.list(
            TaskQuery(candidate_user="kim", descending=descending, first=first, max_results=4, **filters)
        )
        assert page == everything[first : first + 4]


def test_inbox_leaves_out_claimed_tasks_and_other_peoples(inbox: Engine) -> None:
    page = inbox.tasks.list(TaskQuery(candidate_user="kim", max_results=100))
    assert page and all(t.assignee is None for t in page)
    assert all("kim" in t.candidate_users or {"sales", "support"} & set(t.candidate_groups) for t in page)
    assert inbox.tasks.list(TaskQuery(candidate_user="nobody-at-all", max_results=10)) == []


def test_capped_counts_stop_at_the_limit(inbox: Engine) -> None:
    for q in (
        TaskQuery(candidate_user="kim"),
        TaskQuery(candidate_user="kim", process_key="other"),
        TaskQuery(assignee="kim"),
        TaskQuery(),
    ):
        exact = inbox.tasks.count(q)
        assert exact == len(inbox.tasks.list(q))
        assert inbox.tasks.count(q, limit=exact + 5) == exact
        assert inbox.tasks.count(q, limit=max(exact - 1, 1)) == max(exact - 1, 1)
