"""Outbound INVITEs: Kamailio asks the switch backend and enforces the decision."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import REALM, Kamailio
from .sip.sipclient import SipAgent, reject
from .standin import StandInSwitch, allow, deny

DENIALS = [
    (404, "unknown_account", "Unknown account"),
    (403, "account_disabled", "Account disabled"),
    (488, "encryption_required", "Encrypted SIP required"),
    (403, "ip_not_allowed", "Calls from this IP address are not allowed"),
    (403, "pop_not_allowed", "Calls through this POP are not allowed"),
    (484, "invalid_number", "Invalid number"),
    (403, "blocked_number", "Use 411 for directory assistance"),
    (403, "international_disabled", "International calls are disabled"),
    (402, "insufficient_balance", "Insufficient balance"),
    (486, "e911_no_callerid", "No e911 caller ID"),
]


@pytest.mark.parametrize(("code", "reason", "message"), DENIALS)
def test_denied_call_reaches_the_caller_as_its_sip_code_and_message(
    ua: SipAgent, registered, standin: StandInSwitch, code: int, reason: str, message: str
) -> None:
    standin.authorize = lambda req: deny(code, reason, message)
    user, password = registered
    dlg = ua.invite("011441234567", user=user, password=password)
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (code, message)


def test_authorize_request_carries_the_contract_fields(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    user, password = registered
    ua.invite("5145551234", user=user, password=password, srtp=True)
    req = standin.requests[-1]
    assert req.path == "/switch/v1/authorize"
    assert req.headers["authorization"].startswith("Basic ")
    body = req.body
    assert body["account"] == user
    assert body["dialed"] == "5145551234"
    assert body["source_ip"] == "127.0.0.1"
    assert body["pop"] == "montreal1"
    assert body["caller_id"] == user
    assert body["transport"] == "udp"
    assert body["srtp"] is True


def test_plain_rtp_offer_is_reported_as_no_srtp(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    user, password = registered
    ua.invite("5145551234", user=user, password=password)
    assert standin.of("/switch/v1/authorize")[-1]["srtp"] is False


def test_unauthenticated_invite_is_challenged_and_never_asks_dialgate(
    ua: SipAgent, standin: StandInSwitch
) -> None:
    dlg = ua.invite("5145551234", user="100000")
    assert dlg.final is not None and dlg.final.code == 407
    assert standin.of("/switch/v1/authorize") == []


def test_allowed_call_reaches_the_carrier_with_caller_id_and_only_allowed_codecs(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(
        route="premium", caller_id="15145559999",
        destination={"e164": "15145551234", "class": "canada"},
        sip={"allowed_codecs": ["ulaw", "g729"], "dtmf_mode": "rfc2833", "nat": "yes"})
    user, password = registered
    dlg = ua.invite("5145551234", user=user, password=password,
                    codecs=("PCMA", "PCMU", "G729", "G722"))
    assert dlg.final is not None and dlg.final.code == 200

    inv = carriers["premium"].wait_request("INVITE")
    assert carriers["value"].received == []
    assert inv.ruri.startswith("sip:15145551234@")
    assert "15145559999" in inv.header("P-Asserted-Identity")
    assert "sip:15145559999@" in inv.header("From")
    assert inv.sdp_codecs() == ["PCMU", "G729", "telephone-event"]
    ua.bye(dlg)


def test_inband_dtmf_strips_telephone_event(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(sip={"allowed_codecs": ["all"], "dtmf_mode": "inband"})
    user, password = registered
    dlg = ua.invite("5145551234", user=user, password=password, codecs=("PCMU", "PCMA"))
    inv = carriers["value"].wait_request("INVITE")
    assert inv.sdp_codecs() == ["PCMU", "PCMA"]
    ua.bye(dlg)


@pytest.mark.parametrize(("carrier", "key"), [("american", "tollfree_us"),
                                              ("canadian", "tollfree_ca")])
def test_tollfree_call_goes_to_the_decided_tollfree_carrier(
    ua: SipAgent, registered, standin: StandInSwitch, carriers, carrier: str, key: str
) -> None:
    standin.authorize = lambda req: allow(route="value", carrier=carrier,
                                          destination={"e164": "18005551234"})
    user, password = registered
    dlg = ua.invite("8005551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    assert carriers[key].wait_request("INVITE").ruri.startswith("sip:18005551234@")
    ua.bye(dlg)


def test_voicemail_action_goes_to_the_media_server_with_the_mailbox(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(action="voicemail", route=None, mailbox="1001",
                                          destination={"e164": ""}, max_duration_s=600)
    user, password = registered
    dlg = ua.invite("*97", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    inv = carriers["media"].wait_request("INVITE")
    assert inv.header("X-Dialgate-Action") == "voicemail"
    assert inv.header("X-Dialgate-Mailbox") == "1001"
    ua.bye(dlg)


def test_dialog_timeout_is_the_decided_max_duration_read_through_rpc(
    kamailio: Kamailio, ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(max_duration_s=4321)
    user, password = registered
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    out = kamailio.rpc("dlg.list")
    at = out.index(dlg.call_id)
    block = out[max(0, at - 200) : at + 2500]  # a negative start would slice nothing
    assert "lifetime: 4321" in block, block
    ua.bye(dlg)


def test_call_is_ended_with_bye_to_both_sides_at_max_duration(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(max_duration_s=2)
    # Kamailio 5.6 sends the timeout BYEs one after the other and drops the second when the
    # reply to the first is processed in between (upstream kamailio#4169); a 20 ms round trip,
    # shorter than any real access network, is enough to keep loopback from triggering it.
    ua.bye_reply_delay_s = carriers["value"].bye_reply_delay_s = 0.02
    user, password = registered
    t0 = time.monotonic()
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    bye_caller = ua.wait_request("BYE", timeout=6)
    bye_carrier = carriers["value"].wait_request("BYE", timeout=6)
    elapsed = time.monotonic() - t0
    assert bye_caller.call_id == dlg.call_id
    assert 1.5 <= elapsed <= 5.0
    assert bye_carrier.call_id != ""
    cdr = standin.wait_for("/switch/v1/cdr", lambda b: b["call_id"] == dlg.call_id)
    assert cdr["disposition"] == "answered"
    carriers["value"].bye_reply_delay_s = 0.0


def test_completed_call_posts_one_cdr_with_the_decision_fields(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    standin.authorize = lambda req: allow(route="premium", rate_per_minute="0.0106",
                                          increment_s=6, flat_fee="0")
    user, password = registered
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    time.sleep(1.1)
    assert ua.bye(dlg).code == 200
    cdr = standin.wait_for("/switch/v1/cdr", lambda b: b["call_id"] == dlg.call_id)
    assert cdr["account"] == user
    assert cdr["dialed"] == "5145551234"
    assert cdr["disposition"] == "answered"
    assert cdr["route"] == "premium"
    assert cdr["rate_per_minute"] == "0.0106"
    assert cdr["increment_s"] == 6
    assert cdr["flat_fee"] == "0"
    for key in ("started_at", "answered_at", "ended_at"):
        assert cdr[key].endswith("Z") and "T" in cdr[key], cdr
    assert cdr["answered_at"] < cdr["ended_at"]
    time.sleep(0.3)
    assert len([b for b in standin.of("/switch/v1/cdr") if b["call_id"] == dlg.call_id]) == 1


def test_busy_carrier_is_reported_as_a_busy_attempt(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    carriers["value"].uas = reject(486, "Busy Here")
    user, password = registered
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 486
    cdr = standin.wait_for("/switch/v1/cdr", lambda b: b["call_id"] == dlg.call_id)
    assert cdr["disposition"] == "busy"
    assert cdr["answered_at"] is None


def test_dialgate_down_gives_503_within_the_timeout(
    ua: SipAgent, registered, standin: StandInSwitch, switch_backend
) -> None:
    user, password = registered
    standin.delay_s = 3.0  # hangs longer than http_timeout_s=1
    t0 = time.monotonic()
    dlg = ua.invite("5145551234", user=user, password=password, timeout=6)
    elapsed = time.monotonic() - t0
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (503, "Call Authorization Unavailable")
    assert elapsed < 2.0


def test_sip_keeps_flowing_while_dialgate_is_slow(
    kamailio: Kamailio, registered, standin: StandInSwitch
) -> None:
    standin.delay_s = 0.8
    user, password = registered
    callers = [SipAgent(kamailio.addr, domain=REALM) for _ in range(4)]
    try:
        for c in callers:
            c.invite("5145551234", user=user, password=password, wait_final=False)
        # Authentication challenges are answered without waiting for Dialgate; an OPTIONS
        # probe too: the SIP workers are not the ones blocked on HTTP.
        probe = SipAgent(kamailio.addr, domain=REALM)
        t0 = time.monotonic()
        assert probe.options().code == 200
        assert time.monotonic() - t0 < 0.2
        probe.close()
    finally:
        for c in callers:
            c.close()


def test_authorize_body_is_valid_json_with_hostile_caller_id(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    user, password = registered
    ua.invite("5145551234", user=user, password=password)
    raw = standin.requests[-1].body
    assert json.loads(json.dumps(raw))["dialed"] == "5145551234"


def test_dialgate_stopped_gives_503_fast_and_calls_flow_again_when_it_is_back(
    ua: SipAgent, registered, standin: StandInSwitch, carriers
) -> None:
    user, password = registered
    standin.stop()
    try:
        t0 = time.monotonic()
        dlg = ua.invite("5145551234", user=user, password=password)
        assert dlg.final is not None and dlg.final.code == 503
        assert time.monotonic() - t0 < 1.0
    finally:
        for _ in range(50):  # the port may linger a moment after close
            try:
                standin.start(standin.port)
                break
            except OSError:
                time.sleep(0.1)
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    ua.bye(dlg)


def test_flood_from_one_address_is_limited_by_pike(start_kamailio, registered) -> None:
    kam: Kamailio = start_kamailio(pike_density=10)
    flooder = SipAgent(kam.addr, domain=REALM)
    try:
        answered = 0
        for _ in range(60):
            try:
                flooder.options(timeout=0.05)
                answered += 1
            except TimeoutError:
                pass
        assert 5 <= answered < 40, answered
    finally:
        flooder.close()
