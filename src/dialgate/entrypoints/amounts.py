"""Money as the CLI and the REST API print it: at least 2 decimals, and no trailing zeros beyond
them (the database keeps 6): ``25.00``, ``24.9958``, never ``25.000000``. Nothing is rounded."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def amount(value: Decimal) -> str:
    reduced = value.normalize()
    exponent = reduced.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        reduced = reduced.quantize(CENT)
    return f"{reduced:f}"


def amounts(data: dict[str, object], keys: tuple[str, ...]) -> dict[str, object]:
    """``data`` with its money ``keys`` (decimal strings) written by ``amount``."""
    return {
        k: amount(Decimal(str(v))) if k in keys and v is not None else v for k, v in data.items()
    }
