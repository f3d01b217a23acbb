"""The compiled rate deck: longest-prefix match, bytes, search, against a naive reference."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialgate.domain.deck import DeckColumns, RateDeck
from dialgate.domain.rating import Rate


def _deck(prefixes: list[str], route: str = "value") -> RateDeck:
    return RateDeck.build(
        route, (Rate(p, f"dest {p}", Decimal(len(p)) / 100, 60) for p in prefixes)
    )


def _naive(prefixes: set[str], digits: str) -> str | None:
    matching = [p for p in prefixes if digits.startswith(p)]
    return max(matching, key=len) if matching else None


def test_the_longest_of_several_matching_prefixes_wins() -> None:
    deck = _deck(["4", "44", "447", "4479", "44791234"])
    assert deck.lookup("447912345678").prefix == "44791234"
    assert deck.lookup("447812345678").prefix == "447"
    assert deck.lookup("441").prefix == "44"
    assert deck.lookup("49").prefix == "4"


def test_sibling_prefixes_of_the_same_length_never_tie() -> None:
    deck = _deck(["4470", "4471", "447"])
    assert deck.lookup("44701").prefix == "4470"
    assert deck.lookup("44711").prefix == "4471"
    assert deck.lookup("44721").prefix == "447"


def test_a_number_equal_to_a_prefix_matches_it_and_a_shorter_number_does_not() -> None:
    deck = _deck(["4470"])
    assert deck.lookup("4470").prefix == "4470"
    assert deck.lookup("447") is None
    assert deck.lookup("") is None


def test_an_empty_deck_rates_nothing_and_survives_a_round_trip() -> None:
    deck = _deck([])
    assert len(deck) == 0 and deck.lookup("4420123") is None
    again = RateDeck.from_bytes("value", deck.to_bytes())
    assert len(again) == 0 and again.lookup("1") is None
    assert again.with_prefix("4", limit=10) == [] and again.with_destination("x", limit=10) == []


@pytest.mark.parametrize("length", range(1, 16))
def test_prefixes_of_1_to_15_digits_are_matched(length: int) -> None:
    prefix = "123456789012345"[:length]
    deck = _deck([prefix, "9"])
    assert deck.lookup(prefix).prefix == prefix
    assert deck.lookup(prefix + "9" * (15 - length)).prefix == prefix


def test_a_deck_refuses_a_duplicate_prefix() -> None:
    with pytest.raises(ValueError, match="duplicate prefix 44"):
        _deck(["44", "33", "44"])


def test_a_rate_keeps_its_price_destination_and_increments() -> None:
    deck = RateDeck.build("premium", [
        Rate("44", "United Kingdom", Decimal("0.0120"), 6, initial_s=30),
        Rate("33", "France", Decimal("0.011"), 60),
        Rate("1", "Free", Decimal(0), 1),
        Rate("882", "Satellite", Decimal("999.999999"), 60),
    ])
    uk = deck.lookup("442079460123")
    assert (uk.prefix, uk.destination, uk.increment_s, uk.initial_s) == (
        "44", "United Kingdom", 6, 30
    )
    # The decimals as written, as a Decimal: what the decision and its trace show.
    assert str(uk.per_minute) == "0.0120" and uk.per_minute_u == 12_000
    assert str(deck.lookup("33612345678").per_minute) == "0.011"
    assert deck.lookup("1800").per_minute == 0 and deck.lookup("1800").initial_s is None
    assert deck.lookup("8821234").per_minute == Decimal("999.999999")


def test_equal_decks_are_equal_bytes_whatever_the_row_order() -> None:
    rows = [Rate(p, f"dest {p[:2]}", Decimal("0.01"), 60) for p in ("44", "447", "33", "1", "49")]
    one = RateDeck.build("value", rows).to_bytes()
    two = RateDeck.build("value", list(reversed(rows))).to_bytes()
    assert hashlib.sha256(one).digest() == hashlib.sha256(two).digest()
    changed = RateDeck.build("value", [*rows[:-1], Rate("49", "dest 49", Decimal("0.02"))])
    assert changed.to_bytes() != one


def test_a_deck_read_back_from_bytes_answers_the_same() -> None:
    deck = _deck(["44", "447", "4470", "1", "1514", "33"])
    again = RateDeck.from_bytes("value", deck.to_bytes())
    for digits in ("447012345678", "447911123456", "15145551234", "12125551234", "33", "9"):
        assert again.lookup(digits) == deck.lookup(digits)
    assert sorted(again.rates) == ["1", "1514", "33", "44", "447", "4470"]
    assert again.rates["447"].destination == "dest 447" and "4471" not in again.rates


def test_bytes_that_are_not_a_deck_are_refused() -> None:
    with pytest.raises(ValueError, match="not a compiled rate deck"):
        RateDeck.from_bytes("value", b"prefix,destination,rate\n44,UK,0.01\n")


def test_search_by_prefix_and_by_destination_returns_rates_by_prefix() -> None:
    deck = RateDeck.build("value", [
        Rate("44", "United Kingdom", Decimal("0.02")),
        Rate("442", "United Kingdom - London", Decimal("0.015")),
        Rate("4470", "United Kingdom - Personal", Decimal("0.3")),
        Rate("33", "France", Decimal("0.01")),
    ])
    assert [r.prefix for r in deck.with_prefix("44", limit=10)] == ["44", "442", "4470"]
    assert [r.prefix for r in deck.with_prefix("44", limit=2)] == ["44", "442"]
    assert [r.prefix for r in deck.with_destination("london", limit=10)] == ["442"]
    assert [r.prefix for r in deck.with_destination("UNITED", limit=10)] == ["44", "442", "4470"]
    assert deck.with_destination("Spain", limit=10) == []


def test_columns_compile_without_an_object_per_row() -> None:
    cols = DeckColumns(["44", "33"], [20_000, 10_000], [6, 6], [30, 60], [6, 60], [0, 1],
                       ["UK", "France"])
    deck = RateDeck.compile("value", cols)
    assert str(deck.lookup("4420").per_minute) == "0.020000"
    assert (deck.lookup("4420").initial_s, deck.lookup("4420").increment_s) == (30, 6)
    assert deck.lookup("331").destination == "France"


prefix_sets = st.sets(st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True), max_size=60)
numbers = st.from_regex(r"[1-9][0-9]{0,14}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(prefix_sets, st.lists(numbers, min_size=1, max_size=20))
def test_lookup_agrees_with_a_naive_longest_prefix_search(
    prefixes: set[str], dialed: list[str]
) -> None:
    deck = _deck(sorted(prefixes))
    again = RateDeck.from_bytes("value", deck.to_bytes())
    # Also numbers that extend a deck prefix, so that long matches are exercised.
    probes = dialed + [p + d for p in list(prefixes)[:10] for d in dialed[:2]]
    for digits in probes:
        expected = _naive(prefixes, digits)
        for candidate in (deck, again):
            found = candidate.lookup(digits)
            assert (found.prefix if found else None) == expected
            if found is not None:
                assert found.per_minute == Decimal(len(expected)) / 100


@settings(max_examples=100, deadline=None)
@given(prefix_sets, st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True))
def test_search_by_prefix_agrees_with_a_naive_filter(prefixes: set[str], start: str) -> None:
    deck = _deck(sorted(prefixes))
    expected = sorted(p for p in prefixes if p.startswith(start))
    assert [r.prefix for r in deck.with_prefix(start, limit=1000)] == expected


def test_a_loaded_deck_keeps_the_bytes_it_maps_alive() -> None:
    import gc

    rows = [Rate(str(200 + i), f"Place {i % 7}", Decimal(i) / 1000, 60) for i in range(5000)]
    deck = RateDeck.from_bytes("value", bytearray(RateDeck.build("value", rows).to_bytes()))
    gc.collect()  # the caller's bytes are gone; the trie and arrays still map them
    filler = [bytes(64) * k for k in range(2000)]  # reuse freed memory, if any was freed
    assert [deck.lookup(r.prefix) for r in rows[::250]] == rows[::250]
    assert RateDeck.from_bytes("value", deck.to_bytes()).to_bytes() == deck.to_bytes()
    del filler


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.text("0123456789", min_size=1, max_size=6), max_size=40),
    st.lists(st.text("0123456789", min_size=0, max_size=15), min_size=1, max_size=60),
)
def test_a_repeated_number_gets_the_same_answer_as_the_first_time(
        prefixes: set[str], numbers: list[str]) -> None:
    """Each deck remembers the answer per number; asked again (and again after the memory was
    cleared when full), it must still be the longest match of the naive reference."""
    import dialgate.domain.deck as deck_module

    deck = _deck(sorted(prefixes))
    limit = deck_module._NUMBER_CACHE_LIMIT
    deck_module._NUMBER_CACHE_LIMIT = 7  # small, so the lists below overflow and clear it
    try:
        for _ in range(3):
            for digits in numbers:
                found = deck.lookup(digits)
                assert (found.prefix if found else None) == _naive(prefixes, digits)
    finally:
        deck_module._NUMBER_CACHE_LIMIT = limit
    assert len(deck._by_number) <= 7
