"""Money (pure): ``Decimal`` in code, whole micro-units (millionths of a dollar) at rest.

Every amount Dialgate stores has at most six decimals (the ledger's precision), so it is an exact
integer number of micro-units: stored as a 64-bit integer it never drifts (SQLite has no decimal
type; its NUMERIC columns hold floats), and sums are exact on every backend.

The limits below bound every money input, so that no single input can push a stored value out
of the 64-bit range (about 9.2 trillion dollars) or make a nonsense charge: a call at the highest
rate for the longest record costs about ten million dollars, a balance is at most a billion.
"""

from __future__ import annotations

from decimal import Decimal

PLACES = 6
MICRO = Decimal(1).scaleb(-PLACES)  # 0.000001
MICROS_MAX = 2**63 - 1  # a signed 64-bit column (BIGINT)

# Rate decks, call records, international_max_rate; compiled decks hold it in a uint32 of
# micro-dollars, so this is the one ceiling for every per-minute price.
MAX_RATE_PER_MINUTE = Decimal("999.999999")
MAX_FLAT_FEE = Decimal(1000)  # a per-call fee (411 costs 0.99)
MAX_BALANCE = Decimal(1_000_000_000)  # a deposit may not take a balance above this
MAX_CALL_S = 7 * 24 * 3600  # a call record's length (policies cut calls at 24 h at most)


def to_micros(amount: Decimal | int) -> int:
    """The exact number of micro-units; ``ValueError`` if ``amount`` has more than six decimals
    or does not fit a 64-bit column (inputs are validated long before: this is the last guard,
    never a rounding)."""
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {amount!r}")
    micros = value.scaleb(PLACES)
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount} has more than {PLACES} decimals")
    result = int(micros)
    if abs(result) > MICROS_MAX:
        raise ValueError(f"{amount} is out of the storable range")
    return result


def from_micros(micros: int) -> Decimal:
    """The amount, with exactly six decimals (``10000000`` -> ``Decimal('10.000000')``)."""
    return Decimal(int(micros)).scaleb(-PLACES)


def decimals(value: Decimal) -> int:
    """How many decimals ``value`` is written with (``1.50`` has two)."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
