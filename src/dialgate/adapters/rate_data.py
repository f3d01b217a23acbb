"""The demo rate decks shipped as package data (``dialgate/data/rates_<route>.csv``), generated
by ``scripts/generate_demo_rates.py``."""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping

from dialgate.domain.deck import RateDeck
from dialgate.domain.deck_csv import parse_deck_csv
from dialgate.domain.rating import ROUTES, Rate


def demo_rates(route: str) -> list[Rate]:
    """The validated rows of one route's demo deck (``ValidationFailed`` if the file is bad)."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}")
    path = importlib.resources.files("dialgate") / "data" / f"rates_{route}.csv"
    # Read whole, then split: csv wants lines without newline translation.
    return parse_deck_csv(path.read_text(encoding="utf-8").splitlines())


def demo_decks() -> Mapping[str, RateDeck]:
    return {route: RateDeck.build(route, demo_rates(route)) for route in ROUTES}
