"""Reviewing a rate deck before it goes live (the operator console's Rate decks page): what a
new deck changes against the live one, and publishing it. Thin on purpose: parsing and the
atomic replacement are ``domain.deck_csv.parse_deck_csv`` and ``services.rates.replace_deck``,
which makes the deck a new version (so a published deck can be rolled back)."""

from __future__ import annotations

from dataclasses import dataclass

from dialgate.domain.rating import Rate
from dialgate.services import operators, rates
from dialgate.services.operators import Operator
from dialgate.services.uow import UnitOfWork, use_case


@dataclass(frozen=True, slots=True)
class Repriced:
    prefix: str
    destination: str
    old: Rate
    new: Rate


@dataclass(frozen=True, slots=True)
class DeckDiff:
    route: str
    live: int
    new: int
    added: list[Rate]
    removed: list[Rate]
    repriced: list[Repriced]


def diff(uow: UnitOfWork, route: str, new: list[Rate]) -> DeckDiff:
    """Prefixes added, removed, and repriced (rate or increment changed) against the live deck."""
    live = dict(rates.load_deck(uow, route).rates)  # checks the route
    incoming = {r.prefix: r for r in new}
    added = [r for p, r in sorted(incoming.items()) if p not in live]
    removed = [r for p, r in sorted(live.items()) if p not in incoming]
    repriced = [
        Repriced(p, r.destination, live[p], r)
        for p, r in sorted(incoming.items())
        if p in live and (live[p].per_minute != r.per_minute or
                          live[p].increment_s != r.increment_s)
    ]
    return DeckDiff(route, len(live), len(incoming), added, removed, repriced)


@use_case
def publish(uow: UnitOfWork, operator: Operator, route: str, new: list[Rate]) -> int:
    """Make the deck live (atomic) and audit it; admins only: prices are money."""
    operators.require_money(operator)
    count = rates.replace_deck(
        uow, route, new, actor=f"operator:{operator.email}", source="operator console"
    )
    operators.audit(uow, operator, "rates.publish", route, f"{count} prefixes")
    return count
