"""Rating: longest-prefix decks, the seed's fixed prices, deck CSV validation, the demo decks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialgate.adapters.rate_data import demo_decks, demo_rates
from dialgate.domain.deck import RateDeck
from dialgate.domain.deck_csv import parse_deck_csv
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.numbering import NumberClass
from dialgate.domain.rating import (
    DIRECTORY_ASSISTANCE,
    TOLLFREE_RATES,
    US48_PREMIUM,
    Rate,
)
from tests.unit.policy_support import deck, plan

UK = deck("premium", [
    ("44", "United Kingdom", "0.0120", 60),
    ("447", "United Kingdom - Mobile", "0.0450", 60),
    ("4470", "United Kingdom - Personal", "0.3048", 60),
    ("1", "NANP", "0.0100", 60),
])


@pytest.mark.parametrize(
    ("digits", "prefix"),
    [
        ("447012345678", "4470"),
        ("447911123456", "447"),
        ("442079460123", "44"),
        ("12125551234", "1"),
        ("4470", "4470"),
        ("33123456789", None),
        ("4", None),
    ],
)
def test_the_longest_matching_prefix_sets_the_rate(digits: str, prefix: str | None) -> None:
    rate = UK.lookup(digits)
    assert (rate.prefix if rate else None) == prefix


prefixes = st.from_regex(r"[1-9][0-9]{0,5}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    st.sets(prefixes, min_size=1, max_size=30),
    st.from_regex(r"[1-9][0-9]{3,14}", fullmatch=True),
)
def test_lookup_agrees_with_a_brute_force_longest_prefix_search(
    table: set[str], digits: str
) -> None:
    built = RateDeck.build("value", (Rate(p, p, Decimal("0.01")) for p in table))
    matching = [p for p in table if digits.startswith(p)]
    expected = max(matching, key=len) if matching else None
    found = built.lookup(digits)
    assert (found.prefix if found else None) == expected


def test_a_deck_refuses_duplicate_prefixes() -> None:
    with pytest.raises(ValueError, match="duplicate prefix 44"):
        deck("value", [("44", "UK", "0.01", 60), ("44", "UK again", "0.02", 60)])


def test_the_seed_s_fixed_prices() -> None:
    assert US48_PREMIUM.per_minute == Decimal("0.01")
    assert TOLLFREE_RATES["value"].per_minute == 0
    assert TOLLFREE_RATES["premium"].per_minute == Decimal("0.0106")
    assert DIRECTORY_ASSISTANCE.flat_fee == Decimal("0.99")
    assert DIRECTORY_ASSISTANCE.per_minute == 0


@pytest.mark.parametrize(
    ("rate", "increment", "fee", "balance_u", "seconds"),
    [
        ("0.01", 60, "0", 50_000, 300),  # $0.05 at 1 cent a minute: 5 minutes
        ("0.01", 60, "0", 9_999, 0),  # not even the first minute
        ("0.06", 6, "0", 50_000, 48),  # 6-second increments of $0.006: 8 of them
        ("0.3048", 60, "0", 1_000_000, 180),  # $1 buys 3 whole minutes at $0.3048
        ("0.01", 1, "0", 1_000, 6),  # per-second billing
        ("0", 60, "0", 0, None),  # free: the balance does not limit it
        ("0.01", 60, "0.99", 1_000_000, 60),  # the flat fee comes first
        ("0.01", 60, "0.99", 990_000, 0),
        ("0.01", 60, "0", -5_000_000, 0),  # a negative balance pays for nothing
    ],
)
def test_affordable_seconds_are_whole_increments_the_balance_pays_for(
    rate: str, increment: int, fee: str, balance_u: int, seconds: int | None
) -> None:
    r = Rate("1", "x", Decimal(rate), increment, flat_fee=Decimal(fee))
    assert r.affordable_seconds(balance_u) == seconds


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(5), places=6),
    st.integers(min_value=1, max_value=3600),
    st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=6),
)
def test_a_call_of_the_affordable_length_never_costs_more_than_the_balance(
    per_minute: Decimal, increment: int, balance: Decimal
) -> None:
    rate = Rate("1", "x", per_minute, increment)
    seconds = rate.affordable_seconds(int(balance * 1_000_000))
    assert seconds is not None and seconds % increment == 0
    cost = per_minute * seconds / 60
    assert cost <= balance
    assert per_minute * (seconds + increment) / 60 > balance  # one more increment is too much


def test_a_deck_csv_is_parsed_with_the_default_increment() -> None:
    rates = parse_deck_csv([
        "prefix,destination,rate,increment",
        "44,United Kingdom,0.0120,60",
        "4470,United Kingdom - Mobile,0.3048,",
        "33,France,0.011,6",
    ])
    assert [(r.prefix, r.per_minute, r.increment_s) for r in rates] == [
        ("44", Decimal("0.0120"), 60), ("4470", Decimal("0.3048"), 60), ("33", Decimal("0.011"), 6),
    ]


def test_a_deck_csv_without_the_increment_column_defaults_to_60_seconds() -> None:
    rates = parse_deck_csv(["prefix,destination,rate", "44,United Kingdom,0.0120"])
    assert rates[0].increment_s == 60


def test_every_bad_row_of_a_deck_csv_is_reported_with_its_line_number() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_deck_csv([
            "prefix,destination,rate,increment",
            "44,United Kingdom,0.0120,60",
            "0044,Bad prefix,0.01,60",
            "33,France,abc,60",
            "49,Germany,-0.01,60",
            "52,Mexico,0.0000001,60",
            "61,Australia,0.02,0",
            "44,Duplicate,0.02,60",
            "91,,0.02,60",
            "86,China",
        ])
    assert [(e.field, e.code) for e in info.value.errors] == [
        ("line 3", "invalid_prefix"),
        ("line 4", "invalid_rate"),
        ("line 5", "invalid_rate"),
        ("line 6", "invalid_rate"),
        ("line 7", "invalid_increment"),
        ("line 8", "duplicate_prefix"),
        ("line 9", "invalid_destination"),
        ("line 10", "wrong_columns"),
    ]


def test_a_deck_csv_needs_a_header_naming_prefix_destination_and_rate() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_deck_csv(["dial,label,amount", "44,UK,0.01"])
    assert info.value.errors[0].code == "invalid_header"


def test_the_demo_decks_price_uk_mobile_4470_at_the_seed_s_premium_rate() -> None:
    rate = demo_decks()["premium"].lookup("447012345678")
    assert rate is not None and rate.per_minute == Decimal("0.3048")


def test_value_is_cheaper_than_premium_for_every_demo_prefix() -> None:
    premium = {r.prefix: r.per_minute for r in demo_rates("premium")}
    value = {r.prefix: r.per_minute for r in demo_rates("value")}
    assert premium.keys() == value.keys()
    assert all(value[p] < premium[p] for p in premium)


def test_the_demo_decks_rate_every_canadian_and_us_non_48_area_code() -> None:
    decks = demo_decks()
    for npa, info in plan().npa.items():
        if info.klass in (NumberClass.CANADA, NumberClass.US_OTHER):
            for route in ("value", "premium"):
                assert decks[route].lookup(f"1{npa}2345678") is not None, npa


@pytest.mark.parametrize(
    "prefix", ["1907", "1808", "1787", "1876", "1809", "1829", "1849", "44", "33", "49", "52",
               "91", "86", "63", "61", "55", "51"],
)
def test_the_demo_decks_cover_the_main_destinations(prefix: str) -> None:
    assert prefix in demo_decks()["value"].rates
    assert prefix in demo_decks()["premium"].rates
