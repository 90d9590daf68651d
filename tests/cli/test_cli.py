"""The `flowdesk` command as an operator uses it, run as a real subprocess on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, PROCESSES

FLOWDESK = [sys.executable, "-m", "webui.cli"]


def run(db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWDESK_DATABASE_URL": db}
    return subprocess.run(
        [*FLOWDESK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_deploy_start_list_complete(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    deployed = run(db, "deploy", str(PROCESSES / "order_approval.bpmn"))
    assert deployed.returncode == 0, deployed.stderr
    assert "order_approval version 1" in deployed.stdout

    added = run(db, "user", "add", "sally", "--group", "sales", "--password-stdin", stdin="s3cret\n")
    assert added.returncode == 0, added.stderr
    assert "sally in groups sales" in added.stdout

    started = run(
        db,
        "start",
        "order_approval",
        "--business-key",
        "ORD-9",
        "--var",
        "customer=ACME",
        "--var",
        "amount:Long=1500",
    )
    assert started.returncode == 0, started.stderr
    instance_id = started.stdout.strip()
    assert len(instance_id) == 36

    listed = run(db, "tasks", "--user", "sally")
    assert listed.returncode == 0
    [line] = listed.stdout.strip().splitlines()
    task_id = line.split()[0]
    assert "Review order" in line

    refused = run(db, "complete", task_id, "--user", "sally", "--var", "approved=perhaps")
    assert refused.returncode == 1
    assert "approved:" in refused.stderr

    done = run(db, "complete", task_id, "--user", "sally", "--var", "approved=true")
    assert done.returncode == 0, done.stderr
    assert "Prepare invoice" in run(db, "tasks").stdout


def test_bad_file_prints_each_problem_and_exits_1(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = run(
        db,
        "deploy",
        str(FIXTURES / "gateway_without_condition.bpmn"),
        str(FIXTURES / "flow_to_missing_element.bpmn"),
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert any(
        line.startswith("gateway_without_condition.bpmn, line 8, element `Gateway_1`") for line in lines
    )
    assert any(line.startswith("flow_to_missing_element.bpmn, line 6, element `f1`") for line in lines)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["start", "nope"], ["complete", "no-such-task"]])
def test_unknown_things_are_clear_errors(tmp_path: Path, args: list[str]) -> None:
    result = run(f"sqlite:///{tmp_path / 'cli.sqlite'}", *args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_deploy_async_before_is_a_new_version_of_an_unchanged_file(tmp_path: Path) -> None:
    from tests.engine.test_service_tasks_inline import service_process

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    bpmn = tmp_path / "p.bpmn"
    bpmn.write_bytes(service_process('camunda:expression="${1 + 1}" camunda:resultVariable="two"'))
    assert "p version 1" in run(db, "deploy", "--changed-only", str(bpmn)).stdout
    assert "p version 1 unchanged" in run(db, "deploy", "--changed-only", str(bpmn)).stdout
    deployed = run(db, "deploy", "--changed-only", "--async-before", str(bpmn))
    assert deployed.returncode == 0, deployed.stderr
    assert "p version 2" in deployed.stdout
