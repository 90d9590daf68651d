"""How a runner's workflow is stored: what a save writes, and whether memory matches the database.

A mixin of ``Runner`` (engine.spiff.runner); the texts it keeps are engine.spiff.state_text's.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from engine.spiff.families import Family
from engine.spiff.serialization import workflow_to_json
from engine.spiff.state_text import StateChanges, StateText, assert_same_state


class StoredState:
    """What ``Runner`` stores, and checks it stored (a mixin)."""

    family: Family
    workflow: BpmnWorkflow
    _state_text: StateText
    # The stored text this workflow was loaded from or last dumped to (engine.live_instances).
    stored_text: str | None
    # Tests switch this on to compare every stored state with a full dump of the workflow.
    verify_state = False

    @property
    def completed(self) -> bool:
        """Whether the workflow has ended (``Runner`` says)."""
        raise NotImplementedError

    def dump(self, instance_id: str = "") -> StateChanges:
        """What to store: the head, and the tasks changed since the last dump (engine.state_store).

        A completed workflow never changes again: it is stored whole, in one text and no task rows,
        which is one write where rows would be one per task.
        """
        if self.completed:
            self._state_text.forget(self.workflow)
            try:
                text = workflow_to_json(self.family, self.workflow, instance_id=instance_id)
            finally:
                self._state_text.watch(self.workflow)
            changes = StateChanges(text, whole=True, written=[], removed=[])
        else:
            changes = self._state_text.changes(self.workflow, instance_id)
        self.stored_text = changes.head
        return changes

    def verify_stored(self, envelope: dict[str, Any]) -> None:
        """Raise AssertionError unless ``envelope`` (a stored state put together) is the state a
        full dump of the workflow gives."""
        full = workflow_to_json(self.family, self.workflow)
        assert_same_state(envelope, json.loads(full))

    def is_stored_as(self, text: str | None) -> bool:
        """Whether the workflow is exactly the state ``text``: loaded from or dumped to that very
        text, with no task marked changed since (engine.spiff.walk)."""
        return text is not None and text is self.stored_text and self._state_text.unchanged(self.workflow)
