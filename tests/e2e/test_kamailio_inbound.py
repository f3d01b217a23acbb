"""Inbound calls from a carrier to a DID: delivery to the registered device and the failover
chain (busy, unreachable, no answer) driven by /switch/v1/inbound."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from .conftest import REALM, Kamailio
from .sip.sipclient import SipAgent, answer, reject, ring_forever
from .standin import Json, StandInSwitch

DID = "15145550100"


@pytest.fixture
def device(kamailio: Kamailio, account: Callable[..., tuple[str, str]]) -> Iterator[SipAgent]:
    """A phone registered for a fresh account; it answers calls unless told otherwise."""
    user, password = account()
    phone = SipAgent(kamailio.addr, domain=REALM, uas=answer())
    assert phone.register(user, password)[-1].code == 200
    phone.user = user  # type: ignore[attr-defined]
    yield phone
    phone.close()


def chain(*steps: Json) -> Callable[[Json], Json]:
    """An /inbound answer per event: steps[0] for "new", then one per failover, in order."""
    def answer_(req: Json) -> Json:
        pos = int(req.get("chain_position") or 0)
        return {**steps[min(pos, len(steps) - 1)], "chain_position": pos + 1}
    return answer_


def test_inbound_call_reaches_the_registered_device(
    device: SipAgent, carriers, standin: StandInSwitch
) -> None:
    standin.inbound = chain({"kind": "account", "account": device.user, "dial_time": 10})  # type: ignore[attr-defined]
    carrier = carriers["value"]
    dlg = carrier.invite(DID, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200
    assert device.wait_request("INVITE").ruri.startswith(f"sip:{device.user}@")  # type: ignore[attr-defined]
    req = standin.of("/switch/v1/inbound")[0]
    assert req["did"] == DID and req["event"] == "new" and req["pop"] == "montreal1"
    carrier.bye(dlg)


def test_busy_device_fails_over_to_the_busy_target(
    device: SipAgent, carriers, standin: StandInSwitch
) -> None:
    device.uas = reject(486, "Busy Here")
    standin.inbound = chain(
        {"kind": "account", "account": device.user, "dial_time": 10},  # type: ignore[attr-defined]
        {"kind": "voicemail", "uri": f"sip:vm-1001@127.0.0.1:{carriers['media'].port}"})
    dlg = carriers["value"].invite(DID, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200
    assert carriers["media"].wait_request("INVITE").ruri.startswith("sip:vm-1001@")
    events = [r["event"] for r in standin.of("/switch/v1/inbound")]
    assert events == ["new", "busy"]
    carriers["value"].bye(dlg)


def test_unregistered_account_fails_over_as_unreachable(
    carriers, standin: StandInSwitch, account
) -> None:
    user, _ = account()
    standin.inbound = chain(
        {"kind": "account", "account": user, "dial_time": 10},
        {"kind": "forward", "uri": f"sip:18005550199@127.0.0.1:{carriers['premium'].port}"})
    dlg = carriers["value"].invite(DID, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200
    assert carriers["premium"].wait_request("INVITE").ruri.startswith("sip:18005550199@")
    assert [r["event"] for r in standin.of("/switch/v1/inbound")] == ["new", "unreachable"]
    carriers["value"].bye(dlg)


def test_no_answer_after_dial_time_fails_over_as_noanswer(
    device: SipAgent, carriers, standin: StandInSwitch
) -> None:
    device.uas = ring_forever
    standin.inbound = chain(
        {"kind": "account", "account": device.user, "dial_time": 2},  # type: ignore[attr-defined]
        {"kind": "system", "action": "busy"})
    t0 = time.monotonic()
    dlg = carriers["value"].invite(DID, user="carrier", timeout=8)
    elapsed = time.monotonic() - t0
    assert dlg.final is not None and (dlg.final.code, dlg.final.reason) == (486, "Busy Here")
    assert 1.8 <= elapsed < 4.0
    assert [r["event"] for r in standin.of("/switch/v1/inbound")] == ["new", "noanswer"]
    assert device.wait_request("CANCEL").call_id  # the ringing phone was cancelled


def test_silent_device_is_unreachable_not_noanswer(
    device: SipAgent, carriers, standin: StandInSwitch
) -> None:
    device.uas = lambda ua, req: None  # registered but never answers at all
    standin.inbound = chain(
        {"kind": "account", "account": device.user, "dial_time": 20},  # type: ignore[attr-defined]
        {"kind": "none"})
    dlg = carriers["value"].invite(DID, user="carrier", timeout=8)
    assert dlg.final is not None and dlg.final.code == 480
    assert [r["event"] for r in standin.of("/switch/v1/inbound")] == ["new", "unreachable"]


@pytest.mark.parametrize(("action", "code"), [("busy", 486), ("noservice", 503),
                                              ("disconnected", 404), ("hangup", 603)])
def test_system_actions_are_replied(
    carriers, standin: StandInSwitch, action: str, code: int
) -> None:
    standin.inbound = chain({"kind": "system", "action": action})
    dlg = carriers["value"].invite(DID, user="carrier")
    assert dlg.final is not None and dlg.final.code == code


def test_explicit_sip_code_from_dialgate_is_replied(carriers, standin: StandInSwitch) -> None:
    standin.inbound = chain({"kind": "none", "sip_code": 404, "message": "Unknown DID"})
    dlg = carriers["value"].invite("19995550000", user="carrier")
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (404, "Unknown DID")


def test_endless_chain_is_cut(device: SipAgent, carriers, standin: StandInSwitch) -> None:
    device.uas = reject(486, "Busy Here")
    standin.inbound = lambda req: {"kind": "account", "account": device.user,  # type: ignore[attr-defined]
                                   "dial_time": 5, "chain_position": 0}
    dlg = carriers["value"].invite(DID, user="carrier", timeout=10)
    assert dlg.final is not None and dlg.final.code in (480, 486)
    assert len(standin.of("/switch/v1/inbound")) <= 8


def test_non_carrier_invite_to_a_did_is_challenged(ua: SipAgent, standin: StandInSwitch) -> None:
    dlg = ua.invite(DID, user="stranger")
    assert dlg.final is not None and dlg.final.code == 407
    assert standin.of("/switch/v1/inbound") == []
