"""Rate decks in the database: versioned imports, rollback, loading, lookup and search.

Each import compiles the deck once (``domain.deck.RateDeck``) and stores the compiled bytes as a
new version with its row count, checksum, actor and time; a route's ``rate_decks`` row names the
live version. Workers load that compiled form (a fraction of a second for a million rows) instead
of turning rows into objects. Switching versions is one row update, so readers see the old deck
or the new one, never a mix, and a rollback is as quick as an import's last step. The compiled
bytes are also kept as a file per version on each host (``adapters.deck_files``, named by the
checksum) that every process there maps instead of reading the database.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select

from dialgate.adapters import deck_files
from dialgate.adapters.db import repo_decks, tables
from dialgate.domain.deck import DeckColumns, RateDeck
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.domain.rating import ROUTES, Rate
from dialgate.lazy import lazy_import
from dialgate.services.uow import UnitOfWork, use_case

if TYPE_CHECKING:
    from dialgate.adapters.db import models_core
    from dialgate.adapters.db.models_core import RateDeckRow, RateDeckVersionRow
else:  # the ORM loads for imports and rollbacks; loading and looking up decks use Core
    models_core = lazy_import("dialgate.adapters.db.models_core")

# The columns of the deck tables, for Core statements.
_live = tables.rate_decks.c
_versions = tables.rate_deck_versions.c
_data = tables.rate_deck_data.c

ALL_ACCOUNTS = "*"  # policy change feed entry meaning "every account"
# Feed entry meaning "a route's live deck changed": caches reload the deck in the background and
# keep every compiled snapshot (settings did not change).
DECKS_CHANGED = "#rates"
KEEP_VERSIONS = 10  # compiled decks kept (besides the live one); older versions keep their row


@dataclass(frozen=True, slots=True)
class DeckVersion:
    route: str
    version: int
    rows: int
    checksum: str
    actor: str
    source: str
    created_at: datetime
    live: bool
    stored: bool  # its compiled deck is still kept (a rollback to it is possible)

    def to_json(self) -> dict[str, object]:
        return {
            "route": self.route, "version": self.version, "rows": self.rows,
            "checksum": self.checksum, "actor": self.actor, "source": self.source,
            "created_at": self.created_at.isoformat(), "live": self.live, "stored": self.stored,
        }


def _check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValidationFailed.single(
            "route", "invalid_choice", f"must be one of {', '.join(ROUTES)}; got {route!r}"
        )


def _deck_row(uow: UnitOfWork, route: str) -> RateDeckRow:
    """The route's row, locked for update (PostgreSQL): concurrent imports take turns."""
    row = uow.session.scalar(
        select(models_core.RateDeckRow).where(_live.route == route).with_for_update()
    )
    if row is None:
        row = models_core.RateDeckRow(route=route, live_version_id=None)
        uow.session.add(row)
        uow.session.flush()
    return row


def _version_number(uow: UnitOfWork, version_id: int | None) -> int | None:
    if version_id is None:
        return None
    return uow.session.scalar(
        select(_versions.version).where(_versions.id == version_id)
    )


def _announce(uow: UnitOfWork) -> None:
    uow.session.add(models_core.PolicyChangeRow(account=DECKS_CHANGED))
    uow.touched.add(DECKS_CHANGED)


@use_case
def import_deck(
    uow: UnitOfWork,
    route: str,
    columns: DeckColumns,
    *,
    actor: str,
    source: str = "",
    progress: Callable[[str], None] | None = None,
) -> DeckVersion:
    """Compile validated columns into a new version of the route's deck and make it live, inside
    the caller's transaction (nothing is visible before the commit)."""
    _check_route(route)
    step = progress or (lambda _phase: None)
    step("compiling")
    # Stored rates read back with six decimals, as they did from the NUMERIC(12, 6) column.
    columns.places = [6] * len(columns.prefixes)
    deck = RateDeck.compile(route, columns)
    blob = deck.to_bytes()
    step("storing")
    row = _deck_row(uow, route)
    previous = _version_number(uow, row.live_version_id)
    number = (
        uow.session.scalar(
            select(func.max(_versions.version)).where(_versions.route == route)
        )
        or 0
    ) + 1
    version = models_core.RateDeckVersionRow(
        route=route, version=number, row_count=len(deck), actor=actor[:64], source=source[:255],
        checksum=hashlib.sha256(blob).hexdigest(),
    )
    uow.session.add(version)
    uow.session.flush()
    uow.session.add(models_core.RateDeckDataRow(version_id=version.id, data=blob))
    row.live_version_id = version.id
    uow.session.add(models_core.RateDeckEventRow(
        route=route, actor=actor[:64], action="import", version=number, previous=previous
    ))
    uow.session.flush()
    _prune(uow, route, keep=version.id)
    _announce(uow)
    return _describe(version, live=True, stored=True)


