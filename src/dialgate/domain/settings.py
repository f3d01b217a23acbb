"""The Account Settings page as data: every key, its tab, type, default and rules.

The keys are a public contract: the CLI, the REST API, the portal form fields and the audit log
all use exactly these names. Each key is a ``SettingSpec``; a small generic algorithm
(``apply_changes``) parses, validates and applies a set of changes all-or-nothing.

Values have one canonical Python form each: ``str`` for choices and text, ``bool``, ``int``,
``Decimal | None`` for money, and sorted ``tuple[str, ...]`` for lists. ``to_json``/``from_json``
convert to what the database stores, ``display`` to what people read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from email_validator import EmailNotValidError, validate_email

from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, ValidationFailed


class Tab(StrEnum):
    """The seed's tabs, in the seed's order."""

    ROUTING = "routing"
    RESTRICTIONS = "restrictions"
    GENERAL = "general"
    SECURITY = "security"
    INBOUND = "inbound"
    NOTIFICATIONS = "notifications"
    DID_DEFAULTS = "did_defaults"
    NEWSLETTER = "newsletter"
    ADVANCED = "advanced"


TAB_TITLES = {
    Tab.ROUTING: "Account Routing",
    Tab.RESTRICTIONS: "Account Restrictions",
    Tab.GENERAL: "General",
    Tab.SECURITY: "Security",
    Tab.INBOUND: "Inbound Settings",
    Tab.NOTIFICATIONS: "Notifications",
    Tab.DID_DEFAULTS: "Default DID Routing",
    Tab.NEWSLETTER: "Newsletter",
    Tab.ADVANCED: "Advanced",
}


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """What validation needs to know about the world, gathered by the service beforehand."""

    account: str  # main account number
    email: str
    mailboxes: frozenset[str] = frozenset()
    subaccounts: frozenset[str] = frozenset()  # full names, e.g. 100000_office
    # Routing targets the account has defined, per header (fwd, ivr, queue, grp, tc).
    targets: Mapping[str, frozenset[str]] = field(default_factory=dict)
    pops: frozenset[str] = frozenset(p.name for p in catalogs.DEFAULT_POPS)
    countries: frozenset[str] = frozenset()


class InvalidValue(Exception):
    """Raised by a parser; becomes a FieldError naming the key."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # The values quoted in ``message``, for translations (see ``FieldError.params``).
        self.params = tuple((k, str(v)) for k, v in params.items())

    def field_error(self, key: str) -> FieldError:
        return FieldError(key, self.code, self.message, self.params)


Parser = Callable[[object, ValidationContext], Any]


@dataclass(frozen=True, slots=True)
class SettingSpec:
    key: str
    tab: Tab
    label: str
    help: str
    parse: Parser
    default: Any  # a value, or a callable of the context for account-dependent defaults
    secret: bool = False  # write-only: never stored in the settings, shown as ***
    empty_means: str = "default"  # what `key=` does: "default", or "none" (the field's own)
    choices: Mapping[str, str] | None = None

    def default_for(self, ctx: ValidationContext) -> Any:
        return self.default(ctx) if callable(self.default) else self.default


# --- parsers -------------------------------------------------------------------------------

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _text(raw: object) -> str:
    if isinstance(raw, bool | int | Decimal | float):
        return str(raw)
    if not isinstance(raw, str):
        raise InvalidValue("invalid_type", f"expected text, got {type(raw).__name__}")
    return raw.strip()


def _items(raw: object) -> list[str]:
    if isinstance(raw, list | tuple | set | frozenset):
        return [_text(x) for x in raw if _text(x)]
    return [p.strip() for p in re.split(r"[,;]", _text(raw)) if p.strip()]


def choice(options: Mapping[str, str]) -> Parser:
    def parse(raw: object, ctx: ValidationContext) -> str:
        value = _text(raw).lower()
        if value not in options:
            raise InvalidValue(
                "invalid_choice",
                f"must be one of {', '.join(options)}; got {raw!r}",
                choices=", ".join(options),
                value=raw,
            )
        return value

    return parse


