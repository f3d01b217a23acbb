"""``billing.record_cdrs``: a batch of call records in one transaction, on SQLite and PostgreSQL.

Each valid record is recorded and charged once (as ``record_cdr`` does), a refused one is
reported by its index, and nothing else changes.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dialgate.adapters.db import tables
from dialgate.adapters.db.models import AccountRow, CdrRow, OutboxRow, TransactionRow
from dialgate.domain.errors import DialgateError, ValidationFailed
from dialgate.services import billing, lookups
from dialgate.services.uow import Database
from tests.support.accounts import setup_account
from tests.support.records import NOW, cdr

CDR_COLUMNS = (
    "call_id",
    "caller",
    "dialed",
    "direction",
    "caller_number",
    "started_at",
    "answered_at",
    "ended_at",
    "disposition",
    "route",
    "rate_per_minute",
    "increment_s",
    "flat_fee",
    "duration_s",
    "billed_s",
    "cost",
)




@pytest.fixture
def two(db: Database) -> Database:
    """Accounts 100000 and 200000 (each with sub account ``office``), 10.00 each."""
    setup_account(db, "100000")
    setup_account(db, "200000")
    return db




def batch(db: Database, records: list[dict[str, Any]]) -> billing.CdrBatchResult:
    with db.uow() as uow:
        result = billing.record_cdrs(uow, records, now=NOW)
        uow.commit()
    return result


def outcome(result: billing.CdrBatchResult) -> tuple[int, int, list[tuple[int, str]]]:
    return result.recorded, result.duplicates, [(i, exc.code) for i, exc in result.rejected]


def balance(db: Database, number: str) -> Decimal:
    with db.uow(write=False) as uow:
        return billing.current_balance(uow, number)


def state(db: Database) -> dict[str, Any]:
    """Everything a batch may change: balances, the ledger, call records, queued emails."""
    with db.uow(write=False) as uow:
        s = uow.session
        return {
            "balances": sorted(
                (n, Decimal(v)) for n, v in s.execute(select(AccountRow.number, AccountRow.balance))
            ),
            "ledger": sorted(
                (r.account_id, r.kind, Decimal(r.amount), r.call_id or "", r.description)
                for r in s.scalars(select(TransactionRow))
            ),
            "cdrs": sorted(
                (r.account_id, *(getattr(r, c) for c in CDR_COLUMNS))
                for r in s.scalars(select(CdrRow))
            ),
            "outbox": len(s.scalars(select(OutboxRow.id)).all()),
        }


def call_charges(db: Database) -> dict[str, tuple[Decimal, datetime]]:
    with db.uow(write=False) as uow:
        rows = uow.session.scalars(select(TransactionRow).where(TransactionRow.kind == "call"))
        return {r.call_id or "": (Decimal(r.amount), r.at) for r in rows}


def cdr_rows(db: Database) -> dict[str, tuple[str, str, int, int, Decimal]]:
    with db.uow(write=False) as uow:
        rows = uow.session.scalars(select(CdrRow))
        return {
            r.call_id: (r.caller, r.disposition, r.duration_s, r.billed_s, Decimal(r.cost))
            for r in rows
        }


MIXED = [
    cdr("c1"),  # 0: 61 s -> 2 min: 0.02
    cdr(
        "c2", account="100000_office", seconds=30, rate_per_minute="0.06", increment_s=6
    ),  # 1: 30 s at 6 s: 0.03
    cdr("c3", answered_at=None, disposition="busy", flat_fee="0.75"),  # 2: not answered: 0
    cdr("c4", disposition="hung"),  # 3: bad field
    cdr("c5", account="999999"),  # 4: unknown account
    cdr("c6", account="100000_ghost"),  # 5: unknown sub account
    cdr("c1"),  # 6: repeat in the batch
    cdr("c7", rate_per_minute="0"),  # 7: answered, free
    cdr(
        "c8", seconds=10, increment_s=1, flat_fee="0.10", rate_per_minute="0.06"
    ),  # 8: 0.10 + 10 s: 0.11
    cdr("c9", started_at="yesterday", increment_s=0),  # 9: two bad fields
]


def test_a_mixed_batch_records_the_valid_records_and_rejects_the_others_by_index(
    two: Database,
) -> None:
    before = state(two)
    result = batch(two, MIXED)
    assert outcome(result) == (
        5,
        1,
        [(3, "validation_failed"), (4, "not_found"), (5, "not_found"), (9, "validation_failed")],
    )
    bad_disposition, bad_times = result.rejected[0][1], result.rejected[3][1]
    assert isinstance(bad_disposition, ValidationFailed)
    assert [e.field for e in bad_disposition.errors] == ["disposition"]
    assert isinstance(bad_times, ValidationFailed)
    assert {e.field for e in bad_times.errors} == {"started_at", "increment_s"}

    assert balance(two, "100000") == Decimal("10") - Decimal("0.02") - Decimal("0.03") - Decimal(
        "0.11"
    )
    assert balance(two, "200000") == Decimal("10")
    assert call_charges(two) == {
        "c1": (Decimal("-0.02"), NOW),
        "c2": (Decimal("-0.03"), NOW),
        "c8": (Decimal("-0.11"), NOW),
    }
    assert cdr_rows(two) == {
        "c1": ("100000", "answered", 61, 120, Decimal("0.02")),
        "c2": ("100000_office", "answered", 30, 30, Decimal("0.03")),
        "c3": ("100000", "busy", 0, 0, Decimal(0)),
        "c7": ("100000", "answered", 61, 120, Decimal(0)),
        "c8": ("100000", "answered", 10, 10, Decimal("0.11")),
    }
    after = state(two)
    # The ledger still sums to the balance, and only the three charges were added to it.
    assert len(after["ledger"]) == len(before["ledger"]) + 3
    ledger_total = sum((amount for acc, _k, amount, *_ in after["ledger"]), Decimal(0))
    assert ledger_total == sum((b for _n, b in after["balances"]), Decimal(0))


def test_resubmitting_a_batch_charges_nothing_and_counts_duplicates(two: Database) -> None:
    batch(two, MIXED)
    before = state(two)
    again = batch(two, MIXED)
    assert outcome(again) == (
        0,
        6,
        [(3, "validation_failed"), (4, "not_found"), (5, "not_found"), (9, "validation_failed")],
    )
    assert state(two) == before


def test_a_call_id_sent_twice_in_one_batch_is_charged_once(two: Database) -> None:
    result = batch(two, [cdr("r1"), cdr("r1"), cdr("r1", account="100000_office"), cdr("r2")])
    assert outcome(result) == (2, 2, [])
    assert balance(two, "100000") == Decimal("9.96")
    assert call_charges(two).keys() == {"r1", "r2"}
    assert cdr_rows(two)["r1"][0] == "100000"  # the first submission is the one kept


def test_a_call_id_of_another_account_is_rejected_and_changes_nothing(two: Database) -> None:
    batch(two, [cdr("taken", account="200000", rate_per_minute="0.05")])
    before = state(two)
    for record in (cdr("taken"), cdr("taken", account="100000_office", seconds=5)):
        result = batch(two, [record])
        assert outcome(result) == (0, 0, [(0, "call_id_in_use")])
        assert "200000" not in str(result.rejected[0][1])  # says nothing about whose it is
        assert state(two) == before
    assert cdr_rows(two)["taken"][0] == "200000"

    mixed = batch(two, [cdr("taken"), cdr("mine")])
    assert outcome(mixed) == (1, 0, [(0, "call_id_in_use")])
    assert balance(two, "200000") == Decimal("9.90")
    assert balance(two, "100000") == Decimal("9.98")
    assert call_charges(two)["taken"][0] == Decimal("-0.10")


def test_a_call_id_two_accounts_send_in_one_batch_goes_to_the_first(two: Database) -> None:
    result = batch(two, [cdr("both"), cdr("both", account="200000_office")])
    assert outcome(result) == (1, 0, [(1, "call_id_in_use")])
    assert (balance(two, "100000"), balance(two, "200000")) == (Decimal("9.98"), Decimal("10"))
    assert cdr_rows(two)["both"][0] == "100000"


def test_a_batch_of_only_rejected_records_changes_nothing(two: Database) -> None:
    batch(two, [cdr("old", account="200000")])
    before = state(two)
    result = batch(
        two,
        [
            cdr("x1", disposition="hung"),
            cdr("x2", account="300000"),
            cdr("old"),
            cdr("x3", account="100000_nobody"),
            cdr("x4", answered_at=None),
            {},
        ],
    )
    assert outcome(result) == (
        0,
        0,
        [
            (0, "validation_failed"),
            (1, "not_found"),
            (2, "call_id_in_use"),
            (3, "not_found"),
            (4, "validation_failed"),
            (5, "validation_failed"),
        ],
    )
    assert state(two) == before


def test_an_empty_batch_is_nothing(two: Database) -> None:
    before = state(two)
    assert outcome(batch(two, [])) == (0, 0, [])
    assert state(two) == before


def _for(number: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same calls made by another account (its own call ids)."""
    return [
        {
            **r,
            "account": str(r["account"]).replace("100000", number),
            "call_id": f"{number}-{r['call_id']}",
        }
        for r in records
    ]