def replace_deck(
    uow: UnitOfWork,
    route: str,
    rates: Iterable[Rate],
    *,
    actor: str = "system",
    source: str = "",
) -> int:
    """``import_deck`` from ``Rate`` values (demo data, tests); returns the number of rates."""
    _check_route(route)
    return import_deck(uow, route, DeckColumns.from_rates(rates), actor=actor, source=source).rows


def _prune(uow: UnitOfWork, route: str, *, keep: int) -> None:
    """Drop the compiled decks of all but the newest ``KEEP_VERSIONS`` versions (the rows stay,
    for the history)."""
    newest = select(_versions.id).where(_versions.route == route).order_by(
        _versions.version.desc()
    ).limit(KEEP_VERSIONS)
    kept = set(uow.session.scalars(newest)) | {keep}
    old = select(_versions.id).where(
        _versions.route == route, _versions.id.not_in(kept)
    )
    uow.session.execute(delete(tables.rate_deck_data).where(_data.version_id.in_(old)))


@use_case
def rollback(uow: UnitOfWork, route: str, version: int, *, actor: str) -> DeckVersion:
    """Make an older (stored) version live again, in one step; audited."""
    _check_route(route)
    target = uow.session.scalar(
        select(models_core.RateDeckVersionRow).where(
            _versions.route == route, _versions.version == version
        )
    )
    if target is None:
        raise NotFound(f"{route} deck version", str(version))
    stored = uow.session.scalar(
        select(func.count()).select_from(tables.rate_deck_data).where(
            _data.version_id == target.id
        )
    )
    if not stored:
        raise Conflict(
            "version_pruned",
            f"{route} deck version {version} is no longer stored (only the newest "
            f"{KEEP_VERSIONS} are); import it again",
            field="version",
        )
    row = _deck_row(uow, route)
    if row.live_version_id == target.id:
        raise Conflict("already_live", f"{route} deck version {version} is already live",
                       field="version")
    previous = _version_number(uow, row.live_version_id)
    row.live_version_id = target.id
    uow.session.add(models_core.RateDeckEventRow(
        route=route, actor=actor[:64], action="rollback", version=version, previous=previous
    ))
    _announce(uow)
    return _describe(target, live=True, stored=True)


def versions(uow: UnitOfWork, route: str) -> list[DeckVersion]:
    """A route's deck versions, newest first."""
    _check_route(route)
    live = uow.session.scalar(select(_live.live_version_id).where(_live.route == route))
    stored = set(uow.session.scalars(
        select(_data.version_id)
        .join(tables.rate_deck_versions, _versions.id == _data.version_id)
        .where(_versions.route == route)
    ))
    rows = uow.session.scalars(
        select(models_core.RateDeckVersionRow)
        .where(_versions.route == route)
        .order_by(_versions.version.desc())
    )
    return [_describe(r, live=r.id == live, stored=r.id in stored) for r in rows]


def _describe(row: RateDeckVersionRow, *, live: bool, stored: bool) -> DeckVersion:
    return DeckVersion(
        route=row.route, version=row.version, rows=row.row_count, checksum=row.checksum,
        actor=row.actor, source=row.source, created_at=row.created_at, live=live, stored=stored,
    )


