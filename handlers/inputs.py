"""Reading a handler's inputs: input parameters first, then process variables, with clear errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.handlers import HandlerContext
from handlers.exceptions import HandlerInputError

_MISSING = object()


def where(ctx: HandlerContext) -> str:
    return f"service task {ctx.activity_id!r} of instance {ctx.process_instance_id}"


def value(ctx: HandlerContext, name: str, default: Any = _MISSING) -> Any:
    """An input parameter called ``name``, else the process variable; required without a default."""
    if name in ctx.inputs and ctx.inputs[name] is not None:
        return ctx.inputs[name]
    if name in ctx.variables and ctx.variables[name] is not None:
        return ctx.variables[name]
    if default is _MISSING:
        raise HandlerInputError(
            f"{where(ctx)} needs {name!r}: set a process variable or an input parameter of that name",
            activity_id=ctx.activity_id,
            instance_id=ctx.process_instance_id,
        )
    return default


def mapping(ctx: HandlerContext, name: str) -> Mapping[str, Any]:
    found = value(ctx, name)
    if not isinstance(found, Mapping):
        raise HandlerInputError(
            f"{where(ctx)}: {name!r} must be a Json object, not {type(found).__name__}",
            activity_id=ctx.activity_id,
        )
    return found


def decimal(raw: Any, what: str) -> Decimal:
    """A Decimal from a Decimal, int, text or float (floats through their shortest text, 0.1 -> 0.1)."""
    if isinstance(raw, bool):
        raise HandlerInputError(f"{what} must be a number, not {raw!r}")
    try:
        number = Decimal(str(raw)) if isinstance(raw, int | float | str) else raw
    except InvalidOperation as err:
        raise HandlerInputError(f"{what} must be a number, not {raw!r}") from err
    if not isinstance(number, Decimal) or not number.is_finite():
        raise HandlerInputError(f"{what} must be a finite number, not {raw!r}")
    return number


def places(amount: Decimal, most: int, what: str) -> Decimal:
    """``amount`` if it has at most ``most`` decimals (what the column stores exactly), else an error."""
    if amount != amount.quantize(Decimal(1).scaleb(-most)):
        raise HandlerInputError(f"{what} is {amount}: at most {most} decimals are stored; round it first")
    return amount


def order_ref(ctx: HandlerContext) -> str:
    """The order a stock or invoice handler works on: ``orderId``, else the business key or the instance."""
    found = value(ctx, "orderId", None) or ctx.business_key or ctx.process_instance_id
    return str(found)


def date_value(ctx: HandlerContext, name: str) -> date:
    """A date input (a date, a date-time, or text such as 2026-12-01); today (UTC) when unset."""
    raw = value(ctx, name, None)
    if raw is None:
        return utcnow().date()
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError as err:
        raise HandlerInputError(f"{name} must be a date such as 2026-12-01, not {raw!r}") from err


def moment_value(ctx: HandlerContext, name: str) -> datetime | None:
    """A date-time input, UTC when it names no zone (a date is its start); ``None`` when unset."""
    raw = value(ctx, name, None)
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time.min, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError as err:
        raise HandlerInputError(
            f"{name} must be a date-time such as 2026-12-01T00:00:00Z, not {raw!r}"
        ) from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def show(amount: Decimal) -> str:
    """A quantity as people write it: 2.000 -> 2, 2.500 -> 2.5 (never 2E+1)."""
    text = format(amount.normalize(), "f")
    return text