def boolean(raw: object, ctx: ValidationContext) -> bool:
    if isinstance(raw, bool):
        return raw
    value = _text(raw).lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidValue(
        "invalid_boolean", f"must be true/false, yes/no or 1/0; got {raw!r}", value=raw
    )


def int_range(low: int, high: int, unit: str = "") -> Parser:
    def parse(raw: object, ctx: ValidationContext) -> int:
        if isinstance(raw, bool):
            raise InvalidValue("invalid_integer", f"must be a whole number; got {raw!r}", value=raw)
        text = _text(raw)
        if not re.fullmatch(r"[+-]?\d+", text):
            raise InvalidValue("invalid_integer", f"must be a whole number; got {raw!r}", value=raw)
        value = int(text)
        if not low <= value <= high:
            raise InvalidValue(
                "out_of_range",
                f"must be between {low} and {high}{unit}; got {value}",
                low=low,
                high=high,
                value=value,
                **({"unit": unit.strip()} if unit else {}),
            )
        return value

    return parse


def money(*, low: Decimal, high: Decimal | None, places: int) -> Parser:
    def parse(raw: object, ctx: ValidationContext) -> Decimal:
        if isinstance(raw, bool):
            raise InvalidValue("invalid_decimal", f"must be a number; got {raw!r}")
        text = _text(raw).lstrip("$")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise InvalidValue("invalid_decimal", f"must be a number; got {raw!r}") from None
        if not value.is_finite():
            raise InvalidValue("invalid_decimal", f"must be a number; got {raw!r}")
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise InvalidValue(
                "too_many_decimals",
                f"must have at most {places} decimals; got {text}",
                places=places,
                value=text,
            )
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            bounds = {"low": low, "high": high} if high is not None else {"low": low}
            raise InvalidValue("out_of_range", f"must be {bound}; got {text}", value=text, **bounds)
        return value

    return parse


def nanp_number(raw: object, ctx: ValidationContext) -> str:
    digits = _text(raw).lstrip("+")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if not re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", digits):
        raise InvalidValue(
            "invalid_nanp_number",
            f"must be a 10-digit North American number (NPA-NXX-XXXX); got {raw!r}",
            value=raw,
        )
    return digits


def callerid(raw: object, ctx: ValidationContext) -> str:
    text = _text(raw)
    digits = text.lstrip("+")
    if re.fullmatch(r"[2-9]\d{2}[2-9]\d{6}", digits):
        return digits
    if re.fullmatch(r"[1-9]\d{7,14}", digits):
        return digits
    raise InvalidValue(
        "invalid_callerid",
        f"must be a 10-digit North American number or E.164 digits (8 to 15); got {raw!r}",
        value=raw,
    )


def mailbox(raw: object, ctx: ValidationContext) -> str:
    value = _text(raw)
    if value not in ctx.mailboxes:
        raise InvalidValue(
            "unknown_mailbox", f"must be a mailbox of account {ctx.account}; got {value!r}"
        )
    return value


def music(raw: object, ctx: ValidationContext) -> str:
    return str(choice({m.key: m.label for m in catalogs.MUSIC_ON_HOLD})(raw, ctx))


def countries(raw: object, ctx: ValidationContext) -> tuple[str, ...]:
    codes = [c.upper() for c in _items(raw)]
    if not codes:
        raise InvalidValue("empty_list", "must list at least one country code, or ALL")
    if "ALL" in codes:
        if len(codes) > 1:
            raise InvalidValue("invalid_country", "ALL cannot be combined with country codes")
        return ("ALL",)
    bad = [c for c in codes if c not in ctx.countries]
    if bad:
        hint = " (the US and Canada are always allowed)" if set(bad) & {"US", "CA"} else ""
        raise InvalidValue(
            "invalid_country",
            f"must be ISO 3166 alpha-2 codes of dialable countries or ALL; "
            f"not valid: {', '.join(bad)}{hint}",
            value=", ".join(bad),
        )
    return tuple(sorted(set(codes)))


