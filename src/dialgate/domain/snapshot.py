"""The compiled, immutable view of one account that call decisions read.

``compile_snapshot`` turns plain data (the account's *effective* settings as
``domain.settings`` holds them, its balance, its e911-enabled DIDs, the addresses its allow-listed
host names resolved to, the POP catalog, the rate decks and the numbering plan) into sets, parsed
networks and integers, so that ``policy.decide`` does no parsing beyond the dialed string. A
service rebuilds the snapshot whenever any of those inputs change.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from dialgate.domain import settings as settings_registry
from dialgate.domain.deck import RateDeck
from dialgate.domain.numbering import NumberingPlan
from dialgate.domain.rating import to_micro

# Addresses as (IP version, integer) and networks as (version, network integer, mask): matching
# a call's source is then integer arithmetic, not ipaddress objects.
IP = tuple[int, int]
Network = tuple[int, int, int]


def parse_ip(text: str) -> IP | None:
    """An IPv4 or IPv6 address as (version, integer), or None if it is not one.

    ``socket.inet_pton`` is a pure conversion (no I/O) and, unlike ``ipaddress``, costs well
    under a microsecond; it refuses IPv4 octets with leading zeros, as ``ipaddress`` does.
    """
    try:
        return (4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big"))
    except (OSError, ValueError):
        pass
    try:
        return (6, int(ipaddress.IPv6Address(text)))
    except ValueError:
        return None


def _network(entry: str) -> Network:
    net = ipaddress.ip_network(entry, strict=False)
    return (net.version, int(net.network_address), int(net.netmask))


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    account: str  # 100000 or 100000_office
    enabled: bool
    balance: Decimal
    balance_u: int  # micro-dollars, rounded down
    dialing_mode: str
    canada_route: str
    international_route: str
    tollfree_route: str
    tollfree_carrier: str
    allow_411: bool
    allow_international: bool
    max_call_time_domestic: int
    max_call_time_international: int
    international_max_rate: Decimal | None  # None: no cap
    international_max_rate_u: int | None
    allowed_countries: frozenset[str] | None  # None: every country (ALL)
    e911_callerid: str | None
    callerid_number: str | None
    voicemail: str | None
    encrypted_sip: bool
    ip_restriction_enabled: bool
    ip_addresses: frozenset[IP]
    ip_networks: tuple[Network, ...]
    pop_restriction_enabled: bool
    allowed_pops: frozenset[str]
    e911_dids: frozenset[str]  # 10-digit NANP
    pop_countries: Mapping[str, str]  # POP name -> ISO country of the server
    decks: Mapping[str, RateDeck]  # route -> deck
    plan: NumberingPlan
    # The balance step's trace entry, built once per snapshot rather than once per call.
    balance_trace: tuple[str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "balance_trace", ("balance", "pass", f"balance {self.balance}"))

    def with_balance(self, balance: Decimal) -> PolicySnapshot:
        """This snapshot with another balance: a charge or a deposit changes nothing else."""
        return replace(self, balance=balance, balance_u=to_micro(balance))

    def allows_ip(self, address: IP) -> bool:
        return address in self.ip_addresses or self.in_ip_networks(address)

    def in_ip_networks(self, address: IP) -> bool:
        version, value = address
        for net_version, network, mask in self.ip_networks:
            if version == net_version and value & mask == network:
                return True
        return False


def nanp10(number: str | None) -> str | None:
    """A caller ID or DID as 10 NANP digits, or None if it is not a NANP number."""
    if not number:
        return None
    digits = number[1:] if number[0] == "+" else number
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return digits if len(digits) == 10 and digits.isdigit() else None


def _setting(values: Mapping[str, Any], key: str) -> Any:
    # A missing or empty value means the registry's default, so a partial dict (an older row, a
    # sub account's own keys) still compiles to what the account would show.
    value = values.get(key)
    if value is None or value == "":
        default = settings_registry.SPECS_BY_KEY[key].default
        return None if callable(default) else default
    return value


def _text_or_none(values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    return str(value) if value else None


def _networks(
    entries: Iterable[str], resolved_hosts: Mapping[str, Iterable[str]]
) -> tuple[frozenset[IP], tuple[Network, ...]]:
    addresses: set[IP] = set()
    networks: list[Network] = []
    for entry in entries:
        if "/" in entry:
            networks.append(_network(entry))
            continue
        address = parse_ip(entry)
        if address is not None:
            addresses.add(address)
            continue
        # A host name: only what it resolved to when the snapshot was built; an unresolved name
        # allows nothing (fail closed).
        for resolved in resolved_hosts.get(entry, ()):
            if (address := parse_ip(resolved)) is not None:
                addresses.add(address)
    return frozenset(addresses), tuple(networks)


def compile_snapshot(
    *,
    account: str,
    enabled: bool,
    settings: Mapping[str, Any],
    balance: Decimal,
    pop_countries: Mapping[str, str],
    decks: Mapping[str, RateDeck],
    plan: NumberingPlan,
    e911_dids: Iterable[str] = (),
    resolved_hosts: Mapping[str, Iterable[str]] | None = None,
) -> PolicySnapshot:
    """Compile an account's effective settings (``settings.effective_settings``) and state."""
    ip_entries = tuple(_setting(settings, "ip_restriction"))
    addresses, networks = _networks(ip_entries, resolved_hosts or {})
    countries = tuple(_setting(settings, "allowed_countries"))
    max_rate_raw = settings.get("international_max_rate")
    max_rate = None if max_rate_raw in (None, "") else Decimal(str(max_rate_raw))
    return PolicySnapshot(
        account=account,
        enabled=enabled,
        balance=balance,
        balance_u=to_micro(balance),
        dialing_mode=_setting(settings, "dialing_mode"),
        canada_route=_setting(settings, "canada_route"),
        international_route=_setting(settings, "international_route"),
        tollfree_route=_setting(settings, "tollfree_route"),
        tollfree_carrier=_setting(settings, "tollfree_carrier"),
        allow_411=bool(_setting(settings, "allow_411")),
        allow_international=bool(_setting(settings, "allow_international")),
        max_call_time_domestic=int(_setting(settings, "max_call_time_domestic")),
        max_call_time_international=int(_setting(settings, "max_call_time_international")),
        international_max_rate=max_rate,
        international_max_rate_u=None if max_rate is None else to_micro(max_rate),
        allowed_countries=None if "ALL" in countries else frozenset(countries),
        e911_callerid=nanp10(_text_or_none(settings, "e911_callerid")),
        callerid_number=_text_or_none(settings, "callerid_number"),
        voicemail=_text_or_none(settings, "voicemail"),
        encrypted_sip=bool(_setting(settings, "encrypted_sip")),
        ip_restriction_enabled=bool(_setting(settings, "ip_restriction_enabled")),
        ip_addresses=addresses,
        ip_networks=networks,
        pop_restriction_enabled=bool(_setting(settings, "pop_restriction_enabled")),
        allowed_pops=frozenset(_setting(settings, "pop_restriction")),
        e911_dids=frozenset(d for d in map(nanp10, e911_dids) if d),
        pop_countries=pop_countries,
        decks=decks,
        plan=plan,
    )
