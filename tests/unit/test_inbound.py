"""The inbound routing chain, as pure rules."""

from __future__ import annotations

import pytest

from dialgate.domain.forwarding import Forwarding
from dialgate.domain.inbound import DidRouting, Directory, Event, SipEndpoint, route

DIRECTORY = Directory(
    endpoints={
        "100000": SipEndpoint("sip", "ata"),
        "100000_office": SipEndpoint("iax2", "pbx"),
    },
    forwards={
        str(n): Forwarding(n, number, callerid_override="4385550111" if n == 1 else "")
        for n, number in ((1, "+15145550199"), (2, "+15145550101"), (3, "+15145550100"))
    },
    dids={},
    target_data={"grp:1": {"members": ["100000", "100000_office"]}},
)


def did(**kw: object) -> DidRouting:
    base: dict[str, object] = {
        "number": "5145550100",
        "routing": "account:100000_office",
        "failover_busy": "vm:1001",
        "failover_unreachable": "fwd:1",
        "failover_noanswer": "grp:1",
        "pop": "toronto1",
        "dial_time": 25,
        "cnam_lookup": True,
    }
    base.update(kw)
    return DidRouting(**base)  # type: ignore[arg-type]


def test_new_call_rings_the_sub_account_with_its_protocol_device_pop_and_dial_time() -> None:
    r = route(did(), DIRECTORY)
    assert r.position == 0
    assert (r.target.kind, r.target.sip_user) == ("account", "100000_office")
    assert (r.target.protocol, r.target.device_type) == ("iax2", "pbx")
    assert (r.pop, r.dial_time_s, r.cnam_lookup, r.loop_detected) == ("toronto1", 25, True, False)
    assert {k: v.kind for k, v in r.next_on.items()} == {
        "busy": "voicemail",
        "unreachable": "forward",
        "noanswer": "ring_group",
    }


def test_busy_goes_to_voicemail_at_position_one() -> None:
    r = route(did(), DIRECTORY, event=Event.BUSY)
    assert (r.position, r.target.kind, r.target.mailbox) == (1, "voicemail", "1001")
    assert r.next_on == {}


def test_unreachable_forwards_to_the_external_number() -> None:
    r = route(did(), DIRECTORY, event=Event.UNREACHABLE)
    assert (r.target.kind, r.target.forward_number) == ("forward", "+15145550199")
    assert r.target.forward is not None and r.target.forward.callerid_override == "4385550111"
    assert r.target.to_json()["forward"]["id"] == 1


def test_a_forward_whose_entry_was_deleted_routes_nowhere() -> None:
    directory = Directory(endpoints=DIRECTORY.endpoints, forwards={}, dids={})
    r = route(did(), directory, event=Event.UNREACHABLE)
    assert r.target.kind == "none"


def test_noanswer_goes_to_the_ring_group_with_its_data() -> None:
    r = route(did(), DIRECTORY, event=Event.NOANSWER)
    assert r.target.kind == "ring_group"
    assert r.target.data["members"] == ["100000", "100000_office"]


@pytest.mark.parametrize(
    ("target", "kind", "attr", "value"),
    [
        ("ivr:1", "ivr", "value", "1"),
        ("queue:1", "queue", "value", "1"),
        ("tc:1", "time_condition", "value", "1"),
        ("sys:hangup", "system_action", "system_action", "hangup"),
        ("none:", "none", "value", ""),
        ("account:100000", "account", "protocol", "sip"),
    ],
)
def test_each_failover_kind_is_described(target: str, kind: str, attr: str, value: str) -> None:
    r = route(did(failover_busy=target), DIRECTORY, event=Event.BUSY)
    assert r.target.kind == kind
    assert getattr(r.target, attr) == value


def test_failover_back_to_the_routing_target_is_a_loop() -> None:
    r = route(did(failover_busy="account:100000_office"), DIRECTORY, event=Event.BUSY)
    assert r.loop_detected and r.target.kind == "none"


def test_forward_to_an_own_did_follows_that_dids_routing() -> None:
    other = did(number="5145550101", routing="account:100000")
    directory = Directory(
        endpoints=DIRECTORY.endpoints, forwards=DIRECTORY.forwards, dids={other.number: other}
    )
    r = route(did(failover_busy="fwd:2"), directory, event=Event.BUSY)
    assert (r.target.kind, r.target.sip_user, r.via) == ("account", "100000", ("5145550101",))


def test_failover_whose_own_chain_leads_back_is_a_loop() -> None:
    # A busy -> forward to own DID B; B routes by forward back to A.
    a = did(failover_busy="fwd:2")
    b = did(number="5145550101", routing="fwd:3")
    directory = Directory(
        endpoints=DIRECTORY.endpoints, forwards=DIRECTORY.forwards, dids={a.number: a, b.number: b}
    )
    r = route(a, directory, event=Event.BUSY)
    assert r.loop_detected and r.target.kind == "none"


def test_a_chain_already_tried_does_not_repeat() -> None:
    r = route(
        did(failover_noanswer="vm:1001"),
        DIRECTORY,
        event=Event.NOANSWER,
        tried=("account:100000_office", "vm:1001"),
    )
    assert r.loop_detected and r.position == 2


def test_unknown_sub_account_rings_nobody() -> None:
    r = route(did(routing="account:100000_gone"), DIRECTORY)
    assert r.target.kind == "none" and not r.loop_detected


def test_json_has_what_a_sip_proxy_needs() -> None:
    data = route(did(), DIRECTORY).to_json()
    assert set(data) >= {"target", "pop", "dial_time_s", "cnam_lookup", "position", "next_on"}
    assert data["target"]["sip_user"] == "100000_office"
    assert data["next_on"]["busy"]["mailbox"] == "1001"
