"""Decide an outbound call: may this account dial this, and if so how, for how much, how long.

``decide(snapshot, request)`` walks the steps of the call-policy issue in their fixed order and
records each in the trace; the first step that refuses ends the walk. A refusal is a ``Decision``
value, never an exception. The order is part of the contract: a call that breaks two rules
reports the earlier one (an IP-restricted call to a forbidden country says ``ip_not_allowed``).

account -> encryption -> ip_restriction -> pop_restriction -> normalize -> classify ->
special_numbers -> international_lock -> allowed_countries -> route -> rate ->
international_max_rate -> balance -> max_duration -> caller_id

Emergency calls (911) skip the balance, price, country and time limits; their caller ID must be
an e911-enabled DID of the account or the account's e911 default caller ID.

The trace is built from plain tuples and mostly precomputed strings: it is always returned, so
it has to be cheap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from dialgate.domain import catalogs
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.numbering import (
    MOH_TEST_CODES,
    Destination,
    DialedKind,
    NumberClass,
    classify,
    normalize,
)
from dialgate.domain.rating import DIRECTORY_ASSISTANCE, TOLLFREE_RATES, US48_PREMIUM, Rate
from dialgate.domain.snapshot import IP, PolicySnapshot, nanp10, parse_ip

TRANSPORTS = ("udp", "tcp", "tls")
# Where the leg comes from. "device": a device of the account dialed. "forward": the switch
# sends a DID call of the account on to a call forwarding's number (or where a device's
# redirect points): the leg starts at the switch, so the device checks (encryption, source IP,
# POP) do not apply and the caller ID is the one the switch gives (the forwarding's override
# or the original caller), but every limit on where it goes and what it costs does.
LEGS = ("device", "forward")

# Reason -> SIP status code (public contract).
SIP_CODES: dict[str, int] = {
    "ok": 200,
    "unknown_account": 404,
    "account_disabled": 403,
    "encryption_required": 488,
    "ip_not_allowed": 403,
    "pop_not_allowed": 403,
    "invalid_number": 484,
    "blocked_number": 403,
    "directory_assistance_disabled": 403,
    "international_disabled": 403,
    "country_not_allowed": 403,
    "no_rate": 404,
    "rate_above_limit": 403,
    "insufficient_balance": 402,
    "e911_no_callerid": 486,
}
STEPS = (
    "account", "encryption", "ip_restriction", "pop_restriction", "normalize", "classify",
    "special_numbers", "international_lock", "allowed_countries", "route", "rate",
    "international_max_rate", "balance", "max_duration", "caller_id",
)
PASS, DENY, SKIP = "pass", "deny", "skip"

# Members bound to module names: on Python 3.11 ``NumberClass.X`` costs ten times a global.
_US48, _US_OTHER, _CANADA, _TOLLFREE = (
    NumberClass.US48, NumberClass.US_OTHER, NumberClass.CANADA, NumberClass.TOLLFREE
)
_INTERNATIONAL, _EMERGENCY, _DA = (
    NumberClass.INTERNATIONAL, NumberClass.EMERGENCY, NumberClass.DIRECTORY_ASSISTANCE
)
_VOICEMAIL, _MOH_TEST, _INVALID = NumberClass.VOICEMAIL, NumberClass.MOH_TEST, NumberClass.INVALID
_NOT_A_NUMBER = DialedKind.INVALID

# Caller ID is guaranteed only on Premium, and only to these classes (the seed).
_GUARANTEED = frozenset({_US48, _CANADA, _TOLLFREE})
# Classes rated from a route's deck; the others have the seed's fixed prices.
_DECK_CLASSES = frozenset({_CANADA, _US_OTHER, _INTERNATIONAL})
# Toll-free carrier under server_default: by the POP's country; other POPs use the American one.
_CARRIER_BY_COUNTRY = {"US": "american", "CA": "canadian"}

TraceEntry = tuple[str, str, str]  # (step, outcome, detail)


class AuthorizeRequest(NamedTuple):
    """One outbound call attempt (the request contract). Build it with ``checked`` at a trust
    boundary; ``decide`` also copes with a bad source address (it is simply not allowed)."""

    account: str
    dialed: str
    source_ip: str | None = None
    pop: str | None = None
    caller_id: str | None = None
    transport: str = "udp"
    srtp: bool = False
    # ``source_ip`` parsed, filled in by ``checked`` so that ``decide`` need not parse it again.
    source_address: IP | None = None
    leg: str = "device"

    @classmethod
    def checked(
        cls,
        account: str,
        dialed: str,
        *,
        source_ip: str | None = None,
        pop: str | None = None,
        caller_id: str | None = None,
        transport: str = "udp",
        srtp: bool = False,
        leg: str = "device",
    ) -> AuthorizeRequest:
        """A validated request; ``ValidationFailed`` names the bad field."""
        if leg not in LEGS:
            raise ValidationFailed.single(
                "leg", "invalid_choice", f"must be one of {', '.join(LEGS)}; got {leg!r}"
            )
        if transport not in TRANSPORTS:
            raise ValidationFailed.single(
                "transport", "invalid_choice",
                f"must be one of {', '.join(TRANSPORTS)}; got {transport!r}",
            )
        if not dialed or len(dialed) > 64:
            raise ValidationFailed.single("dialed", "invalid_dialed", "must be 1 to 64 characters")
        address = None
        if source_ip is not None and (address := parse_ip(source_ip)) is None:
            raise ValidationFailed.single(
                "source_ip", "invalid_ip", f"must be an IPv4 or IPv6 address; got {source_ip!r}"
            )
        return cls(account, dialed, source_ip, pop, caller_id, transport, srtp, address, leg)


class Decision(NamedTuple):
    """The answer for one call. A NamedTuple because one is built per call (cheap), and it is
    immutable. ``to_json`` is the response contract."""

    allow: bool
    action: str  # call | emergency | voicemail | moh_test | reject
    sip_code: int
    reason: str
    message: str
    trace: tuple[TraceEntry, ...]
    destination: Destination | None = None
    route: str | None = None
    carrier: str | None = None
    rate_per_minute: Decimal | None = None
    increment_s: int | None = None
    flat_fee: Decimal | None = None
    max_duration_s: int | None = None
    caller_id: str | None = None
    caller_id_guaranteed: bool = False
    mailbox: str | None = None
    moh_class: str | None = None

    def to_json(self, *, trace: bool = True) -> dict[str, Any]:
        """The response contract of the call-policy issue (money as decimal strings); without
        ``trace`` when the caller does not want it (a switch: the trace is for people)."""
        body = {
            "allow": self.allow,
            "action": self.action,
            "sip_code": self.sip_code,
            "reason": self.reason,
            "message": self.message,
            "destination": self.destination.to_json() if self.destination else None,
            "route": self.route,
            "carrier": self.carrier,
            "rate_per_minute": None if self.rate_per_minute is None else str(self.rate_per_minute),
            "increment_s": self.increment_s,
            "flat_fee": None if self.flat_fee is None else str(self.flat_fee),
            "max_duration_s": self.max_duration_s,
            "caller_id": self.caller_id,
            "caller_id_guaranteed": self.caller_id_guaranteed,
            "mailbox": self.mailbox,
            "moh_class": self.moh_class,
        }
        if trace:
            body["trace"] = [{"step": s, "outcome": o, "detail": d} for s, o, d in self.trace]
        return body


def _reject(
    trace: list[TraceEntry], reason: str, message: str, destination: Destination | None = None
) -> Decision:
    return Decision(False, "reject", SIP_CODES[reason], reason, message, tuple(trace), destination)


# Trace entries that never vary, built once.
_ACCOUNT_OK = ("account", PASS, "enabled")
_ENCRYPTION_OK = ("encryption", PASS, "TLS with SRTP")
_ENCRYPTION_SKIP = ("encryption", SKIP, "encrypted SIP not required")
_IP_OK = ("ip_restriction", PASS, "source address allowed")
_IP_SKIP = ("ip_restriction", SKIP, "IP restriction off")
_POP_OK = ("pop_restriction", PASS, "POP allowed")
_POP_SKIP = ("pop_restriction", SKIP, "POP restriction off")
_ROUTE_DETAILS = {r: ("route", PASS, str(r)) for r in ("value", "premium", None)}
_SPECIAL_SKIP = ("special_numbers", SKIP, "not a special number")
_DA_OK = ("special_numbers", PASS, "411 allowed")
_INTL_OK = ("international_lock", PASS, "international calls allowed")
_INTL_SKIP = ("international_lock", SKIP, "domestic")
_COUNTRIES_ALL = ("allowed_countries", PASS, "ALL")
_COUNTRIES_SKIP = ("allowed_countries", SKIP, "domestic")
_MAX_RATE_SKIP = ("international_max_rate", SKIP, "no limit applies")
_FORWARD_SKIPS = tuple(
    (step, SKIP, "forwarded by the switch, not from a device")
    for step in ("encryption", "ip_restriction", "pop_restriction")
)
_EMERGENCY_SKIPS = tuple(
    (step, SKIP, "emergency call")
    for step in ("international_lock", "allowed_countries", "route", "rate",
                 "international_max_rate", "balance", "max_duration")
)


def decide(snapshot: PolicySnapshot | None, request: AuthorizeRequest) -> Decision:
    """The decision for one call, following the issue's order exactly."""
    trace: list[TraceEntry] = []
    add = trace.append
    # 1. account known and enabled
    if snapshot is None or snapshot.account != request.account:
        add(("account", DENY, f"no account {request.account}"))
        return _reject(trace, "unknown_account", f"Account {request.account} does not exist.")
    if not snapshot.enabled:
        add(("account", DENY, f"account {snapshot.account} is disabled"))
        return _reject(trace, "account_disabled", f"Account {snapshot.account} is disabled.")
    add(_ACCOUNT_OK)
    forward = request.leg == "forward"
    # 2. encrypted SIP: both the signalling (TLS) and the media (SRTP)
    if forward:
        trace.extend(_FORWARD_SKIPS)
    elif snapshot.encrypted_sip:
        if request.transport != "tls" or not request.srtp:
            add(("encryption", DENY, f"transport {request.transport}, srtp {request.srtp}"))
            return _reject(trace, "encryption_required",
                           "Encrypted SIP is on for this account: call over TLS with SRTP.")
        add(_ENCRYPTION_OK)
    else:
        add(_ENCRYPTION_SKIP)
    # 3. IP restriction (host names were resolved when the snapshot was compiled)
    if forward:
        pass
    elif snapshot.ip_restriction_enabled:
        source = request.source_ip
        address = request.source_address or (parse_ip(source) if source else None)
        if address is None or not (
            address in snapshot.ip_addresses or snapshot.in_ip_networks(address)
        ):
            add(("ip_restriction", DENY, f"{source or 'no source IP'} is not in the allowed list"))
            return _reject(trace, "ip_not_allowed",
                           f"Calls from {source or 'an unknown address'} are not allowed by the "
                           "account's IP restriction.")
        add(_IP_OK)
    else:
        add(_IP_SKIP)
    # 4. POP restriction
    if forward:
        pass
    elif snapshot.pop_restriction_enabled:
        pop = request.pop
        if pop is None or pop not in snapshot.allowed_pops:
            add(("pop_restriction", DENY, f"{pop or 'no POP'} is not in the allowed list"))
            return _reject(trace, "pop_not_allowed",
                           f"Calls through {pop or 'an unknown POP'} are not allowed by the "
                           "account's POP restriction.")
        add(_POP_OK)
    else:
        add(_POP_SKIP)
    # 5. normalize per dialing mode
    number = normalize(request.dialed, snapshot.dialing_mode)
    if number.kind is _NOT_A_NUMBER:
        add(("normalize", DENY, number.detail))
        return _reject(trace, "invalid_number",
                       f"Not a number that can be dialed: {number.detail}.")
    add(("normalize", PASS, number.detail))
    # 6. classify
    c = classify(number, snapshot.plan)
    klass = c.klass
    if klass is _INVALID:
        add(("classify", DENY, c.detail))
        return _reject(trace, "invalid_number", f"Not a number that can be dialed: {c.detail}.", c)
    add(("classify", PASS, c.detail))
    # 7. special numbers
    if c.blocked:
        add(("special_numbers", DENY, c.detail))
        return _reject(trace, "blocked_number",
                       "NPA-555-1212 is blocked: the only way to reach directory assistance is "
                       "by dialing 411.", c)
    if klass is _EMERGENCY:
        add(("special_numbers", PASS, "911: balance, price, country and time limits do not apply"))
        return _emergency(snapshot, request, c, trace)
    if klass is _VOICEMAIL:
        mailbox = snapshot.voicemail
        add(("special_numbers", PASS, f"voicemail, mailbox {mailbox or 'asked for'}"))
        return Decision(True, "voicemail", 200, "ok", "Voicemail.", tuple(trace),
                        c, mailbox=mailbox)
    if klass is _MOH_TEST:
        moh = MOH_TEST_CODES[number.digits]
        add(("special_numbers", PASS, f"music on hold test: {moh}"))
        return Decision(True, "moh_test", 200, "ok",
                        f"Music on hold test: {catalogs.MOH_BY_KEY[moh].label}.", tuple(trace),
                        c, moh_class=moh)
    if klass is _DA:
        if not snapshot.allow_411:
            add(("special_numbers", DENY, "411 is disabled (allow_411)"))
            return _reject(trace, "directory_assistance_disabled",
                           "411 directory assistance is disabled for this account.",
                           c)
        add(_DA_OK)
    else:
        add(_SPECIAL_SKIP)
    # 8-9. international lock, then the allowed countries
    if klass is _INTERNATIONAL:
        if not snapshot.allow_international:
            add(("international_lock", DENY, "international calls are disabled"))
            return _reject(trace, "international_disabled",
                           "International calls are disabled for this account.", c)
        add(_INTL_OK)
        allowed = snapshot.allowed_countries
        if allowed is not None and c.country not in allowed:
            add(("allowed_countries", DENY, f"{c.country or c.name} is not in the allowed list"))
            return _reject(trace, "country_not_allowed",
                           f"Calls to {c.name} are not allowed for this account.", c)
        add(_COUNTRIES_ALL if allowed is None
            else ("allowed_countries", PASS, f"{c.country} allowed"))
    else:
        add(_INTL_SKIP)
        add(_COUNTRIES_SKIP)
    # 10-11. route, then its rate
    route, carrier, rate = _route_and_rate(snapshot, request, klass, number.digits)
    add(("route", PASS, f"{route}, carrier {carrier}") if carrier else _ROUTE_DETAILS[route])
    if rate is None:
        add(("rate", DENY, f"no {route} rate for {c.e164}"))
        return _reject(trace, "no_rate", f"There is no {route} rate for {c.e164}.", c)
    add(("rate", PASS, rate.trace_detail))
    # A deck's destination name ("United Kingdom - Mobile") says more than the country's.
    destination = (
        Destination(c.e164, klass, c.country, c.region, rate.destination)
        if klass in _DECK_CLASSES else c
    )
    # 12. the international limit, on the rate of the route actually chosen
    limit_u = snapshot.international_max_rate_u
    if klass is _INTERNATIONAL and limit_u is not None:
        if rate.per_minute_u > limit_u:
            add(("international_max_rate", DENY,
                 f"{rate.per_minute}/min is above {snapshot.international_max_rate}/min"))
            return _reject(trace, "rate_above_limit",
                           f"The {route} rate to {rate.destination} (${rate.per_minute}/min) is "
                           f"above the account's limit of ${snapshot.international_max_rate}/min.",
                           destination)
        add(("international_max_rate", PASS, f"within {snapshot.international_max_rate}/min"))
    else:
        add(_MAX_RATE_SKIP)
    # 13. balance: enough for the flat fee and the first increment (free calls always pass)
    affordable = rate.affordable_seconds(snapshot.balance_u) if rate.increment_cost_u60 else None
    if snapshot.balance_u < rate.flat_fee_u or affordable == 0:
        add(("balance", DENY, f"balance {snapshot.balance} is too low"))
        return _reject(trace, "insufficient_balance",
                       f"The balance (${snapshot.balance}) does not cover this call.", destination)
    add(snapshot.balance_trace)
    # 14. max duration: the class cap, or less if the balance runs out first
    cap = (snapshot.max_call_time_international if klass is _INTERNATIONAL
           else snapshot.max_call_time_domestic)
    max_duration = cap if affordable is None or affordable > cap else affordable
    add(("max_duration", PASS, f"{max_duration}s, limited by the balance"
         if max_duration != cap else f"{max_duration}s, the class cap"))
    # 15. caller ID (a forward shows who is calling, unless its entry overrides it)
    caller_id = request.caller_id if forward else snapshot.callerid_number or request.caller_id
    guaranteed = route == "premium" and klass in _GUARANTEED
    add(("caller_id", PASS, f"{caller_id or 'none'}, {'' if guaranteed else 'not '}guaranteed"))
    # Positional on purpose: keyword construction of a NamedTuple is twice as slow.
    return Decision(
        True, "call", 200, "ok", f"Call to {destination.name} allowed.", tuple(trace), destination,
        route, carrier, rate.per_minute, rate.increment_s,
        rate.flat_fee if rate.flat_fee_u else None, max_duration, caller_id, guaranteed,
    )


