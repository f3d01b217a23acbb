"""Where an inbound DID call goes: the routing chain, as pure data.

A DID has a routing target and three failover targets (busy, unreachable, no answer), each in the
VoIP.ms notation ``header:value``. A call starts at the routing target (position 0); when a leg
ends busy / unreachable / unanswered, the switch asks again with that event and the call moves to
the matching failover (position = legs already tried).

A forward (``fwd:<id>``) names a call forwarding entry (``domain.forwarding``); the switch must
have the forwarded leg authorized as an outbound call of the DID's account before it leaves.
A forward to another DID of the same account is followed to that DID's own routing
(it would otherwise hairpin through the PSTN); if following forwards, or a failover, leads back to
a target already tried, the chain is a loop: it ends (target ``none``) with ``loop_detected``.
Time conditions are returned as such (their schedule is evaluated by the switch dialplan).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dialgate.domain.forwarding import Forwarding
from dialgate.domain.snapshot import nanp10


class Event(StrEnum):
    NEW = "new"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    NOANSWER = "noanswer"


FAILOVER_EVENTS = (Event.BUSY, Event.UNREACHABLE, Event.NOANSWER)

# routing header -> target kind in the answer
KINDS = {
    "account": "account",
    "vm": "voicemail",
    "fwd": "forward",
    "ivr": "ivr",
    "queue": "queue",
    "grp": "ring_group",
    "tc": "time_condition",
    "sys": "system_action",
    "none": "none",
}
MAX_HOPS = 8  # forwards followed through own DIDs before giving up (a loop guard of last resort)


@dataclass(frozen=True, slots=True)
class DidRouting:
    number: str
    routing: str
    failover_busy: str = "none:"
    failover_unreachable: str = "none:"
    failover_noanswer: str = "none:"
    pop: str = "montreal1"
    dial_time: int = 60
    cnam_lookup: bool = False

    def failover(self, event: Event) -> str:
        return {
            Event.BUSY: self.failover_busy,
            Event.UNREACHABLE: self.failover_unreachable,
            Event.NOANSWER: self.failover_noanswer,
        }[event]


@dataclass(frozen=True, slots=True)
class SipEndpoint:
    """The effective inbound settings of an account or sub account."""

    protocol: str  # sip | iax2
    device_type: str  # ata | pbx


@dataclass(frozen=True, slots=True)
class Directory:
    """What the account owns that targets point at (gathered by the service)."""

    endpoints: Mapping[str, SipEndpoint] = field(default_factory=dict)  # 100000, 100000_office
    forwards: Mapping[str, Forwarding] = field(default_factory=dict)  # "12" (fwd:12) -> entry
    dids: Mapping[str, DidRouting] = field(default_factory=dict)  # the account's other DIDs
    target_data: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # "ivr:1" -> data


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    value: str
    route: str  # header:value as configured
    sip_user: str | None = None
    protocol: str | None = None
    device_type: str | None = None
    forward_number: str | None = None
    forward: Forwarding | None = None
    mailbox: str | None = None
    system_action: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "route": self.route,
            "sip_user": self.sip_user,
            "protocol": self.protocol,
            "device_type": self.device_type,
            "forward_number": self.forward_number,
            "forward": self.forward.to_json() if self.forward else None,
            "mailbox": self.mailbox,
            "system_action": self.system_action,
            "data": dict(self.data),
        }


NONE = Target(kind="none", value="", route="none:")


@dataclass(frozen=True, slots=True)
class InboundRoute:
    did: str
    event: Event
    position: int
    target: Target
    pop: str
    dial_time_s: int
    cnam_lookup: bool
    loop_detected: bool
    via: tuple[str, ...]  # own DIDs passed through by forwards
    tried: tuple[str, ...]  # routes tried so far, this one included
    next_on: Mapping[str, Target]

    def to_json(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "event": self.event.value,
            "position": self.position,
            "target": self.target.to_json(),
            "pop": self.pop,
            "dial_time_s": self.dial_time_s,
            "cnam_lookup": self.cnam_lookup,
            "loop_detected": self.loop_detected,
            "via": list(self.via),
            "tried": list(self.tried),
            "next_on": {k: v.to_json() for k, v in self.next_on.items()},
        }


def _resolve(
    route: str, directory: Directory, seen_dids: set[str]
) -> tuple[Target, tuple[str, ...], bool]:
    """Turn ``header:value`` into a Target, following forwards to own DIDs.

    Returns the target, the own DIDs passed through, and whether a loop was found.
    """
    via: list[str] = []
    for _ in range(MAX_HOPS):
        header, _sep, value = route.partition(":")
        kind = KINDS.get(header)
        if kind is None or kind == "none":
            return NONE, tuple(via), False
        if kind == "account":
            endpoint = directory.endpoints.get(value)
            if endpoint is None:  # deleted since it was configured: nowhere to ring
                return NONE, tuple(via), False
            return (
                Target(
                    kind=kind,
                    value=value,
                    route=route,
                    sip_user=value,
                    protocol=endpoint.protocol,
                    device_type=endpoint.device_type,
                ),
                tuple(via),
                False,
            )
        if kind == "voicemail":
            return Target(kind=kind, value=value, route=route, mailbox=value), tuple(via), False
        if kind == "system_action":
            return (
                Target(kind=kind, value=value, route=route, system_action=value),
                tuple(via),
                False,
            )
        if kind == "forward":
            entry = directory.forwards.get(value)
            if entry is None:  # deleted since it was configured: nowhere to ring
                return NONE, tuple(via), False
            own = directory.dids.get(nanp10(entry.phone_number) or "")
            if own is None:
                return (
                    Target(
                        kind=kind,
                        value=value,
                        route=route,
                        forward_number=entry.phone_number,
                        forward=entry,
                    ),
                    tuple(via),
                    False,
                )
            if own.number in seen_dids:
                return NONE, tuple(via), True
            seen_dids.add(own.number)
            via.append(own.number)
            route = own.routing
            continue
        data = directory.target_data.get(route, {})
        return Target(kind=kind, value=value, route=route, data=data), tuple(via), False
    return NONE, tuple(via), True


def _peek(route: str, directory: Directory, did: str) -> Target:
    target, _via, loop = _resolve(route, directory, {did})
    return NONE if loop else target


def route(
    did: DidRouting,
    directory: Directory,
    *,
    event: Event = Event.NEW,
    tried: Sequence[str] = (),
) -> InboundRoute:
    """The next destination of a call to ``did``.

    ``tried`` lists the routes (``header:value``) of legs already tried, oldest first; for a
    failover event without it, the routing target is assumed to be the only leg tried.
    """
    if event is Event.NEW:
        tried = ()
        route_str = did.routing
    else:
        if not tried:
            tried = (did.routing,)
        route_str = did.failover(event)
    via: tuple[str, ...] = ()
    loop = route_str != "none:" and route_str in tried
    if loop:
        target = NONE
    else:
        target, via, loop = _resolve(route_str, directory, {did.number})
    now_tried = (*tried, route_str) if target.kind != "none" else tuple(tried)
    next_on: dict[str, Target] = {}
    if target.kind in ("account", "forward", "ring_group", "queue"):
        # Legs that can end busy / unreachable / unanswered: tell the proxy where each goes.
        for ev in FAILOVER_EVENTS:
            nxt = did.failover(ev)
            next_on[ev.value] = NONE if nxt in now_tried else _peek(nxt, directory, did.number)
    return InboundRoute(
        did=did.number,
        event=event,
        position=len(tried),
        target=target,
        pop=did.pop,
        dial_time_s=did.dial_time,
        cnam_lookup=did.cnam_lookup,
        loop_detected=loop,
        via=via,
        tried=now_tried,
        next_on=next_on,
    )