def test_a_batch_charges_exactly_what_record_cdr_charges_one_by_one(two: Database) -> None:
    setup_account(two, "300000")
    records = [
        *MIXED,
        cdr("c10", seconds=3599, rate_per_minute="0.0137", increment_s=30, flat_fee="0.0049"),
        cdr("c11", disposition="noanswer", answered_at=None),
        cdr("c12", disposition="failed", answered_at=None),
        cdr("c2"),
    ]
    singles: list[tuple[str, bool] | str] = []
    for record in _for("100000", records):
        try:
            with two.uow() as uow:
                one = billing.record_cdr(uow, record, now=NOW)
                uow.commit()
            singles.append(("dup" if one.duplicate else "new", one.cost > 0))
        except DialgateError as exc:
            singles.append(exc.code)
    result = batch(two, _for("300000", records))
    rejected = dict((i, exc.code) for i, exc in result.rejected)
    assert rejected == {i: s for i, s in enumerate(singles) if isinstance(s, str)}
    assert result.recorded == sum(1 for s in singles if isinstance(s, tuple) and s[0] == "new")
    assert result.duplicates == sum(1 for s in singles if isinstance(s, tuple) and s[0] == "dup")

    assert balance(two, "100000") == balance(two, "300000") < Decimal("10")
    after = state(two)
    with two.uow(write=False) as uow:
        ids = {n: lookups.get_account(uow, n).id for n in ("100000", "300000")}

    def of(number: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        def same(value: Any) -> Any:
            return value.replace(number, "N") if isinstance(value, str) else value

        return sorted(tuple(same(v) for v in row[1:]) for row in rows if row[0] == ids[number])

    assert of("100000", after["cdrs"]) == of("300000", after["cdrs"])
    assert of("100000", after["ledger"]) == of("300000", after["ledger"])
    assert len(of("300000", after["cdrs"])) == result.recorded


def test_concurrent_batches_with_the_same_calls_charge_each_call_once(db: Database) -> None:
    setup_account(db, "100000", balance="100")
    records = [cdr(f"k{i}", rate_per_minute="0.10") for i in range(20)]
    workers, results, errors = 6, [], []
    barrier = threading.Barrier(workers)

    def worker(offset: int) -> None:
        try:
            barrier.wait()
            # Each worker sends the same calls, in a different order.
            mine = records[offset:] + records[:offset]
            with db.uow() as uow:
                results.append(billing.record_cdrs(uow, mine, now=NOW))
                uow.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(3 * i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.recorded for r in results) == 20
    assert sum(r.duplicates for r in results) == 20 * (workers - 1)
    assert all(r.rejected == [] for r in results)
    assert balance(db, "100000") == Decimal("100") - 20 * Decimal("0.20")
    assert len(call_charges(db)) == 20


def test_each_repeat_of_another_accounts_call_id_is_rejected(two: Database) -> None:
    batch(two, [cdr("theirs", account="200000")])
    result = batch(two, [cdr("theirs"), cdr("theirs")])
    assert outcome(result) == (0, 0, [(0, "call_id_in_use"), (1, "call_id_in_use")])


def test_an_owners_resend_is_a_duplicate_even_after_another_accounts_record(
    two: Database,
) -> None:
    batch(two, [cdr("theirs", account="200000")])
    result = batch(two, [cdr("theirs"), cdr("theirs", account="200000")])
    assert outcome(result) == (0, 1, [(0, "call_id_in_use")])


def inbound(call_id: str, seconds: int = 61, **kw: Any) -> dict[str, Any]:
    """A call from a carrier to DID 5145550100, as Kamailio records it (no dialed, no charge)."""
    record = cdr(call_id, seconds, direction="inbound", did="5145550100", caller_id="4385550123")
    for key in ("dialed", "route", "rate_per_minute", "increment_s", "flat_fee"):
        del record[key]
    record.update(kw)
    return record


def test_inbound_records_in_a_batch_are_recorded_once_and_never_charged(two: Database) -> None:
    records = [
        inbound("i1"),  # 0: answered, free
        cdr("o1"),  # 1: outbound, 0.02
        inbound("i2", answered_at=None, disposition="busy", caller_id=None),  # 2
        inbound("i3", direction="both"),  # 3: bad direction
        inbound("i4", flat_fee="0.75"),  # 4: a charge on an inbound call
        inbound("i1"),  # 5: repeat in the batch
        inbound("i5", account="200000_office"),  # 6: another account's DID
        inbound("o1"),  # 7: the outbound call's id, same account: a duplicate
    ]
    result = batch(two, records)
    assert outcome(result) == (4, 2, [(3, "validation_failed"), (4, "validation_failed")])
    bad_direction, bad_fee = (exc for _i, exc in result.rejected)
    assert isinstance(bad_direction, ValidationFailed) and isinstance(bad_fee, ValidationFailed)
    assert [(e.field, e.code) for e in bad_direction.errors] == [("direction", "invalid_choice")]
    assert [(e.field, e.code) for e in bad_fee.errors] == [("flat_fee", "inbound_not_charged")]
    assert call_charges(two) == {"o1": (Decimal("-0.02"), NOW)}
    assert (balance(two, "100000"), balance(two, "200000")) == (Decimal("9.98"), Decimal("10"))
    assert cdr_rows(two) == {
        "i1": ("100000", "answered", 61, 0, Decimal(0)),
        "o1": ("100000", "answered", 61, 120, Decimal("0.02")),
        "i2": ("100000", "busy", 0, 0, Decimal(0)),
        "i5": ("200000_office", "answered", 61, 0, Decimal(0)),
    }
    with two.uow(write=False) as uow:
        rows = {r.call_id: r for r in uow.session.scalars(select(CdrRow))}
        assert {c: (r.direction, r.dialed, r.caller_number) for c, r in rows.items()} == {
            "i1": ("inbound", "5145550100", "4385550123"),
            "o1": ("outbound", "5145550199", None),
            "i2": ("inbound", "5145550100", None),
            "i5": ("inbound", "5145550100", "4385550123"),
        }

    before = state(two)
    again = batch(two, records)
    assert outcome(again) == (0, 6, [(3, "validation_failed"), (4, "validation_failed")])
    assert state(two) == before


def test_the_end_reason_is_kept_and_a_bad_one_is_refused_changing_nothing(
    two: Database,
) -> None:
    result = batch(two, [cdr("er-1", end_reason="rtp_timeout"), cdr("er-2"),
                          cdr("er-3", end_reason="bored")])
    assert (result.recorded, [i for i, _e in result.rejected]) == (2, [2])
    with two.uow(write=False) as uow:
        reasons = dict(uow.session.execute(
            select(CdrRow.call_id, CdrRow.end_reason).where(CdrRow.call_id.like("er-%"))).all())
    assert reasons == {"er-1": "rtp_timeout", "er-2": None}


def test_a_batch_posts_each_accounts_charges_together_and_alerts_once_on_a_crossing(
        db: Database) -> None:
    """Five charged calls of one account: five ledger rows in batch order, the balance lowered
    by their sum, one policy-feed entry of the balance kind (each deciding process reads the
    balance again, once, and rebuilds nothing), and one low-balance email although the
    threshold is crossed midway."""
    setup_account(db, "100000", balance="10.05", settings={"balance_threshold": "10"})
    setup_account(db, "200000")
    feed = tables.policy_changes.c
    with db.uow(write=False) as uow:
        seq = uow.scalar(select(func.max(feed.seq)))
    outbox = state(db)["outbox"]
    # 0.02 each (61 s at 0.01/min by the minute): 10.05 -> 9.95, crossing 10 at the third
    records = [cdr(f"b{i}") for i in range(5)] + [cdr("o1", account="200000")]
    assert outcome(batch(db, records)) == (6, 0, [])
    assert balance(db, "100000") == Decimal("9.95")
    assert balance(db, "200000") == Decimal("9.98")
    with db.uow(write=False) as uow:
        ledger = tables.transactions.c
        calls = uow.execute(
            select(ledger.call_id, ledger.amount).where(ledger.kind == "call")
            .order_by(ledger.id)
        ).all()
        changes = uow.execute(select(feed.account, feed.kind).where(feed.seq > seq)).all()
    assert [(c, Decimal(a)) for c, a in calls] == [
        *((f"b{i}", Decimal("-0.02")) for i in range(5)), ("o1", Decimal("-0.02"))]
    assert sorted(tuple(change) for change in changes) == [
        ("100000", "balance"), ("200000", "balance")]
    assert state(db)["outbox"] == outbox + 1