_HOSTNAME = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


def ip_entries(raw: object, ctx: ValidationContext) -> tuple[str, ...]:
    out: list[str] = []
    for item in _items(raw):
        try:
            if "/" in item:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            else:
                out.append(str(ipaddress.ip_address(item)))
            continue
        except ValueError:
            pass
        name = item.lower().rstrip(".")
        if re.fullmatch(r"[\d.]+|[\d.]+/\d+", name) or not _HOSTNAME.fullmatch(name):
            raise InvalidValue(
                "invalid_ip",
                f"must be IPv4/IPv6 addresses, CIDR ranges or host names; not valid: {item!r}",
                value=item,
            )
        out.append(name)
    return tuple(dict.fromkeys(out))


def pop_names(raw: object, ctx: ValidationContext) -> tuple[str, ...]:
    names = [n.lower() for n in _items(raw)]
    bad = [n for n in names if n not in ctx.pops]
    if bad:
        raise InvalidValue(
            "invalid_pop",
            f"must be POP names from the catalog; not valid: {', '.join(bad)}",
            value=", ".join(bad),
        )
    return tuple(sorted(set(names)))


def single_pop(raw: object, ctx: ValidationContext) -> str:
    name = _text(raw).lower()
    if name not in ctx.pops:
        raise InvalidValue(
            "invalid_pop", f"must be a POP name from the catalog; got {raw!r}", value=raw
        )
    return name


MAX_NOTIFICATION_EMAILS = 10


