"""The Account Settings page as data: every key, its tab, type, default and rules.

The keys are a public contract: the CLI, the REST API, the portal form fields and the audit log
all use exactly these names. Each key is a ``SettingSpec``; a small generic algorithm
(``apply_changes``) parses, validates and applies a set of changes all-or-nothing.

Each key has a value kind (``domain/values.py``: boolean, integer range, money, choice, list of
choices, email list, address list, routing target, password, text) that parses it into its one
canonical Python form, converts it to and from what the database stores and tells the REST schema
and the portal what to offer. Nothing here or in the faces is special-cased by key name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dialgate.domain import catalogs
from dialgate.domain import values as v
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.domain.money import MAX_RATE_PER_MINUTE


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
class SettingSpec:
    """One key of the Account Settings page. Its ``kind`` parses, converts and presents values."""

    key: str
    tab: Tab
    label: str
    help: str
    kind: v.ValueKind
    default: Any  # a value, or a callable of the context for account-dependent defaults
    secret: bool = False  # write-only: never stored in the settings, shown as ***
    empty_means: str = "default"  # what `key=` does: "default", or "none" (the field's own)

    def default_for(self, ctx: v.ValidationContext) -> Any:
        return self.default(ctx) if callable(self.default) else self.default

    def parse(self, raw: object, ctx: v.ValidationContext) -> Any:
        return self.kind.parse(raw, ctx)

    @property
    def choices(self) -> Mapping[str, str] | None:
        return self.kind.choices


# --- the registry ----------------------------------------------------------------------------

_TF_NOTE = "Toll-free calls to Canada and the USA."


def _spec(
    key: str, tab: Tab, label: str, help: str, kind: v.ValueKind, default: Any, **kw: Any
) -> SettingSpec:
    return SettingSpec(key=key, tab=tab, label=label, help=help, kind=kind, default=default, **kw)


SPECS: tuple[SettingSpec, ...] = (
    _spec(
        "canada_route",
        Tab.ROUTING,
        "Canada Routing",
        "Value: best wholesale price, but the CallerID number is not guaranteed on the Value "
        "route. Premium: better quality at a slightly higher price; the CallerID number is "
        "guaranteed. US calls always use the Premium route at $0.01 per minute.",
        v.Choice(catalogs.ROUTES),
        "value",
    ),
    _spec(
        "international_route",
        Tab.ROUTING,
        "International Routing",
        "Both routes are reliable; Premium gives better quality. The CallerID number is not "
        "guaranteed for international calls, even on Premium.",
        v.Choice(catalogs.ROUTES),
        "value",
    ),
    _spec(
        "tollfree_route",
        Tab.ROUTING,
        "Toll Free Routing",
        f"{_TF_NOTE} Value is free to use; Premium costs 1.06 cents per minute, gives better "
        "quality and guarantees the CallerID number.",
        v.Choice(catalogs.ROUTES),
        "value",
    ),
    _spec(
        "tollfree_carrier",
        Tab.ROUTING,
        "Toll Free Carrier",
        "Server Default: American servers dial through an American carrier, Canadian servers "
        "through a Canadian one. American or Canadian Carrier: always that carrier, whatever "
        "server you use.",
        v.Choice(catalogs.TOLLFREE_CARRIERS),
        "server_default",
    ),
    _spec(
        "allow_411",
        Tab.RESTRICTIONS,
        "Allow 411 dialing",
        "When enabled, you can call 411 directory assistance at $0.99 per call. NXX-555-1212 is "
        "always blocked: the only way to reach directory assistance is by dialing 411.",
        v.Boolean(),
        False,
    ),
    _spec(
        "allow_international",
        Tab.RESTRICTIONS,
        "Allow International Calls",
        "When disabled, calls to destinations outside the USA and Canada are rejected. Off by "
        "default for new accounts. Sub accounts have their own setting.",
        v.Boolean(),
        False,
    ),
    _spec(
        "max_call_time_domestic",
        Tab.RESTRICTIONS,
        "Max. Call Time for US48/Canadian Calls",
        "Calls to US or Canadian numbers are hung up after this many seconds (60 to 86400).",
        v.IntRange(60, 86400, " seconds"),
        14400,
    ),
    _spec(
        "max_call_time_international",
        Tab.RESTRICTIONS,
        "Max. Call Time for International Calls",
        "International calls are hung up after this many seconds (60 to 86400).",
        v.IntRange(60, 86400, " seconds"),
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
        v.Money(low=Decimal(0), high=MAX_RATE_PER_MINUTE, places=4),
        None,
        empty_means="none",
    ),
    _spec(
        "allowed_countries",
        Tab.RESTRICTIONS,
        "Allow Calls to Countries",
        "Only calls to these countries are connected (ALL for every country). The US and Canada "
        "are always allowed. This list has no effect until international calls are allowed.",
        v.Countries(),
        ("ALL",),
    ),
    _spec(
        "e911_callerid",
        Tab.GENERAL,
        "e911 Default CallerID",
        "Used as the caller ID when you dial 911 and your caller ID is not a 911-enabled DID, "
        "so the call connects instead of giving a busy tone.",
        v.NanpNumber(),
        "",
    ),
    _spec(
        "dialing_mode",
        Tab.GENERAL,
        "Dialing Mode",
        "North America: dial 10 or 11 digits for NANP numbers and 011 or 00 for international. "
        "E.164: dial the country code first (00 and 011 still work).",
        v.Choice(catalogs.DIALING_MODES),
        "nanp",
    ),
    _spec(
        "callerid_number",
        Tab.GENERAL,
        "CallerID Number",
        "The number shown to the people you call. Leave empty if your PBX or soft switch "
        "passes its own caller ID. The CallerID number is not guaranteed on the Value route.",
        v.CallerId(),
        "",
    ),
    _spec(
        "voicemail",
        Tab.GENERAL,
        "Voicemail Associated to the Main Account",
        "Dial *97 from the main account to reach this mailbox without entering its number. "
        "Only affects the device registered with the main account.",
        v.Mailbox(),
        "",
    ),
    _spec(
        "music_on_hold",
        Tab.GENERAL,
        "Music On Hold",
        "What callers hear while on hold. Test a class by dialing ***89 to ***100.",
        v.Choice({m.key: m.label for m in catalogs.MUSIC_ON_HOLD}),
        "bleep",
    ),
    _spec(
        "portal_password",
        Tab.SECURITY,
        "Customer Portal Password",
        "At least 8 characters with upper case, lower case and a digit.",
        v.Password(),
        None,
        secret=True,
    ),
    _spec(
        "sip_password",
        Tab.SECURITY,
        "Main SIP/IAX Password",
        "The password your device registers with. It starts equal to the portal password. "
        "At least 8 characters with upper case, lower case and a digit.",
        v.Password(),
        None,
        secret=True,
    ),
    _spec(
        "ip_restriction_enabled",
        Tab.SECURITY,
        "IP Restriction",
        "Outgoing calls are authorized only from the addresses or ranges listed.",
        v.Boolean(),
        False,
    ),
    _spec(
        "ip_restriction",
        Tab.SECURITY,
        "Allowed IP addresses",
        "IPv4/IPv6 addresses, CIDR ranges (10.0.0.0/24) or host names, separated by commas.",
        v.AddressList(),
        (),
    ),
    _spec(
        "pop_restriction_enabled",
        Tab.SECURITY,
        "POP Restriction",
        "Outgoing calls are authorized only through the POPs selected.",
        v.Boolean(),
        False,
    ),
    _spec(
        "pop_restriction",
        Tab.SECURITY,
        "Allowed POPs",
        "The POPs calls may come through.",
        v.Pops(),
        (),
    ),
    _spec(
        "inbound_protocol",
        Tab.INBOUND,
        "Protocol for inbound DIDs",
        "SIP is recommended.",
        v.Choice(catalogs.PROTOCOLS),
        "sip",
    ),
    _spec(
        "device_type",
        Tab.INBOUND,
        "Device type",
        "The kind of device that receives the main account's calls.",
        v.Choice(catalogs.DEVICE_TYPES),
        "ata",
    ),
    _spec(
        "notify_config_changes",
        Tab.NOTIFICATIONS,
        "Configuration changes",
        "Email when the account's configuration changes.",
        v.Boolean(),
        True,
    ),
    _spec(
        "notify_e911_changes",
        Tab.NOTIFICATIONS,
        "e911 changes",
        "Email when e911 settings change.",
        v.Boolean(),
        True,
    ),
    _spec(
        "notify_api_changes",
        Tab.NOTIFICATIONS,
        "API configuration changes",
        "Email when the API configuration changes.",
        v.Boolean(),
        True,
    ),
    _spec(
        "balance_threshold",
        Tab.NOTIFICATIONS,
        "Balance Threshold",
        "When your balance goes below this amount ($1 to $200) you receive an email, and again "
        "every day until you add funds or change the threshold. Empty disables it (not "
        "recommended).",
        v.Money(low=Decimal(1), high=Decimal(200), places=2),
        Decimal(5),
        empty_means="none",
    ),
    _spec(
        "notification_emails",
        Tab.NOTIFICATIONS,
        "Email",
        "Where notifications go. Several addresses, separated by commas, receive the balance "
        "threshold email; the other notifications go to the first.",
        v.EmailList(),
        lambda ctx: (ctx.email,),
    ),
    _spec(
        "did_plan",
        Tab.DID_DEFAULTS,
        "Select Plan",
        "How new DIDs are charged: per minute or flat rate.",
        v.Choice(catalogs.DID_PLANS),
        "per_minute",
    ),
    _spec(
        "did_cnam_lookup",
        Tab.DID_DEFAULTS,
        "CallerID Name Lookup",
        "Look up the caller's name (CNAM) for US/Canadian caller IDs on new DIDs.",
        v.Boolean(),
        False,
    ),
    _spec(
        "did_pop",
        Tab.DID_DEFAULTS,
        "DID POP",
        "The server your device registers to; register to the same server to receive calls.",
        v.Pop(),
        "montreal1",
    ),
    _spec(
        "did_routing",
        Tab.DID_DEFAULTS,
        "Routing",
        "Where calls to new DIDs go: the account or a sub account, a mailbox, a forwarding, an "
        "IVR, a queue, a ring group, a time condition or a system action.",
        v.Target(),
        lambda ctx: f"account:{ctx.account}",
    ),
    _spec(
        "did_failover_busy",
        Tab.DID_DEFAULTS,
        "Failover when busy",
        "Where the call goes when the destination is busy.",
        v.Target(),
        "none:",
    ),
    _spec(
        "did_failover_unreachable",
        Tab.DID_DEFAULTS,
        "Failover when unreachable",
        "Where the call goes when the destination is unreachable.",
        v.Target(),
        "none:",
    ),
    _spec(
        "did_failover_noanswer",
        Tab.DID_DEFAULTS,
        "Failover on no answer",
        "Where the call goes when nobody answers.",
        v.Target(),
        "none:",
    ),
    _spec(
        "newsletter",
        Tab.NEWSLETTER,
        "Newsletter Subscription",
        "Receive news by email.",
        v.Boolean(),
        False,
    ),
    _spec(
        "nat",
        Tab.ADVANCED,
        "NAT",
        "Yes if your device is behind NAT (recommended when unsure), No otherwise.",
        v.Choice(catalogs.NAT_MODES),
        "yes",
    ),
    _spec(
        "dtmf_mode",
        Tab.ADVANCED,
        "DTMF Mode",
        "Auto uses RFC2833 and switches to inband if the other end lacks it. Use the same mode "
        "on your device.",
        v.Choice(catalogs.DTMF_MODES),
        "auto",
    ),
    _spec(
        "allowed_codecs",
        Tab.ADVANCED,
        "Allowed Codecs",
        "Allow all unless you have a reason. G.722 (HD) works only when both ends support it "
        "and within one POP; never on calls to regular phone lines.",
        v.Codecs(),
        ("all",),
    ),
    _spec(
        "encrypted_sip",
        Tab.ADVANCED,
        "Encrypted SIP Traffic",
        "SIP over TLS and SRTP media. Your device must then make and receive encrypted calls.",
        v.Boolean(),
        False,
    ),
    _spec(
        "max_expiry",
        Tab.ADVANCED,
        "Max Expiry",
        "Longest registration time granted, 60 to 3600 seconds; a lower time requested by the "
        "device is kept. Also applies to subscriptions (MWI, BLF).",
        v.IntRange(60, 3600, " seconds"),
        3600,
    ),
    _spec(
        "rtp_timeout",
        Tab.ADVANCED,
        "RTP Time Out",
        "Seconds without RTP before a call not on hold is ended (1 to 3600, at most the RTP "
        "Hold Time Out).",
        v.IntRange(1, 3600, " seconds"),
        60,
    ),
    _spec(
        "rtp_hold_timeout",
        Tab.ADVANCED,
        "RTP Hold Time Out",
        "Seconds without RTP before a call on hold is ended (1 to 3600, at least the RTP Time "
        "Out).",
        v.IntRange(1, 3600, " seconds"),
        600,
    ),
)

SPECS_BY_KEY: dict[str, SettingSpec] = {s.key: s for s in SPECS}
SECRET_KEYS = frozenset(s.key for s in SPECS if s.secret)
MAIN_KEYS = tuple(s.key for s in SPECS)
STORED_MAIN_KEYS = tuple(s.key for s in SPECS if not s.secret)

DESCRIPTION_SPEC = _spec(
    "description", Tab.GENERAL, "Description", "A name for this sub account.", v.Text(100), ""
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
    """A canonical value as the database and the JSON faces hold it."""
    return spec_for(key).kind.to_json(value)


def from_json(key: str, raw: Any) -> Any:
    """A stored value back in its canonical form."""
    return spec_for(key).kind.from_json(raw)


def display(key: str, value: Any) -> str:
    """How a value reads in the CLI, the audit log and emails."""
    if key in SECRET_KEYS:
        return MASK
    return spec_for(key).kind.display(value)


def defaults(ctx: v.ValidationContext) -> dict[str, Any]:
    return {s.key: s.default_for(ctx) for s in SPECS if not s.secret}


def default(key: str) -> Any:
    """The default of a key whose default does not depend on the account (e.g. max_expiry)."""
    value = SPECS_BY_KEY[key].default
    if callable(value):
        raise ValueError(f"{key} has an account-dependent default")
    return value


def static_defaults() -> dict[str, Any]:
    """Every stored key whose default does not depend on the account, with that default."""
    return {
        spec.key: spec.default for spec in SPECS if not spec.secret and not callable(spec.default)
    }


def int_bounds(key: str) -> tuple[int, int]:
    """The allowed range of an integer setting (e.g. the registration expiry ceiling)."""
    kind = spec_for(key).kind
    if not isinstance(kind, v.IntRange):
        raise TypeError(f"{key} is not an integer range")
    return kind.low, kind.high


def sub_defaults() -> dict[str, Any]:
    """A new sub account's own settings; overrides start empty (inherit everything)."""
    return {key: spec_for(key).default for key in SUB_OWN_KEYS if key not in SECRET_KEYS}


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
                f"the RTP timeout ({effective['rtp_timeout']}) must be less than or equal to "
                f"the RTP hold timeout ({effective['rtp_hold_timeout']})",
                (
                    ("rtp_timeout", str(effective["rtp_timeout"])),
                    ("rtp_hold_timeout", str(effective["rtp_hold_timeout"])),
                ),
            )
        )
    # Said in the customer's words (the portal shows them); the field names the key.
    missing = {
        "ip": "list at least one IP address or range while the IP restriction is on",
        "pop": "choose at least one POP while the POP restriction is on",
    }
    for kind in ("ip", "pop"):
        if effective.get(f"{kind}_restriction_enabled") and not effective.get(
            f"{kind}_restriction"
        ):
            errors.append(
                FieldError(f"{kind}_restriction", f"missing_{kind}_restriction", missing[kind])
            )
    return errors


