"""The variables a job's service task sees: the process's, and the task's own (local) ones."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from engine.db import Database
from engine.db.models import ProcessInstance
from engine.executor import Executor
from engine.instances import InstanceLoader
from engine.job_types import JobInfo
from engine.spiff.runner import Runner


def task_variables(
    database: Database, loader: InstanceLoader, executor: Executor, jobs: Collection[JobInfo]
) -> dict[str, dict[str, Any]]:
    """By job id: the process variables and the task's own (Camunda's local variables): a
    multi-instance element variable and ``loopCounter``, and the task's ``camunda:inputOutput``
    input parameters, which win over process variables.

    Each instance is loaded once, however many of its jobs are asked about.
    """
    found: dict[str, dict[str, Any]] = {}
    with database.read() as session:
        loaded_runners: dict[str, tuple[Any, Runner] | None] = {}
        for job in jobs:
            if job.instance_id not in loaded_runners:
                instance = session.get(ProcessInstance, job.instance_id)
                loaded_runners[job.instance_id] = None if instance is None else loader.load(session, instance)
            pair = loaded_runners[job.instance_id]
            if pair is None:
                found[job.id] = {}
                continue
            loaded, runner = pair
            item = next((w for w in runner.waiting_service_tasks() if w.task_id == job.task_id), None)
            if item is None:
                found[job.id] = runner.variables()
                continue
            model = loaded.model.service_tasks.get(job.activity_id)
            inputs = executor.inputs(model, item.data) if model is not None and model.inputs else {}
            found[job.id] = {**item.data, **inputs}
    return found
