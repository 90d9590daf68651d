"""docs/handlers.md, run: the worked example is loaded, deployed, tested and retried as the guide says.

The example handler lives in tests/fixtures/handlers/scoring.py and its process in
tests/fixtures/bpmn/score_lead.bpmn. ``@handler`` registers into the process-wide default registry
when a module is imported, so every test here gets a fresh default registry and imports the
fixture modules anew, and forgets them afterwards: nothing leaks into other tests.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from engine import Actor, Database, DeploymentError, Engine, FlowdeskError, Forbidden, FormValidationError
from engine import handlers as handler_api
from engine.db.models import JobKind
from engine.handlers import BpmnError, HandlerClashError, HandlerContext, HandlerRegistry
from engine.testing import ProcessTest
from tests.helpers import script_process

FIXTURE_PACKAGE = "tests.fixtures.handlers"
SCORING = f"{FIXTURE_PACKAGE}.scoring"
RIVAL = f"{FIXTURE_PACKAGE}.rival_scoring"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BPMN = FIXTURES / "bpmn" / "score_lead.bpmn"
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "handlers.md"

HOT_LEAD = {"id": "L-1", "email": "buyer@acme.example", "employees": 250, "budget": True}
COLD_LEAD = {"id": "L-2", "email": "info@tiny.example", "employees": 20}
COMPETITOR_LEAD = {"id": "L-3", "email": "spy@competitor.example", "employees": 900}


def _forget_fixture_modules() -> None:
    for name in [m for m in sys.modules if m.startswith(FIXTURE_PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[HandlerRegistry]:
    """A fresh default registry (also the one ``Engine`` falls back to), no handler setting, no modules."""
    # The built-in CRM/ERP handlers (entry points of this package) register in the real default
    # registry before it is swapped, so the fresh one holds only what a test loads.
    handler_api.load_handler_modules([])
    fresh = HandlerRegistry()
    monkeypatch.setattr(handler_api, "default_registry", fresh)
    monkeypatch.delenv(handler_api.MODULES_SETTING, raising=False)
    _forget_fixture_modules()
    yield fresh
    _forget_fixture_modules()


@pytest.fixture
def scoring(registry: HandlerRegistry) -> ModuleType:
    """The example handler module, imported as a worker would import it."""
    return importlib.import_module(SCORING)


def score_rows(pt: ProcessTest, scoring: ModuleType) -> list[tuple[str, str, int]]:
    with pt.engine.database.read() as session:
        table = scoring.lead_scores
        rows = session.execute(select(table.c.idempotency_key, table.c.lead_id, table.c.score))
        return [tuple(row) for row in rows]


# -- the guide ------------------------------------------------------------------------------------------


def _guide_code() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)


def test_the_guide_shows_the_example_handler_as_it_is() -> None:
    handler_code = _guide_code()[0]
    assert '@handler("crm.score_lead")' in handler_code
    assert handler_code in (FIXTURES / "handlers" / "scoring.py").read_text()


def test_the_guides_tests_pass_as_written(
    tmp_path: Path, scoring: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guide's package is acme_crm and its process is processes/score_lead.bpmn.
    monkeypatch.setitem(sys.modules, "acme_crm", ModuleType("acme_crm"))
    monkeypatch.setitem(sys.modules, "acme_crm.handlers", scoring)
    project = tmp_path / "project"
    (project / "processes").mkdir(parents=True)
    (project / "processes" / BPMN.name).write_bytes(BPMN.read_bytes())
    monkeypatch.chdir(project)
    namespace: dict[str, Any] = {}
    for code in _guide_code()[1:]:
        exec(compile(code, str(GUIDE), "exec"), namespace)
    tests = {name: fn for name, fn in namespace.items() if name.startswith("test_")}
    assert sorted(tests) == ["test_crm_timeout_is_retried", "test_hot_lead_goes_to_sales"]
    for name, test in tests.items():
        (tmp_path / name).mkdir()
        test(tmp_path / name)


# -- registering ---------------------------------------------------------------------------------------


def test_setting_loads_the_module_into_the_registry_an_engine_uses(
    tmp_path: Path, registry: HandlerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWDESK_HANDLER_MODULES", SCORING)
    assert handler_api.load_handler_modules()[-1:] == [SCORING]  # after the installed entry points
    assert registry.names() == ["crm.score_lead"]
    scoring = sys.modules[SCORING]
    with ProcessTest(tmp_path, BPMN, handlers=registry) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": HOT_LEAD}, business_key="L-1")
        assert run.open_tasks == ["sales_review"] and run.variables["score"] == 65
        [(key, lead_id, score)] = score_rows(pt, scoring)
        assert (lead_id, score) == ("L-1", 65)
        assert key.startswith(run.id + ":")


def test_entry_point_of_an_installed_package_is_loaded(
    tmp_path: Path, registry: HandlerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What pip writes for [project.entry-points."flowdesk.handlers"] in the package's pyproject.
    dist_info = tmp_path / "acme_crm-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-crm\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[flowdesk.handlers]\nacme_crm = {SCORING}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert SCORING in handler_api.load_handler_modules()
    assert registry.names() == ["crm.score_lead"]


def test_engine_without_explicit_handlers_deploys_with_the_setting(
    tmp_path: Path, registry: HandlerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [(BPMN.name, BPMN.read_bytes())]
    bare = Engine(Database(f"sqlite:///{tmp_path / 'bare.sqlite'}"))
    with pytest.raises(DeploymentError, match=r"no handler is registered as 'crm\.score_lead'"):
        bare.deployments.deploy(files)
    bare.close()
    monkeypatch.setenv("FLOWDESK_HANDLER_MODULES", SCORING)
    configured = Engine(Database(f"sqlite:///{tmp_path / 'configured.sqlite'}"))
    assert configured.handlers.names() == ["crm.score_lead"]
    [definition] = configured.deployments.deploy(files).definitions
    assert definition.key == "score_lead"
    configured.close()


def test_two_modules_registering_one_name_fail_naming_both(
    registry: HandlerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWDESK_HANDLER_MODULES", f"{SCORING}, {RIVAL}")
    with pytest.raises(HandlerClashError) as err:
        handler_api.load_handler_modules()
    message = str(err.value)
    assert "'crm.score_lead' is registered twice" in message
    assert f"{SCORING}.score_lead" in message
    assert f"{RIVAL}.score_everything_high" in message


@pytest.mark.parametrize(
    ("module", "cause"),
    [
        (f"{FIXTURE_PACKAGE}.needs_missing_sdk", "No module named 'acme_crm_sdk_not_installed'"),
        (f"{FIXTURE_PACKAGE}.scorng", f"No module named '{FIXTURE_PACKAGE}.scorng'"),
    ],
)
def test_module_that_cannot_be_imported_is_named(
    registry: HandlerRegistry, monkeypatch: pytest.MonkeyPatch, module: str, cause: str
) -> None:
    monkeypatch.setenv("FLOWDESK_HANDLER_MODULES", module)
    with pytest.raises(FlowdeskError) as err:
        handler_api.load_handler_modules()
    message = str(err.value)
    assert f"handler module {module!r} cannot be imported ({cause})" in message
    assert "check FLOWDESK_HANDLER_MODULES" in message


# -- the example process -------------------------------------------------------------------------------


def test_bpmn_error_is_a_business_outcome_taken_by_the_boundary(tmp_path: Path, scoring: ModuleType) -> None:
    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": scoring.score_lead}) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": COMPETITOR_LEAD})
        assert run.ended and run.incidents == []
        assert run.path == ["start", "score", "competitor", "rejected"]
        assert run.variables["rejectedBecause"] == "competitor"
        assert score_rows(pt, scoring) == []


def test_form_is_validated_like_a_persons_submit(tmp_path: Path, scoring: ModuleType) -> None:
    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": scoring.score_lead}) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": HOT_LEAD})
        with pytest.raises(FormValidationError) as err:
            run.complete("sales_review", {"note": "x" * 201})
        assert set(err.value.field_errors) == {"accepted", "note"}
        assert run.open_tasks == ["sales_review"]
        with pytest.raises(Forbidden, match="may not work on task"):
            run.complete("sales_review", {"accepted": True}, actor=Actor("fred", frozenset({"finance"})))
        with pytest.raises(AssertionError, match=r"no user task 'nurture' is open.*open: \['sales_review'\]"):
            run.complete("nurture", {})


def test_cold_lead_waits_for_the_external_worker(tmp_path: Path, scoring: ModuleType) -> None:
    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": scoring.score_lead}) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": COLD_LEAD})
        [job] = run.jobs
        assert (job.kind, job.topic, job.activity_id) == ("external", "marketing.nurture", "nurture")
        assert run.run_jobs() == 0  # external tasks are for remote workers, not for run_jobs
        [task] = pt.engine.jobs.acquire("node-worker", kind=JobKind.EXTERNAL, topics=["marketing.nurture"])
        pt.engine.jobs.complete(task.id, "node-worker", {"campaign": "spring"})
        assert run.ended and run.variables["campaign"] == "spring"
        assert run.path == ["start", "score", "hot", "nurture", "nurtured"]


def test_async_before_leaves_the_handler_to_run_jobs(tmp_path: Path, scoring: ModuleType) -> None:
    bpmn = tmp_path / "score_lead.bpmn"
    bpmn.write_text(
        BPMN.read_text().replace(
            'camunda:delegateExpression="${crm.score_lead}"',
            'camunda:asyncBefore="true" camunda:delegateExpression="${crm.score_lead}"',
        )
    )
    with ProcessTest(tmp_path, bpmn, handlers={"crm.score_lead": scoring.score_lead}) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": HOT_LEAD})
        assert run.open_tasks == [] and "score" not in run.variables
        assert [job.activity_id for job in run.jobs] == ["score"]
        assert run.run_jobs() == 1
        assert run.open_tasks == ["sales_review"] and run.variables["score"] == 65


# -- failures: loud by default, retries and incidents with fail_fast=False -------------------------------


def test_failure_retried_after_the_backoff_writes_exactly_once(tmp_path: Path, scoring: ModuleType) -> None:
    keys: list[str] = []

    def flaky(ctx: HandlerContext) -> Any:
        keys.append(ctx.idempotency_key)
        outputs = scoring.score_lead(ctx)  # its insert happens, then the attempt fails
        if len(keys) == 1:
            raise TimeoutError("CRM did not confirm")
        return outputs

    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": flaky}, fail_fast=False) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": HOT_LEAD})
        [job] = run.jobs
        assert (job.retries, job.error_message) == (2, "TimeoutError: CRM did not confirm")
        assert run.run_jobs() == 0  # R3/PT1M: the retry is due a minute later
        pt.clock.advance(minutes=1)
        assert run.run_jobs() == 1
        assert run.open_tasks == ["sales_review"] and run.jobs == []
        assert keys[0] == keys[1]
        assert [key for key, _, _ in score_rows(pt, scoring)] == [keys[0]]


def test_no_retries_left_is_an_incident_until_retries_are_set(tmp_path: Path, scoring: ModuleType) -> None:
    crm = {"up": False}

    def score(ctx: HandlerContext) -> Any:
        if not crm["up"]:
            raise ConnectionError("CRM is down")
        return scoring.score_lead(ctx)

    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": score}, fail_fast=False) as pt:
        scoring.metadata.create_all(pt.engine.database.engine)
        run = pt.start("score_lead", variables={"lead": HOT_LEAD})
        for _ in range(2):
            pt.clock.advance(minutes=1)
            assert run.run_jobs() == 1
        [incident] = run.incidents
        assert (incident.activity_id, incident.error_message) == ("score", "ConnectionError: CRM is down")
        pt.clock.advance(days=1)
        assert run.run_jobs() == 0  # an incident waits for a person
        crm["up"] = True
        pt.engine.jobs.set_retries(incident.id, 1)  # PUT /engine-rest/job/{id}/retries
        assert run.run_jobs() == 1
        assert run.open_tasks == ["sales_review"]


def _down(ctx: HandlerContext) -> None:
    raise ConnectionError("CRM is down")


def _unexpected_outcome(ctx: HandlerContext) -> None:
    raise BpmnError("DUPLICATE", "the lead exists already")


@pytest.mark.parametrize(
    ("fn", "shown"),
    [
        (
            _down,
            r"handler 'crm\.score_lead' failed at 'score' \(2 retries left, .*ConnectionError: CRM is down",
        ),
        (_unexpected_outcome, r"no retries left: an incident.*'DUPLICATE'.*no error boundary event"),
    ],
)
def test_fail_fast_turns_a_handler_failure_into_an_assertion(
    tmp_path: Path, registry: HandlerRegistry, fn: Any, shown: str
) -> None:
    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": fn}) as pt:
        with pytest.raises(AssertionError, match=shown) as err:
            pt.start("score_lead", variables={"lead": HOT_LEAD})
        assert "fail_fast=False" in str(err.value)


def test_fail_fast_shows_the_handler_traceback_and_script_errors(
    tmp_path: Path, registry: HandlerRegistry
) -> None:
    with ProcessTest(tmp_path, BPMN, handlers={"crm.score_lead": _down}) as pt:
        with pytest.raises(AssertionError) as err:
            pt.start("score_lead", variables={"lead": HOT_LEAD})
        assert "Traceback" in str(err.value) and 'raise ConnectionError("CRM is down")' in str(err.value)
    script = tmp_path / "script.bpmn"
    script.write_bytes(script_process("ratio = 1 / 0"))
    with ProcessTest(tmp_path, script) as pt, pytest.raises(AssertionError, match="stopped at 'Script'"):
        pt.start("p")


def test_missing_bpmn_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="a relative path is read from the current directory"):
        ProcessTest(tmp_path, "processes/no_such.bpmn")


def test_handler_names_starting_with_flowdesk_are_the_engines_own() -> None:
    with pytest.raises(ValueError, match="the engine's own"):
        HandlerRegistry().register("flowdesk:call-activity", lambda ctx: None)
