"""Call history paging with 1,000,000 call records for one account.

    python benchmarks/history_page.py [--rows 1000000] [--days 90] [--repeat 30]
                                      [--database-url URL] [--json]

Loads ``--rows`` call records for account 100000 (spread over ``--days`` days ending today, a
few sub accounts, every disposition, inserted oldest first as calls end; loaded once into
``var/bench-history-<rows>.db`` and kept for the next run unless ``--database-url`` names
another database), then times, server side (the service calls the pages make, in-process, no
HTTP), each ``--repeat`` times:

- ``first page``: the newest 50 calls of the last 31 days (a month: what the portal opens on);
- ``deep page``: 50 calls from the middle of the range, by cursor;
- ``filtered page``: one sub account's busy calls, first page;
- ``search page``: a destination search, first page;
- ``totals``: calls, minutes and cost of the month;
- ``daily``: the chart's figures of the month;
- ``daily, time zone``: the same month at UTC-5 (two partial edge days read from the records);
- ``daily, search``: the month's figures of a destination search (no roll-up: the records);
- ``GET /v1/cdrs`` and ``GET /portal/calls`` (the month so far, and 31 days): the whole HTTP
  request through the app (the portal page includes its totals and chart).

Prints median, p95 and max in milliseconds. The records go in through bulk inserts, not the
pricing path (this measures reading, not recording), with the daily roll-up (``cdr_days``)
added in the same transaction as the pricing path does. A database loaded before revision 0011
gets its roll-up from the migration's backfill.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

os.environ.setdefault("DIALGATE_ENVIRONMENT", "development")

from sqlalchemy import func, insert, select

from dialgate.adapters.db import migrate
from dialgate.adapters.db.models import CdrRow
from dialgate.services import accounts, apikeys, cdr_rollup, history, lookups, pops
from dialgate.services.uow import Database

ROOT = Path(__file__).resolve().parents[1]
SUBS = ("office", "desk", "fax")
DISPOSITIONS = ("answered",) * 7 + ("busy", "noanswer", "failed")
PASSWORD = "BenchPass123"


def _load(db: Database, rows: int, days: int) -> None:
    with db.uow() as uow:
        if lookups.find_account(uow, "100000") is None:
            pops.sync_pops(uow)
            accounts.create_account(uow, number="100000", email="bench@example.com",
                                    password=PASSWORD)
            for sub in SUBS:
                accounts.create_subaccount(uow, "100000", sub, password=PASSWORD, actor="bench")
            uow.commit()
        account_id = lookups.get_account(uow, "100000").id
        have = uow.session.scalar(select(func.count(CdrRow.id)))
    if have and have >= rows:
        return
    rnd = random.Random(7)
    end = datetime.now(UTC).replace(microsecond=0)
    span = days * 86400
    chunk = 20000
    started = time.perf_counter()
    # Calls are recorded as they end: rows go in oldest first, as in production.
    offsets = sorted((rnd.randrange(span) for _ in range(rows)), reverse=True)
    for base in range(int(have or 0), rows, chunk):
        batch: list[dict[str, Any]] = []
        for i in range(base, min(base + chunk, rows)):
            at = end - timedelta(seconds=offsets[i])
            disposition = rnd.choice(DISPOSITIONS)
            talk = rnd.randrange(1, 900) if disposition == "answered" else 0
            billed = -(-talk // 6) * 6
            batch.append({
                "call_id": f"bench-{i}",
                "account_id": account_id,
                "caller": "100000" if i % 4 == 0 else f"100000_{SUBS[i % 3]}",
                "dialed": f"1514555{rnd.randrange(10000):04d}",
                "direction": "outbound",
                "caller_number": None,
                "started_at": at,
                "answered_at": at + timedelta(seconds=3) if talk else None,
                "ended_at": at + timedelta(seconds=3 + talk),
                "disposition": disposition,
                "route": "value",
                "rate_per_minute": Decimal("0.009"),
                "increment_s": 6,
                "flat_fee": Decimal(0),
                "duration_s": talk,
                "billed_s": billed,
                "cost": (Decimal("0.009") * billed / 60).quantize(Decimal("0.000001")),
            })
        with db.uow() as uow:
            uow.session.execute(insert(CdrRow), batch)
            cdr_rollup.add_records(uow, batch)  # as the recording path does
            uow.commit()
        done = min(base + chunk, rows)
        print(f"  loaded {done:,} rows ({time.perf_counter() - started:.0f} s)", file=sys.stderr)


def _time(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm: statement cache, SQLite page cache
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    runs.sort()
    return {
        "median_ms": round(statistics.median(runs), 2),
        "p95_ms": round(runs[max(0, int(len(runs) * 0.95) - 1)], 2),
        "max_ms": round(runs[-1], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{ROOT / 'var' / f'bench-history-{args.rows}.db'}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url)
    db = Database(url)
    _load(db, args.rows, args.days)

    today = datetime.now(UTC).date()
    # A full month (31 days), not the month so far: the heaviest default the page can have.
    start, end = history.day_range(today - timedelta(days=30), today)
    with db.uow(write=False) as uow:
        month = history.make_filter(uow, "100000", start=start, end=end)
        busy = history.make_filter(uow, "100000", start=start, end=end,
                                   subject="100000_office", dispositions=["busy"])
        search = history.make_filter(uow, "100000", start=start, end=end, search="5551234")
        all_range = history.make_filter(
            uow, "100000", start=end - timedelta(days=args.days), end=end
        )
        in_month = uow.session.scalar(
            select(func.count(CdrRow.id)).where(CdrRow.started_at >= start)
        )
        # a cursor half way through the whole range
        middle = uow.session.execute(
            select(CdrRow.started_at, CdrRow.id).order_by(CdrRow.started_at.desc(),
                                                          CdrRow.id.desc())
            .offset(args.rows // 2).limit(1)
        ).one()
    deep_cursor = history.encode_cursor(middle[0], middle[1])

    def page(f: history.CdrFilter, cursor: str | None = None) -> Callable[[], object]:
        def run() -> object:
            with db.uow(write=False) as uow:
                return history.cdr_page(uow, "100000", f, cursor=cursor, limit=50)
        return run

    def totals() -> object:
        with db.uow(write=False) as uow:
            return history.cdr_totals(uow, "100000", month)

    def daily_of(f: history.CdrFilter) -> Callable[[], object]:
        def run() -> object:
            with db.uow(write=False) as uow:
                return history.cdr_daily(uow, "100000", f)
        return run

    daily = daily_of(month)
    zstart, zend = history.day_range(today - timedelta(days=30), today,
                                     offset=-timedelta(hours=5))
    with db.uow(write=False) as uow:
        month_tz = history.make_filter(uow, "100000", start=zstart, end=zend)

    results: dict[str, Any] = {
        "database": db.dialect,
        "rows": args.rows,
        "rows_this_month": in_month,
        "first page": _time(page(month), args.repeat),
        "deep page": _time(page(all_range, deep_cursor), args.repeat),
        "filtered page": _time(page(busy), args.repeat),
        "search page": _time(page(search), args.repeat),
        "totals": _time(totals, max(3, args.repeat // 5)),
        "daily": _time(daily, max(3, args.repeat // 5)),
        "daily, time zone": _time(daily_of(month_tz), max(3, args.repeat // 5)),
        "daily, search": _time(daily_of(search), max(3, args.repeat // 5)),
    }
    results.update(_http(url, db, args.repeat))
    db.dispose()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{results['database']}: {args.rows:,} call records for one account, "
              f"{in_month:,} in the month timed")
        for name, figures in results.items():
            if isinstance(figures, dict):
                print(f"  {name:<22} median {figures['median_ms']:>8.2f} ms   "
                      f"p95 {figures['p95_ms']:>8.2f} ms   max {figures['max_ms']:>8.2f} ms")
    return 0


def _http(url: str, db: Database, repeat: int) -> dict[str, Any]:
    """The whole request through the app (routing, auth, query, JSON or HTML)."""
    os.environ["DIALGATE_DATABASE_URL"] = url
    os.environ.setdefault("DIALGATE_SECRET_KEY", "bench-secret-key-0123456789abcdef")
    from fastapi.testclient import TestClient

    from dialgate.config import get_settings
    from dialgate.entrypoints.web import create_app

    get_settings.cache_clear()
    with db.uow() as uow:
        _info, key = apikeys.create_api_key(uow, "100000", name="bench")
        uow.commit()
    out: dict[str, Any] = {}
    with TestClient(create_app()) as client:
        headers = {"Authorization": f"Bearer {key}"}
        out["GET /v1/cdrs"] = _time(
            lambda: client.get("/v1/cdrs", headers=headers).raise_for_status(), repeat
        )
        page = client.get("/portal/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/portal/login", data={"login": "100000", "password": PASSWORD,
                                           "csrf_token": token})
        out["GET /portal/calls"] = _time(
            lambda: client.get("/portal/calls").raise_for_status(), max(3, repeat // 5)
        )
        today = datetime.now(UTC).date()
        month = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
        out["GET /portal/calls 31 d"] = _time(
            lambda: client.get("/portal/calls", params=month).raise_for_status(),
            max(3, repeat // 5),
        )
    return out


if __name__ == "__main__":
    sys.exit(main())
