"""The call activity as Flowdesk runs it: a task that waits (STARTED) while its child instance runs.

SpiffWorkflow's own call activity runs the called process *inside* the calling workflow, from specs
parsed together with it. Camunda runs it as a separate process instance, with its own row, tasks
and history, resolved among the deployed definitions when the activity starts. So Flowdesk parses
``bpmn:callActivity`` into this spec, which only waits; ``engine.calls`` starts the child and, when
the child ends, completes the task. It is not a SubWorkflowTask: the parser then neither looks for
the called process in the same files nor puts it into the definition's subprocess specs.

A multi-instance call activity (Camunda 7 files) is Flowdesk's Camunda multi-instance spec around
this one (``engine.spiff.multi_instance``): each instance is a task of this spec, with the
activity's id as ``bpmn_id``, so each waits for and completes with a child of its own.

(The Camunda parser builds *embedded* subprocesses with SpiffWorkflow's CallActivity class; those
keep it: only the ``callActivity`` tag is mapped here.)
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.specs.spiff_task import SpiffBpmnTask


class CalledProcessMixin(TaskSpec):  # type: ignore[misc]
    """Waits in STARTED until the engine completes it with the child's results."""

    activity_type = "callActivity"

    def _run_hook(self, my_task: Any) -> None:
        return None


class CalledProcessTask(CalledProcessMixin, BpmnSpecMixin):  # type: ignore[misc]
    """The call activity of Camunda 7, Camunda 8 and plain BPMN files."""


class SpiffCalledProcessTask(CalledProcessMixin, SpiffBpmnTask):  # type: ignore[misc]
    """The call activity of spiffworkflow files (pre- and post-scripts run as for any spiff task)."""


def is_call_activity(spec: Any) -> bool:
    return isinstance(spec, CalledProcessMixin)
