"""A finished call as the switch reports it (``/switch/v1/cdr`` and ``record_cdr``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def cdr(call_id: str, seconds: int = 61, **kw: Any) -> dict[str, Any]:
    """An answered 'value' call of account 100000 that talked ``seconds``, ended before NOW;
    keywords replace fields."""
    started = NOW - timedelta(minutes=10)
    record: dict[str, Any] = {
        "call_id": call_id,
        "account": "100000",
        "dialed": "5145550199",
        "started_at": started.isoformat(),
        "answered_at": (started + timedelta(seconds=5)).isoformat(),
        "ended_at": (started + timedelta(seconds=5 + seconds)).isoformat(),
        "disposition": "answered",
        "route": "value",
        "rate_per_minute": "0.01",
        "increment_s": 60,
        "flat_fee": "0",
    }
    record.update(kw)
    return record
