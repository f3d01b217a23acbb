"""Request and response bodies of the native REST API (``XCreate / XUpdate / XPublic``).

The settings models are built from the settings registry, so their field names are exactly the
public settings keys and a new key appears here (and in /openapi.json) without code changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from dialgate.domain import settings as s

# What a client may send for any setting; the registry's parsers do the real validation.
SettingInput = str | int | float | bool | list[str] | None


def _field(key: str, *, required: bool) -> tuple[Any, Any]:
    spec = s.spec_for(key)
    description = f"{spec.label}: {spec.help}"
    if spec.choices:
        description += f" One of: {', '.join(spec.choices)}."
    if required:
        return spec.kind.json_type, Field(description=description)
    return SettingInput, Field(default=None, description=description)


_STRICT = ConfigDict(extra="forbid")
SUB_PUBLIC_KEYS = tuple(k for k in s.SUB_KEYS if k not in s.SECRET_KEYS)

MainSettingsPublic: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "MainSettingsPublic",
    __config__=_STRICT,
    **{k: _field(k, required=True) for k in s.STORED_MAIN_KEYS},
)
MainSettingsUpdate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "MainSettingsUpdate",
    __config__=_STRICT,
    **{k: _field(k, required=False) for k in s.MAIN_KEYS},
    current_portal_password=(
        str | None,
        Field(
            default=None,
            max_length=1024,
            description="Required with portal_password: the portal password in use now. "
            "A change ends every portal session.",
        ),
    ),
)
SubSettingsPublic: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubSettingsPublic",
    __config__=_STRICT,
    **{k: _field(k, required=True) for k in SUB_PUBLIC_KEYS},
)
SubSettingsUpdate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubSettingsUpdate",
    __config__=_STRICT,
    **{k: _field(k, required=False) for k in s.SUB_KEYS},
)
SubAccountCreate: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "SubAccountCreate",
    __config__=_STRICT,
    username=(
        str,
        Field(
            description="1 to 12 letters or digits; the sub account is <main>_<username>.",
            examples=["office"],
        ),
    ),
    **{
        k: (
            _field(k, required=False)
            if k != "sip_password"
            else (str, Field(description="SIP password (write-only)."))
        )
        for k in s.SUB_KEYS
    },
)

Source = Literal["main", "sub", "override"]


class AccountPublic(BaseModel):
    account: str
    email: str
    language: str
    enabled: bool
    balance: str = Field(description="USD, decimal string")
    created_at: datetime
    subaccounts: list[str]


class SettingsPublic(BaseModel):
    account: str
    settings: MainSettingsPublic


class SubAccountPublic(BaseModel):
    id: int
    account: str = Field(description="<main>_<username>")
    username: str
    settings: SubSettingsPublic
    sources: dict[str, Source] = Field(
        description="Where each effective value comes from: sub (its own), override (it "
        "overrides the main account) or main (inherited; set the key to null or '' to inherit)."
    )


class HistoryEntryPublic(BaseModel):
    at: datetime
    account: str
    actor: str
    key: str
    old: str
    new: str
    tab: str


class PopPublic(BaseModel):
    name: str
    id: int
    city: str
    hostname: str
    country: str


class CountryPublic(BaseModel):
    code: str
    name: str
    region: str
    region_name: str
    calling_code: int


class MusicOnHoldPublic(BaseModel):
    key: str
    label: str
    test_code: str
    description: str


class ChoicePublic(BaseModel):
    value: str
    label: str


class ProblemFieldError(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with one entry per offending field."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[ProblemFieldError] = Field(default_factory=list)


# --- calls, DIDs, balance -----------------------------------------------------------------------

Transport = Literal["udp", "tcp", "tls"]


class CallSimulate(BaseModel):
    """A call the account (or one of its sub accounts) might place, as the switch would see it."""

    model_config = _STRICT

    dialed: str = Field(
        description="What was dialed, as a phone would send it.", examples=["011442079460000"]
    )
    subaccount: str | None = Field(
        default=None, description="Dial as this sub account (office or 100000_office)."
    )
    source_ip: str | None = Field(default=None, description="The device's public IP address.")
    pop: str | None = Field(default=None, description="The POP the call arrives at (houston1).")
    caller_id: str | None = Field(default=None, description="The caller ID the device sent.")
    transport: Transport = "udp"
    srtp: bool = False


class DestinationPublic(BaseModel):
    e164: str | None
    class_: str = Field(alias="class")
    country: str | None
    region: str | None
    name: str


class TraceEntryPublic(BaseModel):
    step: str
    outcome: Literal["pass", "deny", "skip"]
    detail: str


class DecisionPublic(BaseModel):
    """The authorize response of the call-policy contract, with the trace of every rule."""

    allow: bool
    action: str
    sip_code: int
    reason: str
    message: str
    destination: DestinationPublic | None
    route: str | None
    carrier: str | None
    rate_per_minute: str | None = Field(description="USD per minute, decimal string")
    increment_s: int | None
    flat_fee: str | None
    max_duration_s: int | None
    caller_id: str | None
    caller_id_guaranteed: bool
    mailbox: str | None
    moh_class: str | None
    trace: list[TraceEntryPublic]


_TARGET = (
    "header:value, e.g. account:100000, account:100000_office, vm:1001, fwd:<id>, sys:hangup, "
    "none:"
)


class DidPublic(BaseModel):
    account: str
    number: str = Field(description="10 digits (NANP)")
    description: str
    routing: str = Field(description=_TARGET)
    failover_busy: str
    failover_unreachable: str
    failover_noanswer: str
    pop: str = Field(description="POP name (see /v1/catalogs/pops)")
    plan: str = Field(description="per_minute or flat")
    cnam_lookup: bool
    e911_enabled: bool
    dial_time: int = Field(description="Seconds before no answer")


# Absent keys stay as they are; null is not a value of any DID key (so it is not in the schema).
DidPlan = Literal["per_minute", "flat"]
DidUpdate: type[BaseModel] = create_model(
    "DidUpdate",
    __config__=_STRICT,
    __doc__="Any subset of a DID's settings; all or nothing.",
    description=(str, Field(default=None, description="At most 100 characters.")),
    routing=(str, Field(default=None, description=_TARGET)),
    failover_busy=(str, Field(default=None, description=_TARGET)),
    failover_unreachable=(str, Field(default=None, description=_TARGET)),
    failover_noanswer=(str, Field(default=None, description=_TARGET)),
    pop=(str, Field(default=None, description="POP name (see /v1/catalogs/pops)")),
    plan=(DidPlan, Field(default=None)),
    cnam_lookup=(bool, Field(default=None)),
    e911_enabled=(bool, Field(default=None)),
    dial_time=(int, Field(default=None, description="5 to 120 seconds")),
)


class ForwardingPublic(BaseModel):
    id: int = Field(description="DIDs route or fail over to it as fwd:<id>")
    phone_number: str = Field(description="E.164, e.g. +15145550199")
    description: str
    callerid_override: str = Field(description='Caller ID the forwarded call shows; "" keeps '
                                   "the original caller's")
    dtmf_digits: str = Field(description="Sent when the call is answered")
    pause: str = Field(description="Seconds before the DTMF digits, decimal string")
    diversion_header: bool


_FORWARDING_FIELDS: dict[str, Any] = {
    "description": (str, Field(default=None, description="At most 64 characters.")),
    "callerid_override": (str, Field(default=None, description='10-digit NANP or E.164 '
                                     'digits; "" for none.')),
    "dtmf_digits": (str, Field(default=None, description="Up to 32 of 0-9, *, #, A-D.")),
    "pause": (str | float, Field(default=None, description="0 to 10 seconds in steps of 0.5.")),
    "diversion_header": (bool, Field(default=None)),
}
_PHONE = "Read with the account's dialing mode; a number the account could dial."
ForwardingCreate: type[BaseModel] = create_model(
    "ForwardingCreate",
    __config__=_STRICT,
    __doc__="A new call forwarding entry.",
    phone_number=(str, Field(description=_PHONE)),
    **_FORWARDING_FIELDS,
)
ForwardingUpdate: type[BaseModel] = create_model(
    "ForwardingUpdate",
    __config__=_STRICT,
    __doc__="Any subset of a forwarding's fields; all or nothing.",
    phone_number=(str, Field(default=None, description=_PHONE)),
    **_FORWARDING_FIELDS,
)


class BalancePublic(BaseModel):
    account: str
    current_balance: str = Field(description="USD, decimal string")
    spent_total: str
    calls_total: int
    time_total_s: int
    spent_today: str = Field(description="Since 00:00 UTC")
    calls_today: int
    time_today_s: int


class TransactionPublic(BaseModel):
    at: datetime
    uniqueid: str
    kind: str = Field(description="deposit, call, did_fee or adjustment")
    description: str
    amount: str = Field(description="USD, decimal string; negative for charges")


class CdrPublic(BaseModel):
    call_id: str
    account: str = Field(description="The line that made or took the call: 100000 or 100000_office")
    direction: str = Field(description="outbound or inbound")
    dialed: str = Field(description="The number dialed; inbound: the DID called")
    caller_number: str | None = Field(description="Inbound: the caller's number, null if withheld")
    started_at: datetime
    answered_at: datetime | None
    disposition: str = Field(description="answered, busy, noanswer or failed")
    duration_s: int
    billed_s: int
    rate_per_minute: str = Field(description="USD per minute, decimal string")
    cost: str = Field(description="USD, decimal string")
    route: str | None
