"""The daily roll-up (cdr_days) on SQLite and PostgreSQL: the Call History figures it gives
(whole UTC days from the roll-up, partial edge days from the records) equal a direct count of
the records for random filters and ranges; a resent call adds nothing; a batch that fails
leaves the roll-up as it was; migration 0011 fills the roll-up from the records already there."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from dialgate.adapters.db import migrate
from dialgate.adapters.db.models import CdrDayRow, CdrRow
from dialgate.domain import billing as b
from dialgate.domain.errors import ValidationFailed
from dialgate.services import accounts, billing, history, lookups
from dialgate.services.uow import Database
from tests.support.records import cdr

T0 = datetime(2024, 5, 1, tzinfo=UTC)
SUBJECTS = ("100000", "100000_office", "100000_desk")


def _random_record(rnd: random.Random, i: int, account: str | None = None) -> dict[str, Any]:
    started = T0 + timedelta(seconds=rnd.randrange(6 * 86400))
    disposition = rnd.choice(b.DISPOSITIONS)
    talk = rnd.randrange(1, 400) if disposition == "answered" else 0
    answered = started + timedelta(seconds=3) if talk else None
    ended = (answered or started) + timedelta(seconds=talk or 15)
    fields: dict[str, Any] = {
        "account": account or rnd.choice(SUBJECTS),
        "started_at": started.isoformat(),
        "answered_at": answered.isoformat() if answered else None,
        "ended_at": ended.isoformat(),
        "disposition": disposition,
        "rate_per_minute": str(Decimal(rnd.randrange(1, 30000)) / 1000000),
        "increment_s": rnd.choice((1, 6, 60)),
    }
    if rnd.random() < 0.25:
        fields.update(direction="inbound", did=f"514555{rnd.randrange(10000):04d}",
                      caller_id=f"212555{rnd.randrange(10000):04d}")
        for key in ("rate_per_minute", "increment_s"):
            del fields[key]
        record = cdr(f"r{i}", **fields)
        for key in ("dialed", "route", "flat_fee", "rate_per_minute", "increment_s"):
            record.pop(key, None)
        return record
    return cdr(f"r{i}", dialed=f"1514555{rnd.randrange(10000):04d}", **fields)


@pytest.fixture
def recorded(db: Database) -> Database:
    rnd = random.Random(20261203)
    with db.uow() as uow:
        for number, email in (("100000", "a@example.com"), ("200000", "b@example.com")):
            accounts.create_account(uow, number=number, email=email, password="Portal123x")
            billing.deposit(uow, number, "500.00", now=T0 - timedelta(days=1))
        for sub in ("office", "desk"):
            accounts.create_subaccount(uow, "100000", sub, password="Portal123x", actor="test")
        uow.commit()
    records = [_random_record(rnd, i) for i in range(400)]
    records += [_random_record(rnd, 1000 + i, "200000") for i in range(40)]
    with db.uow() as uow:
        # both writers: the batch (with a resent call in it) and the one-by-one path
        billing.record_cdrs(uow, records[:300] + records[:5], now=T0 + timedelta(days=7))
        for record in records[300:] + records[290:300]:
            billing.record_cdr(uow, record, now=T0 + timedelta(days=7))
        uow.commit()
    return db


def _scan(db: Database, f: history.CdrFilter) -> dict[date, tuple[int, Decimal, int, int]]:
    """The oracle: every record of account 100000, filtered and summed in Python."""
    sums: dict[date, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0, 0])
    with db.uow(write=False) as uow:
        account_id = lookups.get_account(uow, "100000").id
        for row in uow.session.scalars(select(CdrRow).where(CdrRow.account_id == account_id)):
            if not f.start <= row.started_at < f.end:
                continue
            if f.subject is not None and row.caller != f.subject:
                continue
            if f.direction is not None and row.direction != f.direction:
                continue
            if row.disposition not in f.dispositions:
                continue
            if f.search is not None and f.search not in row.dialed + (row.caller_number or ""):
                continue
            day = sums[row.started_at.astimezone(UTC).date()]
            day[0] += 1
            day[1] += row.cost
            day[2] += row.duration_s
            day[3] += row.billed_s
    return {d: (n, c, s, bs) for d, (n, c, s, bs) in sums.items()}


def _random_filter(db: Database, rnd: random.Random) -> history.CdrFilter:
    first = T0.date() + timedelta(days=rnd.randrange(-1, 6))
    last = first + timedelta(days=rnd.randrange(0, 6))
    # whole UTC days, a customer's time zone, or any instants at all
    kind = rnd.randrange(3)
    if kind == 2:
        start = T0 + timedelta(seconds=rnd.randrange(-86400, 6 * 86400))
        end = start + timedelta(seconds=rnd.randrange(1, 5 * 86400))
    else:
        offset = timedelta(0) if kind == 0 else timedelta(minutes=rnd.choice((-300, 330, 60)))
        start, end = history.day_range(first, last, offset=offset)
    with db.uow(write=False) as uow:
        return history.make_filter(
            uow, "100000", start=start, end=end,
            subject=rnd.choice((None, *SUBJECTS)),
            direction=rnd.choice((None, *b.DIRECTIONS)),
            dispositions=rnd.sample(b.DISPOSITIONS, rnd.randrange(0, 4)),
            search=rnd.choice((None,) * 5 + ("555", "51455512")),
        )


def test_rollup_figures_equal_a_direct_count_for_random_filters(recorded: Database) -> None:
    rnd = random.Random(15)
    checked_whole_days = 0
    for _ in range(60):
        f = _random_filter(recorded, rnd)
        expected = _scan(recorded, f)
        with recorded.uow(write=False) as uow:
            days = history.cdr_daily(uow, "100000", f)
            totals = history.cdr_totals(uow, "100000", f)
        got = {d.day: (d.calls, d.cost, d.seconds, d.billed_s) for d in days if d.calls}
        assert got == expected, f
        assert totals.calls == sum(n for n, _c, _s, _b in expected.values())
        assert totals.cost == sum((c for _n, c, _s, _b in expected.values()), Decimal(0))
        assert totals.seconds == sum(s for _n, _c, s, _b in expected.values())
        assert [d.day for d in days] == history._all_days(f.start, f.end)
        checked_whole_days += history._whole_days(f) is not None
    assert checked_whole_days >= 20  # the roll-up itself was read, not only the fallback


def _rolled(db: Database) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    with db.uow(write=False) as uow:
        return {
            (r.account_id, r.day, r.subject, r.direction, r.disposition):
                (r.calls, r.seconds, r.billed_s, r.cost)
            for r in uow.session.scalars(select(CdrDayRow))
        }


def test_migration_0011_fills_the_rollup_from_the_records(
    recorded: Database, database_url: str
) -> None:
    kept = _rolled(recorded)
    recorded.dispose()
    command.downgrade(migrate.alembic_config(database_url), "0010")  # drops cdr_days
    migrate.upgrade(database_url)  # and makes it again from the cdrs rows
    assert _rolled(recorded) == kept
    assert sum(n for n, *_ in kept.values()) == 440


def test_the_rollup_rows_are_the_records_summed(recorded: Database) -> None:
    with recorded.uow(write=False) as uow:
        rolled = {
            (r.account_id, r.day, r.subject, r.direction, r.disposition):
                (r.calls, r.seconds, r.billed_s, r.cost)
            for r in uow.session.scalars(select(CdrDayRow))
        }
        direct: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
        for row in uow.session.scalars(select(CdrRow)):
            key = (row.account_id, row.started_at.astimezone(UTC).date(), row.caller,
                   row.direction, row.disposition)
            direct[key][0] += 1
            direct[key][1] += row.duration_s
            direct[key][2] += row.billed_s
            direct[key][3] += row.cost
        assert sum(n for n, *_ in rolled.values()) == 440  # resent calls counted once
    assert rolled == {k: tuple(v) for k, v in direct.items()}


def test_a_failed_write_leaves_the_rollup_unchanged(recorded: Database) -> None:
    def snapshot() -> list[tuple[Any, ...]]:
        with recorded.uow(write=False) as uow:
            return sorted((r.account_id, r.day, r.subject, r.direction, r.disposition, r.calls,
                           r.cost) for r in uow.session.scalars(select(CdrDayRow)))

    before = snapshot()
    good = cdr("new-1", 100, started_at=T0.isoformat(),
               answered_at=T0.isoformat(), ended_at=(T0 + timedelta(seconds=100)).isoformat())
    with pytest.raises(ValidationFailed), recorded.uow() as uow:
        billing.record_cdr(uow, good, now=T0 + timedelta(days=7))
        billing.record_cdr(uow, cdr("new-2", disposition="sideways"))  # refused: rolled back
        uow.commit()
    assert snapshot() == before
    with recorded.uow() as uow:
        billing.record_cdr(uow, good, now=T0 + timedelta(days=7))
        uow.commit()
    key = (T0.date(), "100000", "outbound", "answered")
    calls = {k[1:5]: k[5] for k in snapshot() }
    was = {k[1:5]: k[5] for k in before}
    assert calls[key] == was.get(key, 0) + 1  # the same record, committed this time
