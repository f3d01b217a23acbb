"""Rates: per-route decks matched by longest prefix, and the seed's fixed prices.

A deck is immutable once built. Lookup tries the number's prefixes longest first, one dict probe
per distinct prefix length present in the deck (a handful), which beats a trie walk in Python.

Money is ``Decimal``. Each rate also carries its price in whole micro-dollars: rates and balances
are stored as whole micro-dollars (``domain.money``), so integer arithmetic on them is exact and
the hot path needs no Decimal division.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from dialgate.domain import money
from dialgate.domain.errors import FieldError, ValidationFailed

ROUTES = ("value", "premium")
DEFAULT_INCREMENT = 60
MICRO = Decimal("0.000001")
CSV_HEADER = ("prefix", "destination", "rate", "increment")
_MAX_PREFIX = 16  # RateRow.prefix is String(16)
_MAX_DECIMALS = money.PLACES  # RateRow.rate is whole micro-dollars


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


@dataclass(frozen=True, slots=True)
class RateDeck:
    route: str
    rates: Mapping[str, Rate]
    # Distinct prefix lengths present, longest first.
    lengths: tuple[int, ...]

    @classmethod
    def build(cls, route: str, rates: Iterable[Rate]) -> RateDeck:
        table: dict[str, Rate] = {}
        for rate in rates:
            if rate.prefix in table:
                raise ValueError(f"duplicate prefix {rate.prefix} in the {route} deck")
            table[rate.prefix] = rate
        lengths = tuple(sorted({len(p) for p in table}, reverse=True))
        return cls(route, table, lengths)

    def lookup(self, digits: str) -> Rate | None:
        """The rate of the longest prefix of ``digits`` (E.164 digits, no "+")."""
        rates = self.rates
        for n in self.lengths:
            rate = rates.get(digits[:n])
            if rate is not None:
                return rate
        return None

    def __len__(self) -> int:
        return len(self.rates)


def parse_deck_csv(lines: Iterable[str]) -> list[Rate]:
    """Parse and validate a rate deck CSV (header ``prefix,destination,rate,increment``;
    increment optional, default 60). All or nothing: every bad row is reported with its line
    number in one ``ValidationFailed``."""
    reader = csv.reader(lines)
    errors: list[FieldError] = []
    header = next(reader, None)
    names = tuple(h.strip().lower() for h in header) if header else ()
    if names not in (CSV_HEADER, CSV_HEADER[:3]):
        raise ValidationFailed.single(
            "line 1", "invalid_header", f"the header must be {','.join(CSV_HEADER)}; got {header}"
        )
    rates: list[Rate] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        try:
            rate = _parse_row(row, len(names))
        except _BadRowError as exc:
            errors.append(FieldError(f"line {line}", exc.code, exc.message))
            continue
        if rate.prefix in seen:
            errors.append(
                FieldError(
                    f"line {line}",
                    "duplicate_prefix",
                    f"prefix {rate.prefix} already on line {seen[rate.prefix]}",
                )
            )
            continue
        seen[rate.prefix] = line
        rates.append(rate)
    if errors:
        raise ValidationFailed(errors)
    return rates


class _BadRowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _parse_row(row: list[str], columns: int) -> Rate:
    if len(row) not in (3, columns):
        raise _BadRowError("wrong_columns", f"expected {columns} columns, got {len(row)}")
    prefix, destination, raw_rate = (c.strip() for c in row[:3])
    raw_increment = row[3].strip() if len(row) > 3 else ""
    if not _is_digits(prefix) or prefix[0] == "0" or len(prefix) > _MAX_PREFIX:
        raise _BadRowError(
            "invalid_prefix",
            f"prefix must be 1 to {_MAX_PREFIX} digits starting with a country code; "
            f"got {prefix!r}",
        )
    if not destination or len(destination) > 128:
        raise _BadRowError("invalid_destination", "destination must be 1 to 128 characters")
    try:
        rate = Decimal(raw_rate)
    except InvalidOperation:
        raise _BadRowError("invalid_rate", f"rate must be a number; got {raw_rate!r}") from None
    exponent = rate.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else _MAX_DECIMALS + 1
    if not rate.is_finite() or rate < 0 or places > _MAX_DECIMALS:
        raise _BadRowError(
            "invalid_rate",
            f"rate must be >= 0 with at most {_MAX_DECIMALS} decimals; got {raw_rate!r}",
        )
    if rate > money.MAX_RATE_PER_MINUTE:
        raise _BadRowError(
            "invalid_rate",
            f"rate must be at most {money.MAX_RATE_PER_MINUTE} per minute; got {raw_rate!r}",
        )
    increment = DEFAULT_INCREMENT
    if raw_increment:
        if not _is_digits(raw_increment) or not 1 <= int(raw_increment) <= 3600:
            raise _BadRowError(
                "invalid_increment",
                f"increment must be 1 to 3600 seconds; got {raw_increment!r}",
            )
        increment = int(raw_increment)
    return Rate(prefix, destination, rate, increment)


def _is_digits(text: str) -> bool:
    # str.isdigit alone accepts other scripts' digits and superscripts.
    return text.isascii() and text.isdigit()
