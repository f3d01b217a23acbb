"""Rates: the ``Rate`` value and the seed's fixed prices.

Per-route decks (longest-prefix match over up to millions of prefixes) are compiled structures in
``domain.deck``; their CSV parser is ``domain.deck_csv``.

Money is ``Decimal``. Each rate also carries its price in whole micro-dollars: rates and balances
are stored as whole micro-dollars (``domain.money``), so integer arithmetic on them is exact and
the hot path needs no Decimal division.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ROUTES = ("value", "premium")
DEFAULT_INCREMENT = 60
MICRO = Decimal("0.000001")


def to_micro(amount: Decimal) -> int:
    """Whole micro-dollars, rounded down (a balance never buys more than it holds)."""
    return int(amount.scaleb(6).to_integral_value(rounding="ROUND_FLOOR"))


@dataclass(frozen=True, slots=True)
class Rate:
    prefix: str
    destination: str
    per_minute: Decimal
    increment_s: int = DEFAULT_INCREMENT
    flat_fee: Decimal = Decimal(0)
    # The first billing increment of ``initial/next`` decks (30/6: 30 s, then 6 s steps); None
    # when it equals ``increment_s``. Shown by ``rates show``; decisions and call records use
    # ``increment_s`` (the call-record contract has one increment).
    initial_s: int | None = None
    per_minute_u: int = field(init=False, repr=False, compare=False)
    flat_fee_u: int = field(init=False, repr=False, compare=False)
    # Price of one billing increment, times 60, in micro-dollars: integer, exact.
    increment_cost_u60: int = field(init=False, repr=False, compare=False)
    # What the decision trace says about this rate, built once rather than on every call.
    trace_detail: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        per_minute_u = to_micro(self.per_minute)
        object.__setattr__(self, "per_minute_u", per_minute_u)
        object.__setattr__(self, "flat_fee_u", to_micro(self.flat_fee))
        object.__setattr__(self, "increment_cost_u60", per_minute_u * self.increment_s)
        fee = f" + {self.flat_fee} per call" if self.flat_fee else ""
        object.__setattr__(
            self, "trace_detail",
            f"{self.prefix} {self.destination}: {self.per_minute}/min{fee}, "
            f"{self.increment_s}s increments",
        )

    def affordable_seconds(self, balance_u: int) -> int | None:
        """How long a call the balance pays for, in whole increments; None if unlimited."""
        if self.increment_cost_u60 == 0:
            return None
        remaining = balance_u - self.flat_fee_u
        if remaining <= 0:
            return 0
        return (remaining * 60 // self.increment_cost_u60) * self.increment_s


# The seed's fixed prices: the US route exists only on Premium at $0.01/min; toll-free is free on
# Value and 1.06 cents per minute on Premium; 411 costs $0.99 per call.
US48_PREMIUM = Rate("1", "United States (48 states)", Decimal("0.01"))
TOLLFREE_RATES: Mapping[str, Rate] = {
    "value": Rate("1", "Toll-free (US/Canada)", Decimal(0)),
    "premium": Rate("1", "Toll-free (US/Canada)", Decimal("0.0106")),
}
DIRECTORY_ASSISTANCE = Rate(
    "411", "Directory assistance (411)", Decimal(0), flat_fee=Decimal("0.99")
)
