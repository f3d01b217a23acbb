"""The mapping table between VoIP.ms sub-account fields and Dialgate settings keys.

Each ``SubField`` says which wire parameter feeds which settings key, how a wire value becomes a
settings value (``decode``), how a settings value is shown on the wire (``encode``), and which
status code the API answers when the value is invalid or a required one is missing.

VoIP.ms has no notion of inheriting from the main account; Dialgate sub accounts do. Three wire
values mean "use the main account's setting" and map to an empty override: ``dialing_mode=0``,
``tfcarrier=-1`` and ``music_on_hold=default``. For every other field a value equal to what the
sub account already has (its effective value) changes nothing, so a client that reads a sub
account and writes every field back (voipms-api's ``update_subaccount``) changes only what it
meant to change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dialgate.domain import catalogs
from dialgate.domain import settings as registry
from dialgate.domain import values as v
from dialgate.entrypoints.voipms.wire import VoipmsError, flag, one_zero

INHERIT = ""  # the settings value of an override key that inherits from the main account

ROUTES = {"1": "value", "2": "premium"}
ROUTE_LABELS = {"1": "Value", "2": "Premium"}
PROTOCOLS = {"1": "sip", "3": "iax2"}
PROTOCOL_LABELS = {"1": "SIP", "3": "IAX2"}
# Dialgate authenticates devices by user name and SIP password only.
AUTH_TYPES = {"1": "User/Password Authentication"}
DEVICE_TYPES = {"1": "pbx", "2": "ata"}
LOCK_INTERNATIONAL = {"0": "International Calls Enabled", "1": "International Calls Disabled"}
TOLLFREE_CARRIERS = {"-1": INHERIT, "0": "server_default", "1": "american", "2": "canadian"}
DIALING_MODES = {"0": INHERIT, "1": "e164", "2": "nanp"}
MOH_DEFAULT = "default"
MOH_DEFAULT_LABEL = "Default (the main account's music on hold)"
CODEC_LABELS = {
    "ulaw": "G.711U",
    "alaw": "G.711A",
    "g729": "G.729A",
    "g722": "G.722 (HD)",
    "gsm": "GSM",
    "all": "All codecs",
}
DTMF_LABELS = {"auto": "AUTO", "rfc2833": "RFC2833", "inband": "INBAND", "info": "INFO"}
# The characters VoIP.ms allows in sub-account passwords.
PASSWORD_CHARS = re.compile(r"[A-Za-z0-9!#$%&/()=?*\[\]_:.,{}+\-]+")


def _reverse(table: Mapping[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


@dataclass(frozen=True, slots=True)
class Context:
    """What encoding and decoding need to know: the POP catalog."""

    pop_ids: Mapping[str, int]  # name -> id

    @property
    def pop_names(self) -> dict[str, str]:
        return {str(i): n for n, i in self.pop_ids.items()}


Decoder = Callable[[str, Context], Any]
Encoder = Callable[[Any, str, Context], str]  # (effective value, its source, ctx)


@dataclass(frozen=True, slots=True)
class SubField:
    param: str  # wire name
    key: str  # settings key
    decode: Decoder
    encode: Encoder
    invalid: str  # status for a bad value
    missing: str | None = None  # status when required and absent (setSubAccount)


def _code(table: Mapping[str, str], invalid: str) -> Decoder:
    def decode(raw: str, ctx: Context) -> str:
        value = table.get(raw.strip())
        if value is None:
            raise VoipmsError(invalid)
        return value

    return decode


def _code_out(table: Mapping[str, str], *, inherit: str | None = None) -> Encoder:
    reverse = _reverse(table)

    def encode(value: Any, source: str, ctx: Context) -> str:
        if inherit is not None and source == "main":
            return inherit
        return reverse.get(str(value), "")

    return encode


def _text(raw: str, ctx: Context) -> str:
    return raw.strip()


def _text_out(value: Any, source: str, ctx: Context) -> str:
    return "" if value is None else str(value)


def _choice(options: Mapping[str, str], invalid: str) -> Decoder:
    def decode(raw: str, ctx: Context) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise VoipmsError(invalid)
        return value

    return decode


def _flag(invalid: str) -> Decoder:
    def decode(raw: str, ctx: Context) -> bool:
        return flag(raw, invalid=invalid)

    return decode


def _flag_out(value: Any, source: str, ctx: Context) -> str:
    return one_zero(bool(value))


def _lock_in(raw: str, ctx: Context) -> bool:
    if raw.strip() not in LOCK_INTERNATIONAL:
        raise VoipmsError("invalid_lockinternational")
    return raw.strip() == "0"  # allow_international


def _lock_out(value: Any, source: str, ctx: Context) -> str:
    return "0" if value else "1"


def _moh_in(raw: str, ctx: Context) -> str:
    value = raw.strip().lower()
    if value == MOH_DEFAULT:
        return INHERIT
    if value not in catalogs.MOH_BY_KEY:
        raise VoipmsError("invalid_musiconhold")
    return value


def _moh_out(value: Any, source: str, ctx: Context) -> str:
    return MOH_DEFAULT if source == "main" else str(value)


def _codecs_in(raw: str, ctx: Context) -> list[str]:
    items = [c.strip().lower() for c in re.split(r"[;,]", raw) if c.strip()]
    if not items or any(c not in CODEC_LABELS for c in items):  # the wire's "all" is a label
        raise VoipmsError("invalid_allowedcodecs")
    return items


def _codecs_out(value: Any, source: str, ctx: Context) -> str:
    return ";".join(value or ())


def _list_out(value: Any, source: str, ctx: Context) -> str:
    return ",".join(value or ())


def _pops_in(raw: str, ctx: Context) -> list[str]:
    names = ctx.pop_names
    out = []
    for item in (p.strip().lower() for p in raw.split(",") if p.strip()):
        if item in names:
            out.append(names[item])
        elif item in ctx.pop_ids:
            out.append(item)
        else:
            raise VoipmsError("invalid_pop_restriction")
    return out


def _pops_out(value: Any, source: str, ctx: Context) -> str:
    return ",".join(str(ctx.pop_ids[n]) for n in (value or ()) if n in ctx.pop_ids)


def _int_text(invalid: str) -> Decoder:
    def decode(raw: str, ctx: Context) -> str:
        if not re.fullmatch(r"\s*\d{1,9}\s*", raw):
            raise VoipmsError(invalid)
        return raw.strip()

    return decode


def _by_kind(param: str, key: str, invalid: str, missing: str | None = None) -> SubField:
    """A wire field whose coding follows from the setting's value kind: flags as 1/0, choices as
    their codes, integers as digits, lists comma-separated, text as is. Fields with wire codes of
    their own (routes, protocols, carriers...) are written out below instead."""
    kind = registry.spec_for(key).kind
    decode: Decoder
    encode: Encoder = _text_out
    if isinstance(kind, v.Boolean):
        decode, encode = _flag(invalid), _flag_out
    elif isinstance(kind, v.Choice):
        decode = _choice(kind.options, invalid)
    elif isinstance(kind, v.IntRange):
        decode = _int_text(invalid)
    elif isinstance(kind, v.ChoiceList):
        decode, encode = _text, _list_out
    else:
        decode = _text
    return SubField(param, key, decode, encode, invalid, missing)


SUB_FIELDS: tuple[SubField, ...] = (
    _by_kind("description", "description", "invalid_description"),
    SubField(
        "protocol",
        "inbound_protocol",
        _code(PROTOCOLS, "invalid_protocol"),
        _code_out(PROTOCOLS),
        "invalid_protocol",
    ),
    SubField(
        "device_type",
        "device_type",
        _code(DEVICE_TYPES, "invalid_devicetype"),
        _code_out(DEVICE_TYPES),
        "invalid_devicetype",
        "missing_devicetype",
    ),
    _by_kind("callerid_number", "callerid_number", "invalid_callerid_override"),
    SubField(
        "canada_routing",
        "canada_route",
        _code(ROUTES, "invalid_canada_routing"),
        _code_out(ROUTES),
        "invalid_canada_routing",
    ),
    SubField(
        "lock_international",
        "allow_international",
        _lock_in,
        _lock_out,
        "invalid_lockinternational",
        "missing_lockinternational",
    ),
    SubField(
        "international_route",
        "international_route",
        _code(ROUTES, "invalid_internationalroute"),
        _code_out(ROUTES),
        "invalid_internationalroute",
        "missing_internationalroute",
    ),
    SubField(
        "music_on_hold",
        "music_on_hold",
        _moh_in,
        _moh_out,
        "invalid_musiconhold",
        "missing_musiconhold",
    ),
    SubField(
        "allowed_codecs",
        "allowed_codecs",
        _codecs_in,
        _codecs_out,
        "invalid_allowedcodecs",
        "missing_allowedcodecs",
    ),
    _by_kind("dtmf_mode", "dtmf_mode", "invalid_dtmfmode", "missing_dtmfmode"),
    _by_kind("nat", "nat", "invalid_nat", "missing_nat"),
    _by_kind("sip_traffic", "encrypted_sip", "invalid_sip_traffic"),
    _by_kind("max_expiry", "max_expiry", "invalid_max_expiry"),
    _by_kind("rtp_timeout", "rtp_timeout", "invalid_rtp_timeout"),
    _by_kind("rtp_hold_timeout", "rtp_hold_timeout", "invalid_rtp_hold_timeout"),
    _by_kind("ip_restriction", "ip_restriction", "invalid_ip"),
    _by_kind("enable_ip_restriction", "ip_restriction_enabled", "invalid_enable_ip_restriction"),
    SubField("pop_restriction", "pop_restriction", _pops_in, _pops_out, "invalid_pop_restriction"),
    _by_kind(
        "enable_pop_restriction", "pop_restriction_enabled", "invalid_enable_pop_restriction"
    ),
    SubField(
        "tfcarrier",
        "tollfree_carrier",
        _code(TOLLFREE_CARRIERS, "invalid_carrier"),
        _code_out(TOLLFREE_CARRIERS, inherit="-1"),
        "invalid_carrier",
    ),
    _by_kind("default_e911", "e911_callerid", "invalid_callerid"),
    SubField(
        "dialing_mode",
        "dialing_mode",
        _code(DIALING_MODES, "invalid_dialing_mode"),
        _code_out(DIALING_MODES, inherit="0"),
        "invalid_dialing_mode",
    ),
)
FIELD_BY_KEY = {f.key: f for f in SUB_FIELDS}
# setSubAccount's (and createSubAccount's) required fields, in the documented order.
REQUIRED: tuple[tuple[str, str], ...] = tuple(
    (f.param, f.missing) for f in SUB_FIELDS if f.missing is not None
)

# Our validation codes that are already VoIP.ms statuses (cross-field rules, conflicts).
PASSTHROUGH_CODES = frozenset(
    {
        "rtp_timeout_greater_than_rtp_hold_timeout",
        "missing_ip_restriction",
        "missing_pop_restriction",
        "used_username",
        "account_with_dids",
    }
)
OTHER_FIELD_CODES = {"username": "invalid_username", "sip_password": "invalid_password"}


def status_for_field_error(field: str, code: str) -> str:
    """The VoIP.ms status for one of our FieldErrors."""
    if code in PASSTHROUGH_CODES:
        return code
    if field in FIELD_BY_KEY:
        return FIELD_BY_KEY[field].invalid
    return OTHER_FIELD_CODES.get(field, "invalid_" + field.replace("_", ""))


def password_status(password: str) -> str | None:
    """The API's specific status for a sub-account password it refuses, or None if fine."""
    if not PASSWORD_CHARS.fullmatch(password):
        return "invalid_password_ilegal_characters"
    if len(password) < 8:
        return "invalid_password_lessthan_8characters_long"
    if not re.search(r"[a-z]", password):
        return "invalid_password_missing_lowercase"
    if not re.search(r"[A-Z]", password):
        return "invalid_password_missing_uppercase"
    if not re.search(r"\d", password):
        return "invalid_password_missing_number"
    return None


def encode_subaccount(
    values: Mapping[str, Any], sources: Mapping[str, str], ctx: Context
) -> dict[str, str]:
    """The wire fields of a sub account from its effective settings and their sources."""
    return {
        f.param: f.encode(values.get(f.key), sources.get(f.key, "sub"), ctx) for f in SUB_FIELDS
    }
