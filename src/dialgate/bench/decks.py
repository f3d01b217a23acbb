"""Provider-scale rate decks for the benchmarks, generated (never committed): the demo deck's rows
plus random international prefixes of 3 to 10 digits, as wholesale A-Z decks look.

Random prefixes start with 2-9 (never 1, so NANP calls keep their demo rates) and never are a
prefix of a number in ``avoid``, so the benchmarks' calls keep the outcomes the demo deck gives
them and two runs compare the same decisions.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.deck import DeckColumns
from dialgate.domain.rating import Rate

_TYPES = ("fixed", "mobile", "premium services", "special")


def random_prefixes(count: int, *, seed: int, taken: Iterable[str] = (),
                    avoid: Iterable[str] = ()) -> list[str]:
    """``count`` distinct prefixes of 3-10 digits, none in ``taken`` nor a prefix of ``avoid``."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    blocked = set(taken) | {n[:k] for n in avoid for k in range(1, len(n) + 1)}
    found: set[str] = set()
    digits = "0123456789"
    while len(found) < count:
        length = rng.randint(3, 10)
        prefix = rng.choice("23456789") + "".join(rng.choices(digits, k=length - 1))
        if prefix not in blocked:
            found.add(prefix)
    return sorted(found)


def big_deck_rates(route: str, count: int, *, seed: int = 7,
                   avoid: Iterable[str] = ()) -> DeckColumns:
    """The route's demo deck plus ``count`` random prefixes, as columns (no CSV)."""
    base = demo_rates(route)
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data
    extra = random_prefixes(count, seed=seed, taken=(r.prefix for r in base), avoid=avoid)
    cols = DeckColumns.from_rates(base)
    names = {name: i for i, name in enumerate(cols.destinations)}
    for prefix in extra:
        name = f"Destination {prefix[:3]} {_TYPES[int(prefix[-1]) % 4]}"
        cols.prefixes.append(prefix)
        cols.rate_u.append(rng.randint(1_000, 900_000))
        cols.places.append(6)
        cols.initial_s.append(60)
        cols.increment_s.append(60)
        cols.destination_of.append(names.setdefault(name, len(names)))
    cols.destinations = list(names)
    return cols


def write_deck_csv(path: Path, route: str, count: int, *, seed: int = 7,
                   override: dict[str, Decimal] | None = None,
                   avoid: Iterable[str] = ()) -> int:
    """Write a ``;``-separated deck with ``initial/next`` increments (what carriers send); the
    demo rows keep their rates unless ``override`` gives one. Returns the number of rows."""
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible test data
    base: list[Rate] = demo_rates(route)
    extra = random_prefixes(count, seed=seed, taken=(r.prefix for r in base), avoid=avoid)
    override = override or {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter=";")
        out.writerow(["Dial Code", "Destination", "Rate", "Billing Increment"])
        for rate in base:
            price = override.get(rate.prefix, rate.per_minute)
            out.writerow([rate.prefix, rate.destination, price, f"{rate.increment_s}/"
                          f"{rate.increment_s}"])
        for prefix in extra:
            kind = _TYPES[int(prefix[-1]) % 4]
            increments = "60/60" if kind == "fixed" else "30/6"
            out.writerow([prefix, f"Destination {prefix[:3]} {kind}",
                          f"{rng.randint(1_000, 900_000) / 1_000_000:.6f}", increments])
    return len(base) + len(extra)
