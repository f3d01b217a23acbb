"""Pricing finished calls (pure): the call record contract and the billing increment.

A call is billed in whole increments of ``increment_s`` seconds from answer to end (a 61 s call at
increment 60 is billed 120 s), at ``rate_per_minute``, plus ``flat_fee`` (e.g. 411) when it was
answered. Unanswered calls cost nothing. Costs are rounded half up to 6 decimals (the ledger's
precision), once, on the total.

A record is ``outbound`` (an account's device called out; the default, so records written before
directions existed still parse) or ``inbound`` (a carrier called one of the account's DIDs).
Inbound calls are never charged (there are no per-minute DID plans): they carry no rate, no flat
fee and no route, and their price is their talk time at zero cost. An inbound record names the
DID (``did``, stored where outbound records keep ``dialed``) and the caller's number as the
carrier presented it (``caller_id``, possibly absent: withheld numbers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from dialgate.domain import money
from dialgate.domain.errors import FieldError, ValidationFailed

DISPOSITIONS = ("answered", "busy", "noanswer", "failed")
DIRECTIONS = ("outbound", "inbound")
# Why an answered call ended: a party hung up, the dialog reached its maximum duration, or the
# media watcher ended it because no RTP arrived for longer than the account's RTP time-out.
END_REASONS = ("hangup", "max_duration", "rtp_timeout")
LEDGER_PLACES = money.MICRO
SUBJECT = re.compile(r"\d{4,10}(_[A-Za-z0-9]{1,12})?")
DID_NUMBER = re.compile(r"\d{1,20}")


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    account: str  # 100000 or 100000_office
    dialed: str  # inbound: the DID
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: str
    route: str | None
    rate_per_minute: Decimal
    increment_s: int
    flat_fee: Decimal
    direction: str = "outbound"
    caller_id: str | None = None  # inbound: the caller's number as the carrier presented it
    end_reason: str | None = None  # one of END_REASONS; None when the switch did not say


@dataclass(frozen=True, slots=True)
class Price:
    duration_s: int
    billed_s: int
    cost: Decimal


def billed_seconds(duration_s: int, increment_s: int) -> int:
    return math.ceil(duration_s / increment_s) * increment_s if duration_s > 0 else 0


def price(record: CallRecord) -> Price:
    if record.disposition != "answered" or record.answered_at is None:
        return Price(0, 0, Decimal(0))
    duration = math.ceil((record.ended_at - record.answered_at).total_seconds())
    if record.direction == "inbound":
        return Price(duration, 0, Decimal(0))
    billed = billed_seconds(duration, record.increment_s)
    cost = record.flat_fee + record.rate_per_minute * Decimal(billed) / Decimal(60)
    return Price(duration, billed, cost.quantize(LEDGER_PLACES, rounding=ROUND_HALF_UP))


# --- parsing the JSON contract ------------------------------------------------------------------


def _time(raw: object, field: str, errors: list[FieldError], *, optional: bool = False) -> Any:
    if raw is None and optional:
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(field, "invalid_datetime", "must be an ISO 8601 date-time"))
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors.append(FieldError(field, "invalid_datetime", f"not ISO 8601: {raw!r}"))
        return None
    if value.tzinfo is None:
        errors.append(FieldError(field, "naive_datetime", "must carry a UTC offset (or Z)"))
        return None
    return value


def _decimal(raw: object, field: str, errors: list[FieldError], *, high: Decimal) -> Decimal:
    """A non-negative amount of at most six decimals (the ledger's precision) and at most
    ``high``: an absurd rate from a buggy or hostile switch must not reach a balance."""
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
            raise InvalidOperation
        value = Decimal(str(raw))
        if not value.is_finite() or value < 0:
            raise InvalidOperation
    except InvalidOperation:
        errors.append(FieldError(field, "invalid_decimal", "must be a non-negative number"))
        return Decimal(0)
    if value > high:
        errors.append(
            FieldError(
                field,
                "out_of_range",
                f"must be between 0 and {high}; got {raw}",
                (("low", "0"), ("high", str(high)), ("value", str(raw))),
            )
        )
        return Decimal(0)
    if money.decimals(value) > money.PLACES:
        errors.append(
            FieldError(field, "too_many_decimals", f"must have at most {money.PLACES} decimals")
        )
        return Decimal(0)
    return value


def _text(raw: object, field: str, errors: list[FieldError], *, max_len: int) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > max_len:
        errors.append(FieldError(field, "invalid_text", f"must be 1 to {max_len} characters"))
        return ""
    return raw.strip()


def parse_record(payload: Mapping[str, Any]) -> CallRecord:
    """Validate the switch's JSON; raises ValidationFailed listing every bad field."""
    errors: list[FieldError] = []
    call_id = _text(payload.get("call_id"), "call_id", errors, max_len=128)
    account = _text(payload.get("account"), "account", errors, max_len=32)
    if account and not SUBJECT.fullmatch(account):
        errors.append(FieldError("account", "invalid_account", "must be 100000 or 100000_sub"))
    direction, dialed, caller_id = _direction_fields(payload, errors)
    started = _time(payload.get("started_at"), "started_at", errors)
    answered = _time(payload.get("answered_at"), "answered_at", errors, optional=True)
    ended = _time(payload.get("ended_at"), "ended_at", errors)
    disposition = payload.get("disposition")
    if disposition not in DISPOSITIONS:
        errors.append(
            FieldError("disposition", "invalid_choice", f"must be one of {', '.join(DISPOSITIONS)}")
        )
    elif (disposition == "answered") != (answered is not None) and "answered_at" not in {
        e.field for e in errors
    }:
        errors.append(
            FieldError(
                "answered_at",
                "inconsistent_answer",
                "is required for answered calls and must be null otherwise",
            )
        )
    route = payload.get("route")
    if route is not None and (not isinstance(route, str) or len(route) > 16):
        errors.append(FieldError("route", "invalid_text", "must be at most 16 characters"))
    rate = _decimal(
        payload.get("rate_per_minute", 0), "rate_per_minute", errors,
        high=money.MAX_RATE_PER_MINUTE,
    )
    flat_fee = _decimal(payload.get("flat_fee", 0), "flat_fee", errors, high=money.MAX_FLAT_FEE)
    increment = payload.get("increment_s", 60)
    if isinstance(increment, bool) or not isinstance(increment, int) or not 1 <= increment <= 3600:
        errors.append(FieldError("increment_s", "out_of_range", "must be 1 to 3600 seconds"))
        increment = 60
    if direction == "inbound":
        _not_charged(rate=rate, flat_fee=flat_fee, route=route, errors=errors)
    end_reason = payload.get("end_reason")
    if end_reason is not None and end_reason not in END_REASONS:
        errors.append(
            FieldError("end_reason", "invalid_choice", f"must be one of {', '.join(END_REASONS)}")
        )
        end_reason = None
    if started and ended and ended < started:
        errors.append(FieldError("ended_at", "before_start", "must not be before started_at"))
    elif started and ended and (ended - started).total_seconds() > money.MAX_CALL_S:
        errors.append(
            FieldError(
                "ended_at",
                "call_too_long",
                f"must be at most {money.MAX_CALL_S} seconds after started_at",
            )
        )
    if answered and started and ended and not started <= answered <= ended:
        errors.append(
            FieldError("answered_at", "out_of_call", "must be between started_at and ended_at")
        )
    if errors:
        raise ValidationFailed(errors)
    assert started is not None and ended is not None and isinstance(disposition, str)
    return CallRecord(
        call_id=call_id,
        account=account,
        dialed=dialed,
        started_at=started,
        answered_at=answered,
        ended_at=ended,
        disposition=disposition,
        route=route,
        rate_per_minute=rate,
        increment_s=increment,
        flat_fee=flat_fee,
        direction=direction,
        caller_id=caller_id,
        end_reason=end_reason,
    )


def _direction_fields(
    payload: Mapping[str, Any], errors: list[FieldError]
) -> tuple[str, str, str | None]:
    """``direction`` (missing or null: outbound), the number the record is about (outbound:
    ``dialed``; inbound: ``did``) and, inbound only, the caller's number."""
    direction = payload.get("direction")
    if direction is None:
        direction = "outbound"
    if direction not in DIRECTIONS:
        errors.append(
            FieldError(
                "direction",
                "invalid_choice",
                f"must be one of {', '.join(DIRECTIONS)} (left out: outbound)",
            )
        )
        return "outbound", "", None
    if direction == "outbound":
        return direction, _text(payload.get("dialed"), "dialed", errors, max_len=64), None
    return (direction, *_inbound_fields(payload, errors))


def _inbound_fields(
    payload: Mapping[str, Any], errors: list[FieldError]
) -> tuple[str, str | None]:
    did = payload.get("did")
    if not isinstance(did, str) or not DID_NUMBER.fullmatch(did.strip()):
        errors.append(
            FieldError("did", "invalid_did", "is required for inbound calls: the DID's digits")
        )
        did = ""
    did = did.strip()
    dialed = payload.get("dialed")
    if dialed is not None and did and (not isinstance(dialed, str) or dialed.strip() != did):
        errors.append(
            FieldError("dialed", "inconsistent_did", "must be the DID, or left out, when inbound")
        )
    caller_id = payload.get("caller_id")
    if caller_id is None:
        return did, None
    if not isinstance(caller_id, str) or len(caller_id) > 64:
        errors.append(FieldError("caller_id", "invalid_text", "must be at most 64 characters"))
        return did, None
    # An empty caller ID is a withheld one: nothing to show.
    return did, caller_id.strip() or None


def _not_charged(
    *, rate: Decimal, flat_fee: Decimal, route: object, errors: list[FieldError]
) -> None:
    """Inbound calls are free: a rate, a flat fee or a route on one is a switch bug, refused
    rather than silently dropped."""
    for field, value in (("rate_per_minute", rate), ("flat_fee", flat_fee)):
        if value != 0:
            errors.append(FieldError(field, "inbound_not_charged", "must be 0 for inbound calls"))
    if route is not None and "route" not in {e.field for e in errors}:
        errors.append(FieldError("route", "inbound_not_charged", "must be null for inbound calls"))


def hms(seconds: int) -> str:
    """VoIP.ms's durations: ``10:17:48``; under an hour ``10:50``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
