"""services.history on SQLite and PostgreSQL: keyset pages without gaps or repeats (ties on
the start time included), totals and per-day figures, the ledger pages, and deep cursors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from dialgate.domain.errors import ValidationFailed
from dialgate.services import accounts, billing, history
from dialgate.services.uow import Database
from tests.support.records import cdr

T = datetime(2024, 5, 1, 23, 59, 30, tzinfo=UTC)


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.uow() as uow:
        accounts.create_account(uow, number="100000", email="a@example.com", password="Portal123x")
        billing.deposit(uow, "100000", "50.00", now=T - timedelta(days=1))
        # three calls start at the same instant: the id settles their order
        for i in range(3):
            billing.record_cdr(uow, cdr(f"same-{i}", 61, started_at=T.isoformat(),
                                        answered_at=T.isoformat(),
                                        ended_at=(T + timedelta(seconds=61)).isoformat()),
                               now=T + timedelta(minutes=10))
        for i in range(4):
            at = T + timedelta(minutes=i + 1)  # the last ones fall on May 2nd (UTC)
            billing.record_cdr(uow, cdr(f"later-{i}", 30, started_at=at.isoformat(),
                                        answered_at=at.isoformat(),
                                        ended_at=(at + timedelta(seconds=30)).isoformat()),
                               now=T + timedelta(minutes=10))
        uow.commit()
    return db


def _filter(db: Database) -> history.CdrFilter:
    start, end = history.day_range(date(2024, 5, 1), date(2024, 5, 2))
    with db.uow(write=False) as uow:
        return history.make_filter(uow, "100000", start=start, end=end)


def test_pages_cover_every_record_once_in_order(seeded: Database) -> None:
    f = _filter(seeded)
    with seeded.uow(write=False) as uow:
        everything = history.cdr_page(uow, "100000", f, limit=100).rows
        for limit in (1, 2, 3):
            seen, cursor = [], None
            while True:
                page = history.cdr_page(uow, "100000", f, cursor=cursor, limit=limit)
                seen += [r.call_id for r in page.rows]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert seen == [r.call_id for r in everything], limit
    assert [r.call_id for r in everything][:4] == ["later-3", "later-2", "later-1", "later-0"]
    assert sorted(r.call_id for r in everything[4:]) == ["same-0", "same-1", "same-2"]
    ids = [r.id for r in everything[4:]]
    assert ids == sorted(ids, reverse=True)


def test_totals_and_days(seeded: Database) -> None:
    f = _filter(seeded)
    with seeded.uow(write=False) as uow:
        totals = history.cdr_totals(uow, "100000", f)
        days = history.cdr_daily(uow, "100000", f)
        ledger, ledger_days = history.transaction_totals(
            uow, "100000", history.make_transaction_filter(
                start=T - timedelta(days=2), end=T + timedelta(days=2)))
    # 3 x 61 s (billed 120 s at 0.01) + 4 x 30 s (billed 60 s)
    assert (totals.calls, totals.seconds, totals.cost) == (7, 303, Decimal("0.100000"))
    # 23:59:30 and 00:00:30.. are on different UTC days, on both backends
    assert [(d.day, d.calls) for d in days] == [(date(2024, 5, 1), 3), (date(2024, 5, 2), 4)]
    assert [d.cost for d in days] == [Decimal("0.060000"), Decimal("0.040000")]
    assert history.totals_of(days) == totals  # the portal's one-pass totals agree
    assert (ledger.deposits, ledger.charges, ledger.entries) == (
        Decimal("50.000000"), Decimal("0.100000"), 8)
    assert [d.deposits for d in ledger_days if d.deposits] == [Decimal("50.000000")]


def test_ledger_pages_both_orders(seeded: Database) -> None:
    f = history.make_transaction_filter(start=T - timedelta(days=2), end=T + timedelta(days=2))
    for oldest_first in (True, False):
        with seeded.uow(write=False) as uow:
            seen, cursor = [], None
            while True:
                page = history.transaction_page(uow, "100000", f, cursor=cursor, limit=3,
                                                oldest_first=oldest_first)
                seen += [e.uniqueid for e in page.rows]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 8
        # the deposit is the oldest entry; the 7 charges share one instant (ids settle ties)
        assert seen[0 if oldest_first else -1] != seen[1 if oldest_first else -2]
        expected = ["same-0", "same-1", "same-2", "later-0", "later-1", "later-2", "later-3"]
        charges = [u for u in seen if u in expected]
        assert charges == (expected if oldest_first else expected[::-1])


def test_bad_filters_change_nothing_and_name_the_field(seeded: Database) -> None:
    with seeded.uow(write=False) as uow, pytest.raises(ValidationFailed) as caught:
        history.make_filter(uow, "100000", start=T, end=T, subject="200000",
                            dispositions=["nope"], search="x")
    assert {e.field for e in caught.value.errors} == {"account", "disposition", "q"}
    with pytest.raises(ValidationFailed) as bad_range:
        history.day_range(date(2024, 1, 1), date(2025, 6, 1))
    assert bad_range.value.errors[0].code == "range_too_long"