def emails(raw: object, ctx: ValidationContext) -> tuple[str, ...]:
    items = _items(raw)
    if not items:
        raise InvalidValue("empty_list", "must list at least one email address")
    if len(items) > MAX_NOTIFICATION_EMAILS:
        # The balance alert goes to every address: a long list would make Dialgate a mailer
        # for whoever holds an API key.
        raise InvalidValue(
            "too_many_emails",
            f"at most {MAX_NOTIFICATION_EMAILS} addresses; got {len(items)}",
        )
    out = []
    for item in items:
        try:
            out.append(validate_email(item, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            raise InvalidValue(
                "invalid_email", f"{item!r} is not a valid email address: {exc}", value=item
            ) from None
    return tuple(dict.fromkeys(out))


def codecs(raw: object, ctx: ValidationContext) -> tuple[str, ...]:
    items = [c.lower() for c in _items(raw)]
    if not items:
        raise InvalidValue("empty_list", "must be all or a list of codecs")
    if "all" in items:
        if len(items) > 1:
            raise InvalidValue("invalid_codec", "all cannot be combined with codec names")
        return ("all",)
    bad = [c for c in items if c not in catalogs.CODECS]
    if bad:
        raise InvalidValue(
            "invalid_codec",
            f"must be all or codecs from {', '.join(catalogs.CODECS)}; not valid: {', '.join(bad)}",
        )
    # Keep the customer's order: it is the order of preference in SDP.
    return tuple(dict.fromkeys(items))


def routing_target(raw: object, ctx: ValidationContext) -> str:
    text = _text(raw)
    header, sep, value = text.partition(":")
    header = header.lower()
    if not sep or header not in catalogs.ROUTING_HEADERS:
        raise InvalidValue(
            "invalid_target",
            f"must be header:value with a header from {', '.join(catalogs.ROUTING_HEADERS)}; "
            f"got {raw!r}",
            value=raw,
        )
    value = value.strip()
    if header == "none":
        if value:
            raise InvalidValue("invalid_target", "none: takes no value")
        return "none:"
    exists: bool
    if header == "account":
        exists = value == ctx.account or value in ctx.subaccounts
    elif header == "vm":
        exists = value in ctx.mailboxes
    elif header == "sys":
        exists = value in catalogs.SYSTEM_ACTIONS
    else:
        exists = value in ctx.targets.get(header, frozenset())
    if not exists:
        raise InvalidValue(
            "unknown_target",
            f"{header}:{value} does not exist on account {ctx.account}",
            target=f"{header}:{value}",
            account=ctx.account,
        )
    return f"{header}:{value}"


def password(raw: object, ctx: ValidationContext) -> str:
    if not isinstance(raw, str):
        raise InvalidValue("invalid_password", "must be text")
    value = raw
    if (
        len(value) < 8
        or not re.search(r"[a-z]", value)
        or not re.search(r"[A-Z]", value)
        or not re.search(r"\d", value)
    ):
        raise InvalidValue(
            "weak_password",
            "must be at least 8 characters with an upper-case letter, "
            "a lower-case letter and a digit",
        )
    if len(value) > 128 or any(ord(ch) < 32 for ch in value):
        raise InvalidValue("invalid_password", "must be at most 128 printable characters")
    return value


def description(raw: object, ctx: ValidationContext) -> str:
    value = _text(raw)
    if len(value) > 100 or any(ord(ch) < 32 for ch in value):
        raise InvalidValue("invalid_description", "must be at most 100 printable characters")
    return value


# --- the registry ----------------------------------------------------------------------------

_TF_NOTE = "Toll-free calls to Canada and the USA."


def _spec(
    key: str, tab: Tab, label: str, help: str, parse: Parser, default: Any, **kw: Any
) -> SettingSpec:
    return SettingSpec(key=key, tab=tab, label=label, help=help, parse=parse, default=default, **kw)


SPECS: tuple[SettingSpec, ...] = (
    _spec(
        "canada_route",
        Tab.ROUTING,
        "Canada Routing",
        "Value: best wholesale price, but the CallerID number is not guaranteed on the Value "
        "route. Premium: better quality at a slightly higher price; the CallerID number is "
        "guaranteed. US calls always use the Premium route at $0.01 per minute.",
        choice(catalogs.ROUTES),
        "value",
        choices=catalogs.ROUTES,
    ),
    _spec(
        "international_route",
        Tab.ROUTING,
        "International Routing",
        "Both routes are reliable; Premium gives better quality. The CallerID number is not "
        "guaranteed for international calls, even on Premium.",
        choice(catalogs.ROUTES),
        "value",
        choices=catalogs.ROUTES,
    ),
    _spec(
        "tollfree_route",
        Tab.ROUTING,
        "Toll Free Routing",
        f"{_TF_NOTE} Value is free to use; Premium costs 1.06 cents per minute, gives better "
        "quality and guarantees the CallerID number.",
        choice(catalogs.ROUTES),
        "value",
        choices=catalogs.ROUTES,
    ),
    _spec(
        "tollfree_carrier",
        Tab.ROUTING,
        "Toll Free Carrier",
        "Server Default: American servers dial through an American carrier, Canadian servers "
        "through a Canadian one. American or Canadian Carrier: always that carrier, whatever "
        "server you use.",
        choice(catalogs.TOLLFREE_CARRIERS),
        "server_default",
        choices=catalogs.TOLLFREE_CARRIERS,
    ),
    _spec(
        "allow_411",
        Tab.RESTRICTIONS,
        "Allow 411 dialing",
        "When enabled, you can call 411 directory assistance at $0.99 per call. NXX-555-1212 is "
        "always blocked: the only way to reach directory assistance is by dialing 411.",
        boolean,
        False,
    ),
    _spec(
        "allow_international",
        Tab.RESTRICTIONS,
        "Allow International Calls",
        "When disabled, calls to destinations outside the USA and Canada are rejected. Off by "
        "default for new accounts. Sub accounts have their own setting.",
        boolean,
        False,
    ),
    _spec(
        "max_call_time_domestic",
        Tab.RESTRICTIONS,
        "Max. Call Time for US48/Canadian Calls",
        "Calls to US or Canadian numbers are hung up after this many seconds (60 to 86400).",
        int_range(60, 86400, " seconds"),
        14400,
    ),
    _spec(
        "max_call_time_international",
        Tab.RESTRICTIONS,
        "Max. Call Time for International Calls",
        "International calls are hung up after this many seconds (60 to 86400).",
        int_range(60, 86400, " seconds"),
        3600,
    ),
    _spec(
        "international_max_rate",
        Tab.RESTRICTIONS,
        "International Amount Restriction",
        "The highest per-minute rate (USD) you accept for international calls; calls to dearer "
        "destinations are not connected. It applies to the rate of the international route you "
        "chose (Value or Premium). Example: with $0.150, a UK mobile (4470) at $0.3048 is "
        "refused. Empty: no limit.",
        money(low=Decimal(0), high=None, places=4),
        None,
        empty_means="none",
    ),
    _spec(
        "allowed_countries",
        Tab.RESTRICTIONS,
        "Allow Calls to Countries",
        "Only calls to these countries are connected (ALL for every country). The US and Canada "
        "are always allowed. This list has no effect until international calls are allowed.",
        countries,
        ("ALL",),
    ),
    _spec(
        "e911_callerid",
        Tab.GENERAL,
        "e911 Default CallerID",
        "Used as the caller ID when you dial 911 and your caller ID is not a 911-enabled DID, "
        "so the call connects instead of giving a busy tone.",
        nanp_number,
        "",
    ),
    _spec(
        "dialing_mode",
        Tab.GENERAL,
        "Dialing Mode",
        "North America: dial 10 or 11 digits for NANP numbers and 011 or 00 for international. "
        "E.164: dial the country code first (00 and 011 still work).",
        choice(catalogs.DIALING_MODES),
        "nanp",
        choices=catalogs.DIALING_MODES,
    ),
    _spec(
        "callerid_number",
        Tab.GENERAL,
        "CallerID Number",
        "The number shown to the people you call. Leave empty if your PBX or soft switch "
        "passes its own caller ID. The CallerID number is not guaranteed on the Value route.",
        callerid,
        "",
    ),
    _spec(
        "voicemail",
        Tab.GENERAL,
        "Voicemail Associated to the Main Account",
        "Dial *97 from the main account to reach this mailbox without entering its number. "
        "Only affects the device registered with the main account.",
        mailbox,
        "",
    ),
    _spec(
        "music_on_hold",
        Tab.GENERAL,
        "Music On Hold",
        "What callers hear while on hold. Test a class by dialing ***89 to ***100.",
        music,
        "bleep",
        choices={m.key: m.label for m in catalogs.MUSIC_ON_HOLD},
    ),
    _spec(
        "portal_password",
        Tab.SECURITY,
        "Customer Portal Password",
        "At least 8 characters with upper case, lower case and a digit.",
        password,
        None,
        secret=True,
    ),
    _spec(
        "sip_password",
        Tab.SECURITY,
        "Main SIP/IAX Password",
        "The password your device registers with. It starts equal to the portal password. "
        "At least 8 characters with upper case, lower case and a digit.",
        password,
        None,
        secret=True,
    ),
    _spec(
        "ip_restriction_enabled",
        Tab.SECURITY,
        "IP Restriction",
        "Outgoing calls are authorized only from the addresses or ranges listed.",
        boolean,
        False,
    ),
    _spec(
        "ip_restriction",
        Tab.SECURITY,
        "Allowed IP addresses",
        "IPv4/IPv6 addresses, CIDR ranges (10.0.0.0/24) or host names, separated by commas.",
        ip_entries,
        (),
    ),
    _spec(
        "pop_restriction_enabled",
        Tab.SECURITY,
        "POP Restriction",
        "Outgoing calls are authorized only through the POPs selected.",
        boolean,
        False,
    ),
    _spec(
        "pop_restriction",
        Tab.SECURITY,
        "Allowed POPs",
        "The POPs calls may come through.",
        pop_names,
        (),
    ),
    _spec(
        "inbound_protocol",
        Tab.INBOUND,
        "Protocol for inbound DIDs",
        "SIP is recommended.",
        choice(catalogs.PROTOCOLS),
        "sip",
        choices=catalogs.PROTOCOLS,
    ),
    _spec(
        "device_type",
        Tab.INBOUND,
        "Device type",
        "The kind of device that receives the main account's calls.",
        choice(catalogs.DEVICE_TYPES),
        "ata",
        choices=catalogs.DEVICE_TYPES,
    ),
    _spec(
        "notify_config_changes",
        Tab.NOTIFICATIONS,
        "Configuration changes",
        "Email when the account's configuration changes.",
        boolean,
        True,
    ),
    _spec(
        "notify_e911_changes",
        Tab.NOTIFICATIONS,
        "e911 changes",
        "Email when e911 settings change.",
        boolean,
        True,
    ),
    _spec(
        "notify_api_changes",
        Tab.NOTIFICATIONS,
        "API configuration changes",
        "Email when the API configuration changes.",
        boolean,
        True,
    ),
    _spec(
        "balance_threshold",
        Tab.NOTIFICATIONS,
        "Balance Threshold",
        "When your balance goes below this amount ($1 to $200) you receive an email, and again "
        "every day until you add funds or change the threshold. Empty disables it (not "
        "recommended).",
        money(low=Decimal(1), high=Decimal(200), places=2),
        Decimal(5),
        empty_means="none",
    ),
    _spec(
        "notification_emails",
        Tab.NOTIFICATIONS,
        "Email",
        "Where notifications go. Several addresses, separated by commas, receive the balance "
        "threshold email; the other notifications go to the first.",
        emails,
        lambda ctx: (ctx.email,),
    ),
    _spec(
        "did_plan",
        Tab.DID_DEFAULTS,
        "Select Plan",
        "How new DIDs are charged: per minute or flat rate.",
        choice(catalogs.DID_PLANS),
        "per_minute",
        choices=catalogs.DID_PLANS,
    ),
    _spec(
        "did_cnam_lookup",
        Tab.DID_DEFAULTS,
        "CallerID Name Lookup",
        "Look up the caller's name (CNAM) for US/Canadian caller IDs on new DIDs.",
        boolean,
        False,
    ),
    _spec(
        "did_pop",
        Tab.DID_DEFAULTS,
        "DID POP",
        "The server your device registers to; register to the same server to receive calls.",
        single_pop,
        "montreal1",
    ),
    _spec(
        "did_routing",
        Tab.DID_DEFAULTS,
        "Routing",
        "Where calls to new DIDs go: account:, vm:, fwd:, ivr:, queue:, grp:, tc:, sys:, none:.",
        routing_target,
        lambda ctx: f"account:{ctx.account}",
    ),
    _spec(
        "did_failover_busy",
        Tab.DID_DEFAULTS,
        "Failover when busy",
        "Where the call goes when the destination is busy.",
        routing_target,
        "none:",
    ),
    _spec(
        "did_failover_unreachable",
        Tab.DID_DEFAULTS,
        "Failover when unreachable",
        "Where the call goes when the destination is unreachable.",
        routing_target,
        "none:",
    ),
    _spec(
        "did_failover_noanswer",
        Tab.DID_DEFAULTS,
        "Failover on no answer",
        "Where the call goes when nobody answers.",
        routing_target,
        "none:",
    ),
    _spec(
        "newsletter",
        Tab.NEWSLETTER,
        "Newsletter Subscription",
        "Receive news by email.",
        boolean,
        False,
    ),
    _spec(
        "nat",
        Tab.ADVANCED,
        "NAT",
        "Yes if your device is behind NAT (recommended when unsure), No otherwise.",
        choice(catalogs.NAT_MODES),
        "yes",
        choices=catalogs.NAT_MODES,
    ),
    _spec(
        "dtmf_mode",
        Tab.ADVANCED,
        "DTMF Mode",
        "Auto uses RFC2833 and switches to inband if the other end lacks it. Use the same mode "
        "on your device.",
        choice(catalogs.DTMF_MODES),
        "auto",
        choices=catalogs.DTMF_MODES,
    ),
    _spec(
        "allowed_codecs",
        Tab.ADVANCED,
        "Allowed Codecs",
        "Allow all unless you have a reason. G.722 (HD) works only when both ends support it "
        "and within one POP; never on calls to regular phone lines.",
        codecs,
        ("all",),
    ),
    _spec(
        "encrypted_sip",
        Tab.ADVANCED,
        "Encrypted SIP Traffic",
        "SIP over TLS and SRTP media. Your device must then make and receive encrypted calls.",
        boolean,
        False,
    ),
    _spec(
        "max_expiry",
        Tab.ADVANCED,
        "Max Expiry",
        "Longest registration time granted, 60 to 3600 seconds; a lower time requested by the "
        "device is kept. Also applies to subscriptions (MWI, BLF).",
        int_range(60, 3600, " seconds"),
        3600,
    ),
    _spec(
        "rtp_timeout",
        Tab.ADVANCED,
        "RTP Time Out",
        "Seconds without RTP before a call not on hold is ended (1 to 3600, at most the RTP "
        "Hold Time Out).",
        int_range(1, 3600, " seconds"),
        60,
    ),
    _spec(
        "rtp_hold_timeout",
        Tab.ADVANCED,
        "RTP Hold Time Out",
        "Seconds without RTP before a call on hold is ended (1 to 3600, at least the RTP Time "
        "Out).",
        int_range(1, 3600, " seconds"),
        600,
    ),
)

SPECS_BY_KEY: dict[str, SettingSpec] = {s.key: s for s in SPECS}
SECRET_KEYS = frozenset(s.key for s in SPECS if s.secret)
MAIN_KEYS = tuple(s.key for s in SPECS)
STORED_MAIN_KEYS = tuple(s.key for s in SPECS if not s.secret)

DESCRIPTION_SPEC = _spec(
    "description", Tab.GENERAL, "Description", "A name for this sub account.", description, ""
)
SUB_OWN_KEYS = (
    "sip_password",
    "description",
    "allow_international",
    "ip_restriction_enabled",
    "ip_restriction",
    "pop_restriction_enabled",
    "pop_restriction",
)
SUB_OVERRIDE_KEYS = (
    "canada_route",
    "international_route",
    "tollfree_carrier",
    "dialing_mode",
    "callerid_number",
    "e911_callerid",
    "voicemail",
    "music_on_hold",
    "inbound_protocol",
    "device_type",
    "nat",
    "dtmf_mode",
    "allowed_codecs",
    "encrypted_sip",
    "max_expiry",
    "rtp_timeout",
    "rtp_hold_timeout",
)
SUB_KEYS = SUB_OWN_KEYS + SUB_OVERRIDE_KEYS
MASK = "***"


def spec_for(key: str) -> SettingSpec:
    return DESCRIPTION_SPEC if key == "description" else SPECS_BY_KEY[key]


# --- conversions ------------------------------------------------------------------------------


def to_json(key: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def from_json(key: str, raw: Any) -> Any:
    spec = spec_for(key)
    default = spec.default if not callable(spec.default) else None
    if raw is None:
        return None
    if isinstance(default, Decimal) or key == "international_max_rate":
        return Decimal(raw)
    if isinstance(raw, list):
        return tuple(raw)
    return raw


def display(key: str, value: Any) -> str:
    """How a value reads in the CLI, the audit log and emails."""
    if key in SECRET_KEYS:
        return MASK
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def defaults(ctx: ValidationContext) -> dict[str, Any]:
    return {s.key: s.default_for(ctx) for s in SPECS if not s.secret}


def sub_defaults() -> dict[str, Any]:
    """A new sub account's own settings; overrides start empty (inherit everything)."""
    return {
        "description": "",
        "allow_international": False,
        "ip_restriction_enabled": False,
        "ip_restriction": (),
        "pop_restriction_enabled": False,
        "pop_restriction": (),
    }


# --- applying changes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    key: str
    old: str  # display form; *** for secrets
    new: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of a valid update: the full new settings, new secrets, and what changed."""

    values: dict[str, Any]
    secrets: dict[str, str]
    changes: tuple[Change, ...]


def _is_empty(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _check_cross_fields(effective: Mapping[str, Any], keys: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    if effective.get("rtp_timeout", 0) > effective.get("rtp_hold_timeout", 3600):
        field = (
            "rtp_timeout"
            if "rtp_timeout" in keys or "rtp_hold_timeout" not in keys
            else "rtp_hold_timeout"
        )
        errors.append(
            FieldError(
                field,
                "rtp_timeout_greater_than_rtp_hold_timeout",
                f"rtp_timeout ({effective['rtp_timeout']}) must be less than or equal to "
                f"rtp_hold_timeout ({effective['rtp_hold_timeout']})",
                (
                    ("rtp_timeout", str(effective["rtp_timeout"])),
                    ("rtp_hold_timeout", str(effective["rtp_hold_timeout"])),
                ),
            )
        )
    for kind in ("ip", "pop"):
        if effective.get(f"{kind}_restriction_enabled") and not effective.get(
            f"{kind}_restriction"
        ):
            errors.append(
                FieldError(
                    f"{kind}_restriction",
                    f"missing_{kind}_restriction",
                    f"{kind}_restriction must list at least one entry while "
                    f"{kind}_restriction_enabled is true",
                )
            )
    return errors


def apply_changes(
    *,
    current: Mapping[str, Any],
    changes: Mapping[str, object],
    ctx: ValidationContext,
    sub: bool = False,
    inherited: Mapping[str, Any] | None = None,
) -> Outcome:
    """Validate ``changes`` against ``current`` and return the new settings, all or nothing.

    For a sub account, ``current`` holds its own keys plus the overrides it has (a missing
    override inherits), and ``inherited`` is the main account's settings; cross-field rules are
    checked on the effective values. Raises ``ValidationFailed`` listing every broken rule.
    """
    allowed = SUB_KEYS if sub else MAIN_KEYS
    errors: list[FieldError] = []
    new = dict(current)
    secrets: dict[str, str] = {}
    for key, raw in changes.items():
        if key not in allowed:
            scope = "a sub account" if sub else "an account"
            errors.append(FieldError(key, "unknown_key", f"{key!r} is not {scope} setting"))
            continue
        spec = spec_for(key)
        try:
            if spec.secret:
                secrets[key] = spec.parse(raw, ctx)
            elif _is_empty(raw):
                if sub and key in SUB_OVERRIDE_KEYS:
                    new.pop(key, None)  # back to inheriting the main account's value
                elif spec.empty_means == "none":
                    new[key] = None
                else:
                    new[key] = spec.default_for(ctx) if not sub else sub_defaults().get(key)
            else:
                new[key] = spec.parse(raw, ctx)
        except InvalidValue as exc:
            errors.append(exc.field_error(key))
    if not errors:
        effective = {**(inherited or {}), **new}
        errors.extend(_check_cross_fields(effective, set(changes)))
    if errors:
        raise ValidationFailed(errors)
    changed = tuple(
        Change(key, display(key, current.get(key)), display(key, new.get(key)))
        for key in allowed
        if key not in SECRET_KEYS
        and (key in new or key in current)
        and current.get(key) != new.get(key)
    ) + tuple(Change(key, MASK, MASK) for key in secrets)
    return Outcome(values=new, secrets=secrets, changes=changed)


def effective_settings(
    main: Mapping[str, Any], sub: Mapping[str, Any]
) -> dict[str, tuple[Any, str]]:
    """Each key of a sub account with its effective value and where it came from.

    Sources: ``sub`` (its own setting), ``override`` (it overrides the main account), ``main``
    (inherited).
    """
    out: dict[str, tuple[Any, str]] = {}
    for key in STORED_MAIN_KEYS:
        if key in SUB_OVERRIDE_KEYS and key in sub:
            out[key] = (sub[key], "override")
        elif key in SUB_OWN_KEYS:
            out[key] = (sub.get(key), "sub")
        else:
            out[key] = (main.get(key), "main")
    out["description"] = (sub.get("description", ""), "sub")
    return out
