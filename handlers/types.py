"""Exact decimal columns on every backend.

PostgreSQL stores ``NUMERIC(p, s)`` exactly. SQLite has no decimal type: a NUMERIC column keeps a
fraction as a binary float, so 0.1 + 0.2 is not 0.3 there, and a stock check such as ``on_hand >=
reserved + q`` can refuse the last 0.1 m of cable, or a CHECK can fail on 0.30000000000000004. On
SQLite the value is therefore stored as a whole number of ``10**-scale`` units (0.1 m at scale 3 is
100), which SQLite adds and compares exactly; SQL arithmetic between columns of one scale stays
exact, and values read back are Decimals again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale, asdecimal=True)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        exact = number.quantize(Decimal(1).scaleb(-self.scale))
        if exact != number:
            # Callers validate their inputs; reaching this is a bug that must not round silently.
            raise ValueError(f"{number} has more than {self.scale} decimals and cannot be stored exactly")
        if dialect.name == "sqlite":
            return int(exact.scaleb(self.scale))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale)
        return value if isinstance(value, Decimal) else Decimal(str(value))

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # Literals beside these columns (reserved + q, on_hand >= ...) are bound in the same units.
        return self