def _route_and_rate(
    snapshot: PolicySnapshot, request: AuthorizeRequest, klass: NumberClass, digits: str
) -> tuple[str | None, str | None, Rate | None]:
    if klass is _US48:
        return "premium", None, US48_PREMIUM  # the US route exists only on Premium
    if klass is _TOLLFREE:
        route = snapshot.tollfree_route
        carrier = snapshot.tollfree_carrier
        if carrier == "server_default":
            country = snapshot.pop_countries.get(request.pop or "")
            carrier = _CARRIER_BY_COUNTRY.get(country or "", "american")
        return route, carrier, TOLLFREE_RATES[route]
    if klass is _DA:
        return None, None, DIRECTORY_ASSISTANCE
    if klass is _CANADA:
        route = snapshot.canada_route
    elif klass is _INTERNATIONAL:
        route = snapshot.international_route
    else:  # US_OTHER: domestic, and like the rest of the US only on Premium
        route = "premium"
    deck = snapshot.decks.get(route)
    return route, None, deck.lookup(digits) if deck is not None else None


def _emergency(
    snapshot: PolicySnapshot, request: AuthorizeRequest, c: Destination, trace: list[TraceEntry]
) -> Decision:
    add = trace.append
    trace.extend(_EMERGENCY_SKIPS)
    # The caller's own number if it is an e911-enabled DID (its address is on file), else the
    # account's e911 default, else refuse: the seed's busy tone.
    for candidate in (snapshot.callerid_number, request.caller_id):
        did = nanp10(candidate)
        if did is not None and did in snapshot.e911_dids:
            add(("caller_id", PASS, f"{did} is an e911-enabled DID"))
            return Decision(True, "emergency", 200, "ok",
                            f"Emergency call with caller ID {did}.", tuple(trace), c,
                            caller_id=did)
    if snapshot.e911_callerid:
        add(("caller_id", PASS, f"e911 default caller ID {snapshot.e911_callerid}"))
        return Decision(True, "emergency", 200, "ok",
                        f"Emergency call with the e911 default caller ID {snapshot.e911_callerid}.",
                        tuple(trace), c, caller_id=snapshot.e911_callerid)
    add(("caller_id", DENY, "no e911-enabled DID and no e911 default caller ID"))
    return _reject(trace, "e911_no_callerid",
                   "Emergency call refused: the caller ID is not an e911-enabled DID and no "
                   "e911 default caller ID is set.", c)
