"""A small, known call history for the history tests: five calls of account 100000 over three
days (every disposition, both directions, main and sub account) and one of account 200000."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dialgate.services import billing
from dialgate.services.uow import Database

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _record(call_id: str, account: str, started: datetime, disposition: str, *,
            dialed: str = "5145550199", talk: int = 0, **kw: Any) -> dict[str, Any]:
    answered = started + timedelta(seconds=5) if disposition == "answered" else None
    ended = (answered or started) + timedelta(seconds=talk or 20)
    record: dict[str, Any] = {
        "call_id": call_id,
        "account": account,
        "dialed": dialed,
        "started_at": started.isoformat(),
        "answered_at": answered.isoformat() if answered else None,
        "ended_at": ended.isoformat(),
        "disposition": disposition,
        "route": "value",
        "rate_per_minute": "0.01",
        "increment_s": 60,
        "flat_fee": "0",
    }
    record.update(kw)
    return record


def _inbound(call_id: str, account: str, started: datetime, did: str, caller: str,
             talk: int) -> dict[str, Any]:
    record = _record(call_id, account, started, "answered", talk=talk, direction="inbound",
                     did=did, caller_id=caller)
    for key in ("dialed", "route", "rate_per_minute", "increment_s", "flat_fee"):
        del record[key]
    return record


# call_id -> what the tests assert about it
CALLS = {
    # 61 s answered at $0.01/min, billed 120 s: $0.02
    "h1": _record("h1", "100000", T0, "answered", talk=61),
    "h2": _record("h2", "100000_office", T0 + timedelta(hours=13, minutes=30), "busy",
                  dialed="4165550123"),
    "h3": _inbound("h3", "100000", T0 + timedelta(hours=14, minutes=30), "5145550100",
                   "2125550100", 30),
    "h4": _record("h4", "100000_office", T0 + timedelta(days=1, hours=2), "noanswer",
                  dialed="4165550124"),
    # 125 s answered: billed 180 s, $0.03
    "h5": _record("h5", "100000", T0 + timedelta(days=2), "failed", dialed="011441234567"),
    "h6": _record("h6", "100000", T0 + timedelta(days=2, hours=1), "answered", talk=125,
                  dialed="011441234568"),
}
BOB_CALL = _record("b1", "200000", T0, "answered", talk=30)


def seed_history(db: Database, *, deposit: bool = True) -> None:
    """Records the calls above (accounts 100000 with sub office, and 200000, must exist)
    after a $10 deposit to 100000."""
    with db.uow() as uow:
        if deposit:
            billing.deposit(uow, "100000", "10.00", now=T0 - timedelta(hours=1))
        for record in (*CALLS.values(), BOB_CALL):
            billing.record_cdr(uow, record, now=T0 + timedelta(days=3))
        uow.commit()
