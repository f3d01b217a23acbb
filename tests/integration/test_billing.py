"""Call records, the ledger and the balance on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import CdrRow, TransactionRow
from dialgate.domain.errors import Conflict, NotFound, ValidationFailed
from dialgate.services import billing
from dialgate.services.uow import Database
from tests.support.accounts import setup_account
from tests.support.cli import dialgate as run_cli
from tests.support.records import NOW, cdr


def ledger_sum(db: Database) -> Decimal:
    with db.uow(write=False) as uow:
        return sum(
            (Decimal(a) for a in uow.session.scalars(select(TransactionRow.amount))), Decimal(0)
        )


def test_a_61_second_call_costs_two_minutes_and_is_charged_once(db: Database) -> None:
    setup_account(db)
    for _ in range(2):
        with db.uow() as uow:
            result = billing.record_cdr(uow, cdr("call-1"), now=NOW)
            uow.commit()
    assert result.duplicate and result.cost == Decimal("0.02") and result.billed_s == 120
    with db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == Decimal("9.98")
        assert len(list(uow.session.scalars(select(CdrRow)))) == 1
    assert ledger_sum(db) == Decimal("9.98")


def test_unanswered_call_is_recorded_without_a_charge(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        r = billing.record_cdr(
            uow, cdr("busy-1", answered_at=None, disposition="busy", flat_fee="0.75"), now=NOW
        )
        uow.commit()
    assert (r.cost, r.balance, r.duplicate) == (Decimal(0), Decimal("10"), False)
    assert ledger_sum(db) == Decimal("10")


def test_sub_account_calls_charge_the_main_account(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        billing.record_cdr(uow, cdr("sub-1", account="100000_office"), now=NOW)
        with pytest.raises(NotFound):
            billing.record_cdr(uow, cdr("sub-2", account="100000_ghost"), now=NOW)
        uow.commit()
    with db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == Decimal("9.98")
        assert uow.session.scalars(select(CdrRow.caller)).one() == "100000_office"


def test_a_call_id_of_another_account_is_a_conflict_not_a_charge(db: Database) -> None:
    setup_account(db)
    setup_account(db, "200000")
    with db.uow() as uow:
        billing.record_cdr(uow, cdr("shared"), now=NOW)
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict):
        billing.record_cdr(uow, cdr("shared", account="200000"), now=NOW)
    with db.uow(write=False) as uow:
        assert billing.current_balance(uow, "200000") == Decimal("10")


def test_invalid_record_and_deposit_change_nothing(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow, pytest.raises(ValidationFailed):
        billing.record_cdr(uow, cdr("bad", disposition="hung"), now=NOW)
    for amount in ("-5", "0", "abc", "1.001"):
        with db.uow() as uow, pytest.raises(ValidationFailed) as exc:
            billing.deposit(uow, "100000", amount)
        assert exc.value.errors[0].field == "amount"
    assert ledger_sum(db) == Decimal("10")


def test_concurrent_charges_and_duplicates_lose_no_update(db: Database) -> None:
    setup_account(db, balance="100")
    threads_n, errors = 16, []
    barrier = threading.Barrier(threads_n)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            # Every call is submitted by two threads at once: each must be charged once.
            for n in range(3):
                with db.uow() as uow:
                    billing.record_cdr(uow, cdr(f"c{i // 2}-{n}", rate_per_minute="0.10"))
                    uow.commit()
            with db.uow() as uow:
                billing.deposit(uow, "100000", "0.05")
                uow.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    calls = (threads_n // 2) * 3
    expected = Decimal("100") - calls * Decimal("0.20") + threads_n * Decimal("0.05")
    with db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == expected
        assert len(list(uow.session.scalars(select(CdrRow)))) == calls
    assert ledger_sum(db) == expected


def test_balance_and_history_have_the_voipms_figures(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        billing.record_cdr(uow, cdr("today-1", 61), now=NOW)
        billing.record_cdr(
            uow,
            cdr(
                "old-1",
                600,
                started_at="2024-04-01T10:00:00+00:00",
                answered_at="2024-04-01T10:00:05+00:00",
                ended_at="2024-04-01T10:10:05+00:00",
            ),
            now=NOW - timedelta(days=30),
        )
        billing.deposit(uow, "100000", "5.00", now=NOW)
        uow.commit()
    with db.uow(write=False) as uow:
        view = billing.balance(uow, "100000", now=NOW)
        history = billing.transaction_history(uow, "100000", date(2024, 5, 1), date(2024, 5, 1))
        everything = billing.transaction_history(uow, "100000", date(2000, 1, 1), date(2099, 1, 1))
        with pytest.raises(ValidationFailed):
            billing.transaction_history(uow, "100000", date(2024, 5, 2), date(2024, 5, 1))
    assert view.to_voipms() == {
        "current_balance": "14.880000",
        "spent_total": "0.120000",
        "calls_total": "2",
        "time_total": "11:01",
        "spent_today": "0.020000",
        "calls_today": "1",
        "time_today": "1:01",
    }
    assert [h.to_voipms()["type"] for h in history] == ["Call", "Deposit"]
    first = history[0].to_voipms()
    assert first["uniqueid"] == "today-1" and first["ammount"] == "-0.020000"
    assert first["date"] == "2024-05-01 15:00:00"
    assert len(everything) == 4  # opening balance, old call, today's call, deposit


def test_cli_cdr_record_deposit_and_balance(sqlite_url: str, tmp_path: Path) -> None:
    assert run_cli(sqlite_url, "demo").returncode == 0
    file = tmp_path / "calls.json"
    file.write_text(json.dumps([cdr("cli-1"), cdr("cli-1")]))
    out = run_cli(sqlite_url, "cdr", "record", str(file), "--json")
    assert out.returncode == 0, out.stderr
    assert [r["duplicate"] for r in json.loads(out.stdout)] == [False, True]
    assert run_cli(sqlite_url, "deposit", "100000", "10").returncode == 0
    bad = run_cli(sqlite_url, "deposit", "100000", "lots")
    assert bad.returncode == 2 and "amount" in bad.stderr
    data = json.loads(run_cli(sqlite_url, "balance", "100000", "--json").stdout)
    assert data["current_balance"] == "34.98" and data["calls_total"] == 1
    text = run_cli(sqlite_url, "balance", "100000").stdout
    assert "balance $34.98\n" in text and ".000000" not in text


def inbound_cdr(call_id: str, seconds: int = 61, **kw: Any) -> dict[str, Any]:
    """A call from a carrier to DID 5145550100 of account 100000, as Kamailio records it."""
    record = cdr(call_id, seconds, direction="inbound", did="5145550100", caller_id="4385550123")
    for key in ("dialed", "route", "rate_per_minute", "increment_s", "flat_fee"):
        del record[key]
    record.update(kw)
    return record


def test_an_inbound_call_is_recorded_for_the_dids_account_and_never_charged(
    db: Database,
) -> None:
    setup_account(db)
    results = []
    for _ in range(2):
        with db.uow() as uow:
            results.append(billing.record_cdr(uow, inbound_cdr("in-1", 95), now=NOW))
            uow.commit()
    first, again = results
    assert (first.direction, first.duplicate, first.duration_s, first.billed_s, first.cost) == (
        "inbound", False, 95, 0, Decimal(0))
    assert (again.direction, again.duplicate, again.cost, again.balance) == (
        "inbound", True, Decimal(0), Decimal("10"))
    assert first.to_json()["direction"] == "inbound"
    with db.uow(write=False) as uow:
        [row] = uow.session.scalars(select(CdrRow)).all()
        charges = select(TransactionRow).where(TransactionRow.kind == "call")
        assert uow.session.scalars(charges).all() == []
        assert billing.current_balance(uow, "100000") == Decimal("10")
    assert (row.direction, row.caller, row.dialed, row.caller_number, row.disposition) == (
        "inbound", "100000", "5145550100", "4385550123", "answered")
    assert (row.route, Decimal(row.rate_per_minute), Decimal(row.cost)) == (None, 0, 0)
    assert ledger_sum(db) == Decimal("10")


def test_outbound_records_are_stored_as_outbound_without_a_caller_number(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        result = billing.record_cdr(uow, cdr("out-1"), now=NOW)
        uow.commit()
    assert result.direction == "outbound" and result.cost == Decimal("0.02")
    with db.uow(write=False) as uow:
        row = uow.session.scalars(select(CdrRow)).one()
    assert (row.direction, row.dialed, row.caller_number) == ("outbound", "5145550199", None)


def test_an_inbound_call_id_already_recorded_for_another_account_is_a_conflict(
    db: Database,
) -> None:
    setup_account(db)
    setup_account(db, "200000")
    with db.uow() as uow:
        billing.record_cdr(uow, inbound_cdr("shared-in"), now=NOW)
        uow.commit()
    with db.uow() as uow, pytest.raises(Conflict):
        billing.record_cdr(uow, inbound_cdr("shared-in", account="200000"), now=NOW)
    with db.uow(write=False) as uow:
        assert uow.session.scalars(select(CdrRow.caller)).all() == ["100000"]


def test_a_bad_inbound_record_changes_nothing(db: Database) -> None:
    setup_account(db)
    for bad in (
        inbound_cdr("bad-1", direction="sideways"),
        inbound_cdr("bad-2", did=None),
        inbound_cdr("bad-3", rate_per_minute="0.01"),
    ):
        with db.uow() as uow, pytest.raises(ValidationFailed):
            billing.record_cdr(uow, bad, now=NOW)
    with db.uow(write=False) as uow:
        assert uow.session.scalars(select(CdrRow)).all() == []
    assert ledger_sum(db) == Decimal("10")


def test_inbound_calls_count_as_calls_and_talk_time_but_not_as_spending(db: Database) -> None:
    setup_account(db)
    with db.uow() as uow:
        billing.record_cdr(uow, cdr("out-1", 61), now=NOW)
        billing.record_cdr(uow, inbound_cdr("in-1", 30), now=NOW)
        billing.record_cdr(
            uow, inbound_cdr("in-2", answered_at=None, disposition="noanswer"), now=NOW
        )
        uow.commit()
    with db.uow(write=False) as uow:
        view = billing.balance(uow, "100000", now=NOW).to_voipms()
    assert (view["spent_today"], view["calls_today"], view["time_today"]) == (
        "0.020000", "3", "1:31")


def test_cli_cdr_record_says_which_calls_were_inbound(sqlite_url: str, tmp_path: Path) -> None:
    assert run_cli(sqlite_url, "demo").returncode == 0
    file = tmp_path / "calls.json"
    file.write_text(json.dumps([inbound_cdr("cli-in"), cdr("cli-out")]))
    out = run_cli(sqlite_url, "cdr", "record", str(file))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("cli-in: inbound, answered, billed 0 s, $0")
    assert lines[1].startswith("cli-out: answered, billed 120 s, $0.02")
    out = run_cli(sqlite_url, "cdr", "record", str(file), "--json")
    assert [(r["direction"], r["duplicate"]) for r in json.loads(out.stdout)] == [
        ("inbound", True), ("outbound", True)]
