"""Pricing rules for finished calls and the CDR contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dialgate.domain.billing import Price, hms, parse_record, price
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


# --- direction: outbound (the default) or inbound ------------------------------------------------


def inbound(seconds: float | None, **kw: Any) -> dict[str, Any]:
    """An inbound record as Kamailio sends it: the DID and the caller, no dialed/rate/route."""
    record = payload(seconds, direction="inbound", did="5145550100", caller_id="4385550123")
    for key in ("dialed", "route", "rate_per_minute", "increment_s", "flat_fee"):
        del record[key]
    record.update(kw)
    return record


@pytest.mark.parametrize("extra", [{}, {"direction": None}, {"direction": "outbound"}])
def test_a_record_without_a_direction_is_an_outbound_call(extra: dict[str, Any]) -> None:
    record = parse_record(payload(61, **extra))
    assert (record.direction, record.dialed, record.caller_id) == ("outbound", "5145550199", None)
    assert price(record).cost == Decimal("0.020000")


def test_an_inbound_record_names_the_did_and_the_caller() -> None:
    record = parse_record(inbound(30))
    assert (record.direction, record.dialed, record.caller_id) == (
        "inbound",
        "5145550100",
        "4385550123",
    )
    assert (record.route, record.rate_per_minute, record.flat_fee) == (None, 0, 0)


def test_an_answered_inbound_call_costs_nothing_and_keeps_its_talk_time() -> None:
    assert price(parse_record(inbound(95))) == Price(95, 0, Decimal(0))
    assert price(parse_record(inbound(None, disposition="busy"))) == Price(0, 0, Decimal(0))


@pytest.mark.parametrize("direction", ["in", "INBOUND", "", 1, True])
def test_direction_must_be_outbound_or_inbound(direction: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(payload(10, direction=direction))
    [error] = exc.value.errors
    assert (error.field, error.code) == ("direction", "invalid_choice")
    assert "outbound, inbound" in error.message


@pytest.mark.parametrize("did", [None, "", "514-555-0100", "+15145550100", "1" * 21, 5145550100])
def test_an_inbound_record_needs_the_dids_digits(did: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(inbound(10, did=did))
    assert [(e.field, e.code) for e in exc.value.errors] == [("did", "invalid_did")]


def test_an_inbound_record_may_repeat_the_did_as_dialed_but_not_another_number() -> None:
    assert parse_record(inbound(10, dialed="5145550100")).dialed == "5145550100"
    with pytest.raises(ValidationFailed) as exc:
        parse_record(inbound(10, dialed="5145550199"))
    assert [(e.field, e.code) for e in exc.value.errors] == [("dialed", "inconsistent_did")]


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_per_minute", "0.01"), ("flat_fee", "0.75"), ("route", "value")],
)
def test_an_inbound_record_with_a_charge_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(inbound(10, **{field: value}))
    [error] = exc.value.errors
    assert (error.field, error.code) == (field, "inbound_not_charged")


def test_zero_charges_on_an_inbound_record_are_accepted() -> None:
    record = parse_record(inbound(10, rate_per_minute="0", flat_fee=0, route=None, increment_s=6))
    assert price(record).cost == Decimal(0)


@pytest.mark.parametrize(("raw", "kept"), [(None, None), ("", None), ("  ", None),
                                           (" anonymous ", "anonymous")])
def test_a_withheld_caller_number_is_recorded_as_none(raw: str | None, kept: str | None) -> None:
    assert parse_record(inbound(10, caller_id=raw)).caller_id == kept


@pytest.mark.parametrize("caller_id", ["1" * 65, 4385550123, ["4385550123"]])
def test_a_bad_caller_number_is_refused(caller_id: object) -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(inbound(10, caller_id=caller_id))
    assert [(e.field, e.code) for e in exc.value.errors] == [("caller_id", "invalid_text")]


def test_outbound_records_ignore_did_and_caller_id() -> None:
    record = parse_record(payload(10, did="not a did", caller_id=["x"]))
    assert (record.direction, record.dialed, record.caller_id) == ("outbound", "5145550199", None)


def test_a_bad_inbound_record_names_every_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        parse_record(inbound(10, did="", flat_fee="1", disposition="maybe", call_id=""))
    assert {e.field for e in exc.value.errors} == {"did", "flat_fee", "disposition", "call_id"}
