"""Call forwarding entries (VoIP.ms "forwardings"): their fields and rules, as pure data.

A forwarding is a phone number a DID can route or fail over to (``fwd:<id>``), with an optional
caller ID override, DTMF digits sent when the call is answered and a pause before them. A call
forwarded there leaves toward a carrier, so it is an outbound call of the DID's account: the
number must be one the account could dial. It is read with the account's dialing mode (``nanp``:
``5145550199``, ``011...``; ``e164``: country code first) and kept in E.164 (``+15145550199``),
which every dialing mode accepts, so a later change of mode cannot break it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from dialgate.domain import values as v
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.domain.numbering import DialedKind, NumberClass, NumberingPlan, classify, normalize

FIELDS = (
    "phone_number", "description", "callerid_override", "dtmf_digits", "pause",
    "diversion_header",
)
DESCRIPTION_MAX = 64
DTMF_MAX = 32
# VoIP.ms: "Values: 0 to 10 in increments of 0.5" seconds.
PAUSE_MAX, PAUSE_STEP = Decimal(10), Decimal("0.5")
_DTMF = re.compile(r"[0-9*#A-Da-d]*")
# Classes a call can be forwarded to: real phone numbers, not service codes.
_FORWARDABLE = frozenset({
    NumberClass.US48, NumberClass.US_OTHER, NumberClass.CANADA, NumberClass.TOLLFREE,
    NumberClass.INTERNATIONAL,
})


@dataclass(frozen=True, slots=True)
class Forwarding:
    id: int
    phone_number: str  # E.164 with "+"
    description: str = ""
    callerid_override: str = ""
    dtmf_digits: str = ""
    pause: Decimal = Decimal(0)
    diversion_header: bool = False

    @property
    def ref(self) -> str:
        """The routing target that points here."""
        return f"fwd:{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phone_number": self.phone_number,
            "description": self.description,
            "callerid_override": self.callerid_override,
            "dtmf_digits": self.dtmf_digits,
            "pause": str(self.pause),
            "diversion_header": self.diversion_header,
        }


def phone_number(raw: object, mode: str, plan: NumberingPlan) -> str:
    """The number as E.164 (``+...``) if the account could dial it in ``mode``."""
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
        raise v.InvalidValue("missing_phonenumber", "is required: the number to forward to")
    text = str(raw).strip()
    number = normalize(text, mode)
    if number.kind is DialedKind.SERVICE:
        raise v.InvalidValue(
            "invalid_phonenumber", f"{text!r} is a service code, not a phone number", value=text
        )
    if number.kind is DialedKind.INVALID:
        raise v.InvalidValue(
            "invalid_phonenumber",
            f"{number.detail} (dialing mode {mode})", value=text, mode=mode,
        )
    destination = classify(number, plan)
    if destination.klass not in _FORWARDABLE or destination.blocked:
        raise v.InvalidValue(
            "invalid_phonenumber",
            f"{text!r} cannot be forwarded to: {destination.detail} (dialing mode {mode})",
            value=text, mode=mode,
        )
    return "+" + number.digits


def _text(raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal | float):
        raise v.InvalidValue("invalid_type", f"expected text, got {type(raw).__name__}")
    return str(raw).strip()


def _callerid(raw: object, ctx: v.ValidationContext) -> str:
    value = _text(raw)
    return v.CallerId().parse(value, ctx) if value else ""


def _dtmf(raw: object) -> str:
    value = _text(raw)
    if len(value) > DTMF_MAX or not _DTMF.fullmatch(value):
        raise v.InvalidValue(
            "invalid_dtmf_digits",
            f"must be at most {DTMF_MAX} of 0-9, *, #, A-D; got {raw!r}", value=raw,
        )
    return value.upper()


def _pause(raw: object) -> Decimal:
    text = _text(raw) or "0"
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 <= value <= PAUSE_MAX or value % PAUSE_STEP != 0:
        raise v.InvalidValue(
            "invalid_pause", f"must be 0 to 10 seconds in steps of 0.5; got {raw!r}", value=raw
        )
    return value.quantize(Decimal("0.1"))


def parse(
    changes: Mapping[str, object],
    *,
    mode: str,
    plan: NumberingPlan,
    ctx: v.ValidationContext,
) -> dict[str, Any]:
    """Validate the given fields; every bad one is reported at once (``ValidationFailed``)."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for key, raw in changes.items():
        try:
            if key == "phone_number":
                out[key] = phone_number(raw, mode, plan)
            elif key == "description":
                out[key] = v.Text(DESCRIPTION_MAX).parse(_text(raw), ctx)
            elif key == "callerid_override":
                out[key] = _callerid(raw, ctx)
            elif key == "dtmf_digits":
                out[key] = _dtmf(raw)
            elif key == "pause":
                out[key] = _pause(raw)
            elif key == "diversion_header":
                out[key] = v.Boolean().parse(raw, ctx)
            else:
                errors.append(
                    FieldError(key, "unknown_key", f"{key!r} is not a forwarding field")
                )
        except v.InvalidValue as exc:
            errors.append(exc.field_error(key))
    if errors:
        raise ValidationFailed(errors)
    return out
