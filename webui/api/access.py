"""Who may read what in /api and in the CRM/ERP pages: the groups that work with the records, and admins."""

from __future__ import annotations

from engine.exceptions import Forbidden
from engine.identity import Actor
from webui.rest.common import actor

LEAD_READERS = frozenset({"sales", "marketing"})
INVOICE_READERS = frozenset({"finance", "sales"})
# A customer is a lead's outcome and an invoice's addressee: those who read either.
CUSTOMER_READERS = frozenset({"finance", "sales"})


def may_read(caller: Actor, groups: frozenset[str]) -> bool:
    return caller.is_admin or bool(caller.groups & groups)


def require_group(groups: frozenset[str], what: str) -> None:
    caller = actor()
    if may_read(caller, groups):
        return
    raise Forbidden(
        f"user {caller.name!r} may not read {what}: it needs one of the groups {', '.join(sorted(groups))} "
        "(or admins)"
    )
