"""A problem found in a BPMN file: where it is and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem in one deployed file, located as precisely as the file allows."""

    file: str
    message: str
    line: int | None = None
    element_id: str | None = None

    def describe(self) -> str:
        """Render as ``file, line 42, element `Gateway_1`: message``."""
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.element_id:
            where.append(f"element `{self.element_id}`")
        return f"{', '.join(where)}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