def apply_changes(
    *,
    current: Mapping[str, Any],
    changes: Mapping[str, object],
    ctx: v.ValidationContext,
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
        except v.InvalidValue as exc:
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


@dataclass(frozen=True, slots=True)
class EffectiveSettings:
    """The settings a main or sub account obeys, each with where it comes from.

    Sources: ``main`` (the main account's, or inherited by a sub account), ``sub`` (a sub
    account's own setting), ``override`` (a sub account overriding the main account).
    """

    values: dict[str, Any]
    sources: dict[str, str]


def effective_settings(
    main: Mapping[str, Any], sub: Mapping[str, Any] | None = None
) -> EffectiveSettings:
    """The one place that merges a sub account's keys over its main account's (``sub`` None:
    the main account itself). The snapshot, the services, the faces and the SIP exports all use
    it."""
    if sub is None:
        return EffectiveSettings(dict(main), {key: "main" for key in main})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in STORED_MAIN_KEYS:
        if key in SUB_OVERRIDE_KEYS and key in sub:
            values[key], sources[key] = sub[key], "override"
        elif key in SUB_OWN_KEYS:
            values[key], sources[key] = sub.get(key), "sub"
        else:
            values[key], sources[key] = main.get(key), "main"
    values["description"], sources["description"] = sub.get("description", ""), "sub"
    return EffectiveSettings(values, sources)
