"""Rate deck versions on a real database: every import is a version, rollback is one audited step,
a bad file never becomes a version, and decks reload without dropping snapshots."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from dialgate.adapters.db.models import RateDeckDataRow, RateDeckEventRow
from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.deck import DeckColumns
from dialgate.domain.errors import Conflict, NotFound
from dialgate.domain.policy import AuthorizeRequest
from dialgate.domain.rating import Rate
from dialgate.services import accounts, rates
from dialgate.services.authorize import PolicyCache, authorize_call
from dialgate.services.uow import Database
from tests.support.cli import dialgate

UK = Rate("44", "United Kingdom", Decimal("0.02"))
UK_MOBILE = Rate("447", "United Kingdom - Mobile", Decimal("0.05"))


def _import(db: Database, deck: list[Rate], actor: str = "tester") -> rates.DeckVersion:
    with db.uow() as uow:
        version = rates.import_deck(
            uow, "value", DeckColumns.from_rates(deck), actor=actor, source="t.csv"
        )
        uow.commit()
    return version


def _lookup(db: Database, number: str) -> Rate | None:
    with db.uow(write=False) as uow:
        return rates.lookup(uow, "value", number)


def test_each_import_is_a_new_live_version_with_rows_checksum_actor_and_time(
    db: Database,
) -> None:
    first = _import(db, [UK], actor="alice")
    second = _import(db, [UK, UK_MOBILE], actor="bob")
    with db.uow(write=False) as uow:
        listed = rates.versions(uow, "value")
        blob = uow.session.scalar(select(RateDeckDataRow.data).where(
            RateDeckDataRow.version_id == rates.live_version_ids(uow)["value"]))
    assert [(v.version, v.rows, v.actor, v.live, v.source) for v in listed] == [
        (2, 2, "bob", True, "t.csv"), (1, 1, "alice", False, "t.csv"),
    ]
    assert (first.version, second.version) == (1, 2)
    assert listed[0].checksum == hashlib.sha256(bytes(blob)).hexdigest() != listed[1].checksum
    assert listed[0].created_at >= listed[1].created_at
    assert _lookup(db, "447911123456") == Rate("447", "United Kingdom - Mobile",
                                               Decimal("0.050000"))


def test_rollback_returns_to_an_older_version_in_one_audited_step(db: Database) -> None:
    _import(db, [UK])
    _import(db, [UK, UK_MOBILE])
    with db.uow() as uow:
        live = rates.rollback(uow, "value", 1, actor="carol")
        uow.commit()
    assert (live.version, live.rows) == (1, 1)
    assert _lookup(db, "447911123456").prefix == "44"
    with db.uow(write=False) as uow:
        assert [v.version for v in rates.versions(uow, "value") if v.live] == [1]
        events = uow.session.execute(
            select(RateDeckEventRow.action, RateDeckEventRow.version, RateDeckEventRow.previous,
                   RateDeckEventRow.actor).order_by(RateDeckEventRow.id)
        ).all()
    assert [tuple(e) for e in events] == [
        ("import", 1, None, "tester"), ("import", 2, 1, "tester"), ("rollback", 1, 2, "carol"),
    ]


def test_rollback_to_an_unknown_or_live_version_changes_nothing(db: Database) -> None:
    _import(db, [UK])
    with db.uow() as uow, pytest.raises(NotFound):
        rates.rollback(uow, "value", 7, actor="t")
    with db.uow() as uow, pytest.raises(Conflict) as info:
        rates.rollback(uow, "value", 1, actor="t")
    assert info.value.code == "already_live"
    with db.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(RateDeckEventRow)) == 1


def test_only_the_newest_compiled_decks_are_kept_and_a_pruned_one_cannot_come_back(
    db: Database,
) -> None:
    for n in range(rates.KEEP_VERSIONS + 2):
        _import(db, [Rate("44", "UK", Decimal(n + 1) / 100)])
    with db.uow(write=False) as uow:
        listed = rates.versions(uow, "value")
    assert len(listed) == rates.KEEP_VERSIONS + 2
    assert [v.version for v in listed if not v.stored] == [2, 1]
    with db.uow() as uow, pytest.raises(Conflict) as info:
        rates.rollback(uow, "value", 1, actor="t")
    assert info.value.code == "version_pruned"
    with db.uow() as uow:
        rates.rollback(uow, "value", 3, actor="t")
        uow.commit()
    assert _lookup(db, "4420").per_minute == Decimal("0.03")


def test_a_new_deck_version_is_swapped_in_without_dropping_snapshots(db: Database) -> None:
    _import(db, [UK])
    with db.uow() as uow:
        accounts.create_account(uow, number="100000", email="o@example.com",
                                password="Portal1234", balance=Decimal(20))
        accounts.update_settings(uow, "100000", {"allow_international": "yes",
                                                 "international_route": "value"}, actor="t")
        uow.commit()
    other = Database(db.url)  # another process's writes, seen only through the change feed
    cache = PolicyCache(db, poll_interval=0.05)
    cache.start_refresher()
    try:
        request = AuthorizeRequest.checked("100000", "011447911123456")
        before = cache.snapshot("100000")
        assert authorize_call(cache, request).rate_per_minute == Decimal("0.02")
        with other.uow() as uow:
            rates.import_deck(uow, "value", DeckColumns.from_rates([UK, UK_MOBILE]),
                              actor="t")
            uow.commit()
        deadline = time.monotonic() + 5
        while authorize_call(cache, request).rate_per_minute != Decimal("0.05"):
            assert time.monotonic() < deadline, "the new deck never arrived"
            time.sleep(0.02)
        assert cache.snapshot("100000") is before  # the account's snapshot was kept
        deck = before.decks["value"]
        # A settings change rebuilds the account's snapshot but reuses the loaded deck.
        with other.uow() as uow:
            accounts.update_settings(uow, "100000", {"international_max_rate": "0.10"},
                                     actor="t")
            uow.commit()
        deadline = time.monotonic() + 5
        while cache.snapshot("100000") is before:
            assert time.monotonic() < deadline, "the settings change never arrived"
            time.sleep(0.02)
        assert cache.snapshot("100000").decks["value"] is deck
    finally:
        cache.stop_refresher()
        other.dispose()


def test_the_cli_imports_lists_and_rolls_back_and_a_bad_file_is_no_version(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert dialgate(sqlite_url, "demo").returncode == 0
    good = tmp_path / "carrier.csv.gz"
    good.write_bytes(gzip.compress(
        "\ufeffDial Code;Destination;Price;Billing Increment\n44;United Kingdom;0,02;30/6\n"
        .encode()
    ))
    out = dialgate(sqlite_url, "rates", "import", "value", str(good))
    assert out.returncode == 0, out.stderr
    assert "value deck replaced: 1 rates" in out.stdout and "version 2" in out.stdout
    shown = json.loads(dialgate(sqlite_url, "rates", "show", "value", "4420", "--json").stdout)
    assert (shown["rate_per_minute"], shown["initial_increment_s"], shown["increment_s"]) == (
        "0.020000", 30, 6
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,destination,rate\n44,UK,0.03\n33,=cmd,0.01\n49,DE,1000\n")
    out = dialgate(sqlite_url, "rates", "import", "value", str(bad))
    assert out.returncode == 2
    assert "line 3" in out.stderr and "formula_destination" in out.stderr
    assert "line 4" in out.stderr and "invalid_rate" in out.stderr
    listed = json.loads(dialgate(sqlite_url, "rates", "versions", "value", "--json").stdout)
    assert [(v["version"], v["live"], v["source"]) for v in listed] == [
        (2, True, "carrier.csv.gz"), (1, False, ""),
    ]
    assert listed[0]["actor"].startswith("cli")
    out = dialgate(sqlite_url, "rates", "rollback", "value", "1")
    assert out.returncode == 0, out.stderr
    assert "rolled back to version 1" in out.stdout
    shown = json.loads(dialgate(sqlite_url, "rates", "show", "value", "4420", "--json").stdout)
    demo_uk = next(r for r in demo_rates("value") if r.prefix == "44")
    assert (shown["prefix"], Decimal(shown["rate_per_minute"])) == ("44", demo_uk.per_minute)
    out = dialgate(sqlite_url, "rates", "rollback", "value", "9")
    assert out.returncode == 2 and "not found" in out.stderr


def test_a_stored_deck_reads_back_byte_for_byte(db: Database) -> None:
    """The compiled bytes come back exactly as stored (on PostgreSQL in psycopg's binary format,
    ``adapters/db/repo_decks.py``), and their checksum is the version's."""
    from dialgate.adapters.db import repo_decks
    from dialgate.bench.decks import big_deck_rates

    cols = big_deck_rates("value", 5_000)
    with db.uow() as uow:
        version = rates.import_deck(uow, "value", cols, actor="tester", source="big.csv")
        uow.commit()
    with db.uow(write=False) as uow:
        vid = rates.live_version_ids(uow)["value"]
        assert vid is not None
        blob = repo_decks.deck_bytes(uow.connection, vid)
        stored = uow.session.scalar(
            select(RateDeckDataRow.data).where(RateDeckDataRow.version_id == vid))
        assert repo_decks.deck_bytes(uow.connection, vid + 1000) is None
        deck = rates.load_version(uow, "value", vid)
    assert isinstance(blob, bytes) and blob == bytes(stored)
    assert hashlib.sha256(blob).hexdigest() == version.checksum
    assert deck.to_bytes() == blob and len(deck) == version.rows
    for prefix in cols.prefixes[-50:]:
        assert deck.lookup(prefix).prefix == prefix  # a prefix dialed is its own longest match


def test_each_host_keeps_the_live_version_as_a_file_that_later_loads_map(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load on a host writes the version's bytes under its checksum; a later load
    there (another process, a CLI command) maps that file and no longer needs the database's
    copy, while a host without the file still reads the database."""
    monkeypatch.setenv("DIALGATE_CACHE_DIR", str(tmp_path / "host-a"))
    version = _import(db, [UK, UK_MOBILE])
    assert _lookup(db, "447911123456") == UK_MOBILE
    path = tmp_path / "host-a" / "decks" / f"{version.checksum}.deck"
    with db.uow(write=False) as uow:
        vid = rates.live_version_ids(uow)["value"]
        stored = uow.session.scalar(
            select(RateDeckDataRow.data).where(RateDeckDataRow.version_id == vid))
    assert path.read_bytes() == bytes(stored)
    with db.uow() as uow:  # the database's copy goes: only the host's file can answer now
        uow.session.execute(delete(RateDeckDataRow).where(RateDeckDataRow.version_id == vid))
        uow.commit()
    assert _lookup(db, "447911123456") == UK_MOBILE
    monkeypatch.setenv("DIALGATE_CACHE_DIR", str(tmp_path / "host-b"))
    with pytest.raises(NotFound):
        _lookup(db, "447911123456")
