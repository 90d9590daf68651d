"""The Runner's compensation steps: handlers that are tasks of their own (user tasks, external tasks).

A mixin of ``engine.spiff.runner.Runner``. A compensation throw event waits in STARTED while
Flowdesk runs its handlers (engine.compensating). A handler that is a user task or an external task
cannot run within one call: it becomes a task of the workflow, a child of the waiting throw event,
created from its unconnected spec (engine.spiff.parsing) as a multi-instance creates its
instances. The throw event looks at its handler children each time the executor meets it again:
a finished one is compensated, an open one is waited for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.exceptions import ProcessError, TaskNotFound
from engine.spiff import walk

if TYPE_CHECKING:
    from engine.spiff.runner import StepResult

# In a handler task's internal data: the id of the activity instance it compensates.
COMPENSATES = "flowdesk_compensates"


@dataclass(frozen=True)
class HandlerRun:
    """A handler task a throw event started: whether it finished, and the data it ended with."""

    task_id: str
    finished: bool
    data: Mapping[str, Any]


class CompensationSteps:
    workflow: Any
    _snapshot: Any

    if TYPE_CHECKING:

        def _run_engine(self, result: StepResult) -> StepResult: ...

    def compensation_runs(self, throw_id: str) -> dict[str, HandlerRun]:
        """The handler tasks the waiting throw event ``throw_id`` started, by compensated instance."""
        return {
            child.internal_data[COMPENSATES]: HandlerRun(
                str(child.id), child.has_state(TaskState.COMPLETED), child.data
            )
            for child in self._waiting_throw(throw_id).children
            if COMPENSATES in child.internal_data
        }

    def start_compensation_handler(
        self, throw_id: str, handler_id: str, compensated: str, variables: Mapping[str, Any]
    ) -> StepResult:
        """Start handler ``handler_id`` for the activity instance ``compensated`` and run on.

        ``variables`` (what handlers run before it changed) go to the throw event first, so the
        handler task sees them.
        """
        from engine.spiff.runner import StepResult  # runner.py imports this module

        throw = self._waiting_throw(throw_id)
        spec = throw.workflow.spec.task_specs.get(handler_id)
        if spec is None:
            raise ProcessError(
                f"the compensation handler {handler_id!r} is not in the scope of the throw event; "
                "redeploy the process (older deployments did not keep it)",
                activity_id=throw.task_spec.bpmn_id,
            )
        self._snapshot = None
        throw.data.update(variables)
        walk.touched(throw)
        child = throw._add_child(spec, TaskState.WAITING)
        # A triggered child is never removed when the throw event completes and syncs its children.
        child.triggered = True
        child.internal_data[COMPENSATES] = compensated
        child.task_spec._update(child)
        return self._run_engine(StepResult())

    def _waiting_throw(self, throw_id: str) -> Any:
        try:
            task = self.workflow.get_task_from_id(UUID(throw_id))
        except (ValueError, SpiffWorkflowException):
            task = None
        if task is None or not task.has_state(TaskState.STARTED):
            raise TaskNotFound(f"Compensation throw event {throw_id} is not waiting", task_id=throw_id)
        return task
