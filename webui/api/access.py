"""Who may read what in /api: the groups that work with the records, and admins."""

from __future__ import annotations

from engine.exceptions import Forbidden
from webui.rest.common import actor

LEAD_READERS = frozenset({"sales", "marketing"})
INVOICE_READERS = frozenset({"finance", "sales"})


def require_group(groups: frozenset[str], what: str) -> None:
    caller = actor()
    if caller.is_admin or caller.groups & groups:
        return
    raise Forbidden(
        f"user {caller.name!r} may not read {what}: it needs one of the groups {', '.join(sorted(groups))} "
        "(or admins)"
    )
