"""Status enums with explicit, guarded transitions, shared by the CRM and ERP records."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from handlers.exceptions import InvalidTransition


class GuardedStatus(enum.StrEnum):
    """A status whose allowed successors are listed in ``_transitions`` of the subclass."""

    @classmethod
    def transitions(cls) -> Mapping[str, frozenset[str]]:
        raise NotImplementedError

    def check(self, target: GuardedStatus, *, what: str) -> None:
        allowed = self.transitions().get(self.value, frozenset())
        if target.value not in allowed:
            options = ", ".join(sorted(allowed)) or "none (final)"
            raise InvalidTransition(
                f"{what} is {self.value}; it cannot become {target.value} (allowed next: {options})",
                status=self.value,
                target=target.value,
            )