def live_version_ids(uow: UnitOfWork) -> dict[str, int | None]:
    """Route -> the id of its live version (None: no deck yet); one small query."""
    found: dict[str, int | None] = {
        route: version_id
        for route, version_id in uow.execute(select(_live.route, _live.live_version_id))
    }
    return {route: found.get(route) for route in ROUTES}


def load_version(uow: UnitOfWork, route: str, version_id: int | None) -> RateDeck:
    """A compiled deck by version id (an empty deck for None)."""
    if version_id is None:
        return RateDeck.build(route, ())
    checksum = uow.scalar(select(_versions.checksum).where(_versions.id == version_id))
    # The host's file of that version, mapped; else the database's bytes (binary on PostgreSQL:
    # no stall), written as that file for the next process.
    blob = None if checksum is None else deck_files.deck_bytes(
        checksum, lambda: repo_decks.deck_bytes(uow.flushed(), version_id)
    )
    if blob is None:
        raise NotFound("rate deck version", str(version_id))
    return RateDeck.from_bytes(route, blob)


def load_deck(uow: UnitOfWork, route: str) -> RateDeck:
    _check_route(route)
    return load_version(uow, route, live_version_ids(uow)[route])


def load_decks(uow: UnitOfWork) -> dict[str, RateDeck]:
    return {route: load_version(uow, route, vid) for route, vid in live_version_ids(uow).items()}


def deck_size(uow: UnitOfWork, route: str) -> int:
    _check_route(route)
    count = uow.scalar(
        select(_versions.row_count)
        .join(tables.rate_decks, _live.live_version_id == _versions.id)
        .where(_live.route == route)
    )
    return count or 0


def _digits(prefix_or_number: str) -> str:
    digits = prefix_or_number.strip().lstrip("+")
    if not digits.isascii() or not digits.isdigit():
        raise ValidationFailed.single(
            "number", "invalid_number", f"must be digits; got {prefix_or_number!r}"
        )
    return digits


def lookup(uow: UnitOfWork, route: str, prefix_or_number: str) -> Rate | None:
    """The rate a number (or prefix) gets on a route: the longest matching prefix."""
    _check_route(route)
    digits = _digits(prefix_or_number)
    return load_deck(uow, route).lookup(digits)


def search(uow: UnitOfWork, route: str, query: str, *, limit: int = 1000) -> list[Rate]:
    """A route's rates whose destination contains ``query`` (any case), or whose prefix starts
    with it when it is digits; by prefix, at most ``limit``."""
    _check_route(route)
    text = query.strip()
    if not text:
        raise ValidationFailed.single("query", "required", "give a destination or prefix")
    deck = load_deck(uow, route)
    digits = text.lstrip("+")
    if digits.isascii() and digits.isdigit():
        return deck.with_prefix(digits, limit=limit)
    return deck.with_destination(text, limit=limit)


class LiveDecks(Mapping[str, RateDeck]):
    """The decks every snapshot of a process reads (route -> deck), shared, never per account.

    ``swap`` replaces the whole mapping in one reference assignment (atomic under the GIL), so a
    decision sees the old decks or the new ones, and snapshots need no rebuild when a deck
    changes."""

    __slots__ = ("_current", "_lock", "version_ids")

    def __init__(self) -> None:
        self._current: dict[str, RateDeck] = {}
        self.version_ids: dict[str, int | None] = {}
        self._lock = threading.Lock()  # one (re)load at a time

    def get(self, route: str, default: RateDeck | None = None) -> RateDeck | None:  # type: ignore[override]
        return self._current.get(route, default)

    def __getitem__(self, route: str) -> RateDeck:
        return self._current[route]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current)

    def __len__(self) -> int:
        return len(self._current)

    def reload(self, uow: UnitOfWork) -> bool:
        """Load the routes whose live version changed (only those), then swap; True if any did."""
        with self._lock:
            live = live_version_ids(uow)
            changed = {r: v for r, v in live.items() if r not in self._current
                       or self.version_ids.get(r) != v}
            if not changed:
                return False
            fresh = dict(self._current)
            for route, version_id in changed.items():
                fresh[route] = load_version(uow, route, version_id)
            self._current = fresh
            self.version_ids = live
            return True
