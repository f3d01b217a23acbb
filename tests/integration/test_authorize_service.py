"""services.authorize on a real database: snapshots follow every change without SQL per call."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event

from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.policy import AuthorizeRequest
from dialgate.services import accounts, billing, rates
from dialgate.services.authorize import PolicyCache, authorize_call, authorize_for_switch
from dialgate.services.uow import Database
from tests.support.accounts import load_demo_decks, setup_account
from tests.support.cli import dialgate
from tests.support.clock import MonotonicClock

UK_MOBILE = "011447012345678"


def seed(db: Database) -> None:
    load_demo_decks(db)
    setup_account(db, email="o@example.com", balance="20")


def ask(cache: PolicyCache, account: str, dialed: str, **kw: object) -> str:
    return authorize_call(cache, AuthorizeRequest.checked(account, dialed, **kw)).reason  # type: ignore[arg-type]


def test_settings_change_is_enforced_on_the_next_call(db: Database) -> None:
    seed(db)
    cache = PolicyCache(db)
    assert ask(cache, "100000", UK_MOBILE) == "international_disabled"
    with db.uow() as uow:
        accounts.update_settings(uow, "100000", {"allow_international": "yes"}, actor="t")
        uow.commit()
    assert ask(cache, "100000", UK_MOBILE) == "ok"


def test_hot_path_does_no_sql_once_the_snapshot_is_built(db: Database) -> None:
    seed(db)
    clock = MonotonicClock()
    cache = PolicyCache(db, clock=clock)
    ask(cache, "100000", "5145551234")
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(50):
        assert ask(cache, "100000", "5145551234") == "ok"
    assert statements == []
    clock.now += 1.0  # past the poll interval: exactly one read of the change feed
    ask(cache, "100000", "5145551234")
    queries = [q for q in statements if q != "BEGIN"]  # SQLite's explicit BEGIN
    assert len(queries) == 1 and "policy_changes" in queries[0]


def test_change_from_another_process_is_seen_after_the_poll_interval(db: Database) -> None:
    seed(db)
    clock = MonotonicClock()
    cache = PolicyCache(db, clock=clock)
    assert ask(cache, "100000_office", UK_MOBILE) == "international_disabled"
    other = Database(db.url)  # another process's connection: no shared commit hook
    with other.uow() as uow:
        accounts.update_settings(uow, "100000_office", {"allow_international": "1"}, actor="t")
        uow.commit()
    other.dispose()
    assert ask(cache, "100000_office", UK_MOBILE) == "international_disabled"  # not polled yet
    clock.now += 0.3
    assert ask(cache, "100000_office", UK_MOBILE) == "ok"


def test_a_deposit_from_another_process_changes_the_balance_without_a_rebuild(
    db: Database,
) -> None:
    """A balance change (each answered call's charge, a deposit) is a feed entry of its own:
    the cache reads the new balance of the accounts it holds in one query and keeps their
    compiled snapshots, main account and sub accounts alike."""
    load_demo_decks(db)
    setup_account(db, email="o@example.com", balance="0")
    clock = MonotonicClock()
    cache = PolicyCache(db, clock=clock)
    assert ask(cache, "100000", "5145551234") == "insufficient_balance"
    assert ask(cache, "100000_office", "5145551234") == "insufficient_balance"
    other = Database(db.url)  # another process (the records role): no shared commit hook
    with other.uow() as uow:
        billing.deposit(uow, "100000", "25")
        uow.commit()
    other.dispose()
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    clock.now += 0.3
    assert ask(cache, "100000", "5145551234") == "ok"
    assert ask(cache, "100000_office", "5145551234") == "ok"
    event.remove(db.engine, "before_cursor_execute", listener)
    queries = [q for q in statements if q != "BEGIN"]
    assert len(queries) == 2, queries  # the feed, then both subjects' balance
    assert "policy_changes" in queries[0] and "balance" in queries[1]
    assert cache.snapshot("100000_office").balance == Decimal("25")  # type: ignore[union-attr]


def test_a_policy_change_and_a_deposit_in_one_poll_are_both_applied(db: Database) -> None:
    load_demo_decks(db)
    setup_account(db, email="o@example.com", balance="0")
    clock = MonotonicClock()
    cache = PolicyCache(db, clock=clock)
    assert ask(cache, "100000", UK_MOBILE) == "international_disabled"
    other = Database(db.url)
    with other.uow() as uow:
        billing.deposit(uow, "100000", "25")
        accounts.update_settings(uow, "100000", {"allow_international": "1"}, actor="t")
        uow.commit()
    with other.uow() as uow:
        billing.deposit(uow, "100000", "5")
        uow.commit()
    other.dispose()
    clock.now += 0.3
    assert ask(cache, "100000", UK_MOBILE) == "ok"  # rebuilt: the new setting
    assert cache.snapshot("100000").balance == Decimal("30")  # type: ignore[union-attr]


def test_unknown_account_is_cached_until_it_is_created(db: Database) -> None:
    seed(db)
    cache = PolicyCache(db)
    assert ask(cache, "200000", "5145551234") == "unknown_account"
    with db.uow() as uow:
        accounts.create_account(
            uow, number="200000", email="b@example.com", password="Portal1234", balance=Decimal("5")
        )
        uow.commit()
    assert ask(cache, "200000", "5145551234") == "ok"


def test_new_rate_deck_is_used_by_the_next_decision(db: Database) -> None:
    seed(db)
    cache = PolicyCache(db)
    with db.uow() as uow:
        accounts.update_settings(
            uow,
            "100000",
            {"allow_international": "yes", "international_max_rate": "0.5"},
            actor="t",
        )
        uow.commit()
    before = authorize_call(cache, AuthorizeRequest.checked("100000", UK_MOBILE))
    cheap = [r for r in demo_rates("value") if r.prefix != "4470"]
    from dialgate.domain.rating import Rate

    with db.uow() as uow:
        rates.replace_deck(uow, "value", [*cheap, Rate("4470", "UK mobile", Decimal("0.02"))])
        uow.commit()
    after = authorize_call(cache, AuthorizeRequest.checked("100000", UK_MOBILE))
    assert before.rate_per_minute != after.rate_per_minute
    assert after.rate_per_minute == Decimal("0.02")


def test_switch_answer_carries_the_sip_settings_of_the_sub_account(db: Database) -> None:
    seed(db)
    with db.uow() as uow:
        accounts.update_settings(
            uow, "100000_office", {"allowed_codecs": "g729,ulaw", "nat": "no"}, actor="t"
        )
        uow.commit()
    body = authorize_for_switch(
        PolicyCache(db), AuthorizeRequest.checked("100000_office", "5145551234")
    )
    assert body["allow"] is True
    assert body["sip"]["allowed_codecs"] == ["g729", "ulaw"] and body["sip"]["nat"] == "no"


def test_ip_allow_list_host_names_are_resolved_when_the_snapshot_is_built(db: Database) -> None:
    seed(db)
    with db.uow() as uow:
        accounts.update_settings(
            uow,
            "100000",
            {"ip_restriction_enabled": "yes", "ip_restriction": "pbx.example.com"},
            actor="t",
        )
        uow.commit()
    cache = PolicyCache(
        db, resolver=lambda name: ["198.51.100.7"] if name == "pbx.example.com" else []
    )
    assert ask(cache, "100000", "5145551234", source_ip="198.51.100.7") == "ok"
    assert ask(cache, "100000", "5145551234", source_ip="198.51.100.8") == "ip_not_allowed"


def test_rates_import_reports_bad_rows_and_imports_nothing(sqlite_url: str, tmp_path: Path) -> None:
    dialgate(sqlite_url, "demo")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "prefix,destination,rate,increment\n44,UK,0.02,60\n4470,UK mobile,abc,60\nx1,Nowhere,0.1,\n"
    )
    out = dialgate(sqlite_url, "rates", "import", "value", str(bad))
    assert out.returncode == 2
    assert "line 3" in out.stderr and "line 4" in out.stderr
    shown = json.loads(
        dialgate(sqlite_url, "rates", "show", "value", "447012345678", "--json").stdout
    )
    assert shown["prefix"] == "4470"  # the demo deck is still there
    good = tmp_path / "good.csv"
    good.write_text("prefix,destination,rate\n44,United Kingdom,0.0200\n")
    out = dialgate(sqlite_url, "rates", "import", "value", str(good))
    assert out.returncode == 0, out.stderr
    shown = json.loads(
        dialgate(sqlite_url, "rates", "show", "value", "447012345678", "--json").stdout
    )
    assert (shown["prefix"], shown["rate_per_minute"], shown["increment_s"]) == (
        "44",
        "0.020000",
        60,
    )


def test_authorize_cli_prints_the_decision_as_json(sqlite_url: str) -> None:
    dialgate(sqlite_url, "demo")
    out = dialgate(sqlite_url, "authorize", "100000", "411", "--json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert (data["allow"], data["reason"], data["sip_code"]) == (
        False,
        "directory_assistance_disabled",
        403,
    )
    out = dialgate(sqlite_url, "authorize", "100000", "5145551234", "--ip", "not-an-ip")
    assert out.returncode == 2 and "source_ip" in out.stderr


def test_unknown_route_is_rejected(db: Database) -> None:
    with db.uow() as uow, pytest.raises(ValidationFailed):
        rates.replace_deck(uow, "gold", [])


def test_background_refresher_applies_other_processes_changes_without_sql_in_requests(
    db: Database,
) -> None:
    seed(db)
    cache = PolicyCache(db, poll_interval=0.05)
    assert ask(cache, "100000", UK_MOBILE) == "international_disabled"
    cache.start_refresher()
    try:
        other = Database(db.url)  # another process: no shared commit hook
        with other.uow() as uow:
            accounts.update_settings(uow, "100000", {"allow_international": "1"}, actor="t")
            uow.commit()
        other.dispose()
        deadline = time.monotonic() + 5
        while ask(cache, "100000", UK_MOBILE) != "ok":
            assert time.monotonic() < deadline, "the refresher never applied the change"
            time.sleep(0.02)
        statements: list[str] = []
        listener = lambda *args: statements.append(  # noqa: E731
            f"{threading.current_thread().name}: {args[2]}"
        )
        event.listen(db.engine, "before_cursor_execute", listener)
        for _ in range(20):
            assert ask(cache, "100000", UK_MOBILE) == "ok"
        # Until the refresher has polled the feed at least once while we listen.
        deadline = time.monotonic() + 5
        while not statements:
            assert time.monotonic() < deadline, "the refresher never polled the feed"
            time.sleep(0.02)
        event.remove(db.engine, "before_cursor_execute", listener)
        # Only the refresher thread reads the feed; requests (this thread) do no SQL.
        assert statements
        assert all(s.startswith("policy-refresh") for s in statements)
    finally:
        cache.stop_refresher()
