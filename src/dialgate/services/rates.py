"""Rate decks in the database: import (validated, atomic replacement) and lookup."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import delete, insert, select

from dialgate.adapters.db.models import PolicyChangeRow, RateRow
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.rating import ROUTES, Rate, RateDeck
from dialgate.services.uow import UnitOfWork

ALL_ACCOUNTS = "*"  # policy change feed entry meaning "every account" (a deck changed)
_BATCH = 1000


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValidationFailed.single(
            "route", "invalid_choice", f"must be one of {', '.join(ROUTES)}; got {route!r}"
        )


def replace_deck(
    uow: UnitOfWork,
    route: str,
    rates: Iterable[Rate],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace a route's whole deck inside the caller's transaction (atomic: readers see the old
    deck or the new one, never a mix). Returns the number of rates."""
    _check_route(route)
    uow.session.execute(delete(RateRow).where(RateRow.route == route))
    batch: list[dict[str, object]] = []
    count = 0
    for rate in rates:
        batch.append(
            {
                "route": route,
                "prefix": rate.prefix,
                "destination": rate.destination,
                "rate": rate.per_minute,
                "increment": rate.increment_s,
            }
        )
        if len(batch) >= _BATCH:
            uow.session.execute(insert(RateRow), batch)
            count += len(batch)
            batch.clear()
            if progress:
                progress(count)
    if batch:
        uow.session.execute(insert(RateRow), batch)
        count += len(batch)
        if progress:
            progress(count)
    uow.session.add(PolicyChangeRow(account=ALL_ACCOUNTS))
    uow.touched.add(ALL_ACCOUNTS)
    return count


def load_decks(uow: UnitOfWork) -> Mapping[str, RateDeck]:
    by_route: dict[str, list[Rate]] = {route: [] for route in ROUTES}
    for row in uow.session.scalars(select(RateRow)):
        by_route.setdefault(row.route, []).append(
            Rate(row.prefix, row.destination, row.rate, row.increment)
        )
    return {route: RateDeck.build(route, rates) for route, rates in by_route.items()}


def deck_size(uow: UnitOfWork, route: str) -> int:
    _check_route(route)
    return len(uow.session.scalars(select(RateRow.id).where(RateRow.route == route)).all())


def lookup(uow: UnitOfWork, route: str, prefix_or_number: str) -> Rate | None:
    """The rate a number (or prefix) gets on a route: the longest matching prefix."""
    _check_route(route)
    digits = prefix_or_number.strip().lstrip("+")
    if not digits.isascii() or not digits.isdigit():
        raise ValidationFailed.single(
            "number", "invalid_number", f"must be digits; got {prefix_or_number!r}"
        )
    return load_decks(uow)[route].lookup(digits)


def search(uow: UnitOfWork, route: str, query: str, *, limit: int = 1000) -> list[Rate]:
    """A route's rates whose destination contains ``query`` (any case), or whose prefix starts
    with it when it is digits; by prefix, at most ``limit``."""
    _check_route(route)
    text = query.strip()
    if not text:
        raise ValidationFailed.single("query", "required", "give a destination or prefix")
    digits = text.lstrip("+")
    if digits.isascii() and digits.isdigit():
        condition = RateRow.prefix.startswith(digits, autoescape=True)
    else:
        condition = RateRow.destination.icontains(text, autoescape=True)
    rows = uow.session.scalars(
        select(RateRow)
        .where(RateRow.route == route, condition)
        .order_by(RateRow.prefix)
        .limit(limit)
    )
    return [Rate(r.prefix, r.destination, r.rate, r.increment) for r in rows]
