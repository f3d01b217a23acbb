"""The daily roll-up of call records (table ``cdr_days``): per account, UTC day, line,
direction and disposition, the number of calls, their seconds, billed seconds and cost.

``add_records`` is called by the one writer of call records (``services.billing``, for the rows
its insert actually wrote) in the same transaction, so the roll-up never differs from the
``cdrs`` rows: a rolled-back insert rolls its sums back too. Each key is an upsert that adds to
the row (``ON CONFLICT DO UPDATE SET calls = calls + excluded.calls``), taken in key order, so
concurrent batches cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from dialgate.adapters.db.models import CdrDayRow
from dialgate.services.uow import UnitOfWork

Key = tuple[int, date, str, str, str]  # account_id, day, subject, direction, disposition


def _sums(rows: Iterable[Mapping[str, Any]]) -> dict[Key, list[Any]]:
    sums: dict[Key, list[Any]] = {}
    for row in rows:
        key = (row["account_id"], row["started_at"].astimezone(UTC).date(), row["caller"],
               row["direction"], row["disposition"])
        entry = sums.setdefault(key, [0, 0, 0, Decimal(0)])
        entry[0] += 1
        entry[1] += row["duration_s"]
        entry[2] += row["billed_s"]
        entry[3] += row["cost"]
    return sums


def add_records(uow: UnitOfWork, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add inserted call records (the column values given to the ``cdrs`` insert) to their
    days. Call it only for rows really inserted: a duplicate call id adds nothing."""
    sums = _sums(rows)
    if not sums:
        return
    table = CdrDayRow.__table__
    dialect = postgresql if uow.dialect == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "day", "subject", "direction", "disposition"],
        set_={
            table.c.calls: table.c.calls + stmt.excluded.calls,
            table.c.seconds: table.c.seconds + stmt.excluded.seconds,
            table.c.billed_s: table.c.billed_s + stmt.excluded.billed_s,
            table.c.cost: table.c.cost + stmt.excluded.cost,
        },
    )
    params = [
        {"account_id": k[0], "day": k[1], "subject": k[2], "direction": k[3],
         "disposition": k[4], "calls": v[0], "seconds": v[1], "billed_s": v[2], "cost": v[3]}
        for k, v in sorted(sums.items())
    ]
    uow.session.execute(stmt, params)
