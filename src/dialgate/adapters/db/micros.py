"""The money column type: ``Decimal`` in Python, a BIGINT of micro-units in the database.

Money columns are named ``<name>_micros`` in the database (the model attribute and the Core
column key keep the plain name), so that a reader of the raw table does not take 10000000 for
ten million dollars.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

from dialgate.domain.money import from_micros, to_micros


class Micros(TypeDecorator[Decimal]):
    """Exact: binding an amount with more than six decimals is an error, never a rounding."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, float | bool):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
        return to_micros(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return from_micros(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        # ``balance + amount`` and ``amount < 0``: the other side is money too.
        return self

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal
