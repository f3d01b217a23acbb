"""Pricing rules for finished calls and the CDR contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dialgate.domain.billing import hms, parse_record, price
from dialgate.domain.errors import ValidationFailed

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def payload(seconds: float | None, **kw: Any) -> dict[str, Any]:
    answered = T0 + timedelta(seconds=2) if seconds is not None else None
    ended = (answered or T0) + timedelta(seconds=30 if seconds is None else seconds)
    base: dict[str, Any] = {
        "call_id": "c1",
        "account": "100000",
        "dialed": "5145550199",
        "started_at": T0.isoformat(),
        "answered_at": answered.isoformat() if answered else None,
        "ended_at": ended.isoformat().replace("+00:00", "Z"),
        "disposition": "answered" if seconds is not None else "noanswer",
        "route": "premium",
        "rate_per_minute": "0.0100",
        "increment_s": 60,
        "flat_fee": "0",
    }
    base.update(kw)
    return base


@pytest.mark.parametrize(
    ("seconds", "increment", "billed", "cost"),
    [
        (61, 60, 120, Decimal("0.020000")),
        (60, 60, 60, Decimal("0.010000")),
        (1, 60, 60, Decimal("0.010000")),
        (61, 6, 66, Decimal("0.011000")),
        (0, 60, 0, Decimal("0")),
        (59.2, 1, 60, Decimal("0.010000")),
    ],
)
def test_calls_are_billed_in_whole_increments(
    seconds: float, increment: int, billed: int, cost: Decimal
) -> None:
    p = price(parse_record(payload(seconds, increment_s=increment)))
    assert (p.billed_s, p.cost) == (billed, cost)


def test_411_costs_its_flat_fee() -> None:
    p = price(parse_record(payload(95, dialed="411", rate_per_minute="0", flat_fee="0.75")))
    assert p.cost == Decimal("0.750000") and p.duration_s == 95


@pytest.mark.parametrize("disposition", ["busy", "noanswer", "failed"])
def test_unanswered_calls_cost_nothing(disposition: str) -> None:
    p = price(parse_record(payload(None, disposition=disposition, flat_fee="0.75")))
    assert (p.cost, p.billed_s) == (Decimal(0), 0)


def test_cost_is_rounded_half_up_to_six_places() -> None:
    p = price(parse_record(payload(1, increment_s=1, rate_per_minute="0.00001")))
    assert p.cost == Decimal("0.000000")
    p = price(parse_record(payload(3, increment_s=1, rate_per_minute="0.00001")))
    assert p.cost == Decimal("0.000001")  # 0.0000005 rounds up


def test_bad_records_name_every_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(
            payload(
                10,
                call_id="",
                account="abc",
                started_at="yesterday",
                disposition="maybe",
                rate_per_minute="-1",
                increment_s=0,
            )
        )
    assert {e.field for e in exc.value.errors} == {
        "call_id",
        "account",
        "started_at",
        "disposition",
        "rate_per_minute",
        "increment_s",
    }


def test_answered_call_needs_answered_at_and_naive_times_are_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(payload(None, disposition="answered"))
    assert exc.value.errors[0].code == "inconsistent_answer"
    with pytest.raises(ValidationFailed) as exc:
        parse_record(payload(10, started_at="2024-05-01T12:00:00"))
    assert exc.value.errors[0].code == "naive_datetime"


def test_durations_read_like_voipms() -> None:
    assert (hms(650), hms(37068)) == ("10:50", "10:17:48")
