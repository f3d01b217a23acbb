"""The media plane: rtpengine anchors calls with each account's rules (NAT, SRTP, codecs, DTMF).

Real Kamailio, real Dialgate, real rtpengine; the phone and the carrier are test agents whose
RTP is real UDP (``RtpPeer``), counted on the receiving side.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import CdrRow
from dialgate.services import dids

from .conftest import REALM, Kamailio, RealDialgate
from .media import RtpengineProcess, RtpPeer, sdp_media
from .sip.sipclient import Dialog, SipAgent, SipMessage, answer, make_sdp

NAT_PRIVATE = "10.0.0.5"


@pytest.fixture
def peers() -> Iterator[tuple[RtpPeer, RtpPeer]]:
    """(the device's media socket, the carrier's media socket)."""
    device, carrier = RtpPeer(), RtpPeer()
    yield device, carrier
    device.close()
    carrier.close()


def test_device_behind_nat_gets_two_way_audio_through_rtpengine(
    ua: SipAgent, account, carriers, peers, rtpengine: RtpengineProcess
) -> None:
    device, carrier = peers
    user, password = account(nat="yes")
    carriers["value"].uas = answer(rtp_port=carrier.port)
    # The phone advertises its private address and a port it does not send from (a NAT
    # router rewrites both); its packets really come from 127.0.0.1:device.port.
    dlg = ua.invite("5145551234", user=user, password=password,
                    sdp=make_sdp(4000, ("PCMU",), address=NAT_PRIVATE))
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["value"].wait_request("INVITE")
    assert NAT_PRIVATE not in inv.body and NAT_PRIVATE not in dlg.final.body
    relay_for_device = sdp_media(dlg.final.body)
    relay_for_carrier = sdp_media(inv.body)
    assert relay_for_device[0] == relay_for_carrier[0] == "127.0.0.1"
    assert rtpengine.calls().count(dlg.call_id) == 1

    device.stream(relay_for_device, 1.0)
    carrier.stream(relay_for_carrier, 1.0)
    device.wait_stream()
    carrier.wait_stream()
    carrier.wait_received(40)
    device.wait_received(30)  # the first carrier packets went to the advertised port
    assert device.sources == {relay_for_device} and carrier.sources == {relay_for_carrier}
    stats = rtpengine.query(dlg.call_id)
    assert stats["totals"]["RTP"]["packets"] >= 80  # type: ignore[index]
    ua.bye(dlg)


def test_nat_never_leaves_the_sdp_alone(ua: SipAgent, account, carriers) -> None:
    user, password = account(nat="never")
    offer = make_sdp(4000, ("PCMU",), address=NAT_PRIVATE)
    dlg = ua.invite("5145551234", user=user, password=password, sdp=offer)
    assert dlg.final is not None and dlg.final.code == 200
    inv = carriers["value"].wait_request("INVITE")
    assert sdp_media(inv.body) == (NAT_PRIVATE, 4000)
    ua.bye(dlg)


def test_encrypted_account_is_bridged_srtp_to_plain_rtp(
    kamailio: Kamailio, account, carriers, rtpengine: RtpengineProcess
) -> None:
    user, password = account(encrypted_sip=True)
    assert kamailio.tls_port is not None
    tls = SipAgent(("127.0.0.1", kamailio.tls_port), transport="tls", domain=REALM)
    try:
        dlg = tls.invite("5145551234", user=user, password=password, srtp=True)
        assert dlg.final is not None and dlg.final.code == 200, dlg.final
        inv = carriers["value"].wait_request("INVITE")
        # The carrier leg is plain RTP; the device leg stays SRTP with rtpengine's own key.
        assert "m=audio" in inv.body and " RTP/AVP " in inv.body
        assert "a=crypto" not in inv.body
        assert " RTP/SAVP " in dlg.final.body and "a=crypto:" in dlg.final.body
        assert dlg.invite is not None
        device_key = dlg.invite.body.split("inline:")[1].split()[0]
        assert device_key not in dlg.final.body
        tls.bye(dlg)
    finally:
        tls.close()


def test_plain_offer_of_an_encrypted_account_is_refused_488(
    kamailio: Kamailio, account, carriers, rtpengine: RtpengineProcess
) -> None:
    user, password = account(encrypted_sip=True)
    assert kamailio.tls_port is not None
    tls = SipAgent(("127.0.0.1", kamailio.tls_port), transport="tls", domain=REALM)
    try:
        dlg = tls.invite("5145551234", user=user, password=password, srtp=False)
        assert dlg.final is not None
        assert dlg.final.code == 488
        assert carriers["value"].received == []
        assert dlg.call_id not in rtpengine.calls()
    finally:
        tls.close()


@pytest.mark.parametrize(("settings", "offered", "carrier_sees"), [
    ({"allowed_codecs": "ulaw,g729", "dtmf_mode": "rfc2833"},
     ("PCMA", "PCMU", "G729", "G722"), ["PCMU", "G729", "telephone-event"]),
    ({"allowed_codecs": "alaw", "dtmf_mode": "auto"},
     ("PCMU", "GSM", "PCMA"), ["PCMA", "telephone-event"]),
    ({"allowed_codecs": "ulaw,alaw", "dtmf_mode": "inband"},
     ("G722", "PCMU", "PCMA"), ["PCMU", "PCMA"]),
    ({"allowed_codecs": "all", "dtmf_mode": "info"},
     ("G722", "PCMU"), ["G722", "PCMU"]),
    ({"allowed_codecs": "all", "dtmf_mode": "auto"},
     ("G722", "PCMU"), ["G722", "PCMU", "telephone-event"]),
], ids=["ulaw-g729", "alaw-only", "inband-strips-events", "info-strips-events", "all"])
def test_rtpengine_enforces_allowed_codecs_and_dtmf_mode(
    ua: SipAgent, account, carriers, settings, offered, carrier_sees
) -> None:
    user, password = account(**settings)
    dlg = ua.invite("5145551234", user=user, password=password, codecs=offered)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["value"].wait_request("INVITE")
    assert inv.sdp_codecs() == carrier_sees
    # The device's answer holds only what the carrier chose among them.
    assert dlg.final.sdp_codecs()[0] == carrier_sees[0]
    assert set(dlg.final.sdp_codecs()) <= set(carrier_sees)
    ua.bye(dlg)


# -- RTP time-outs, hold and music on hold ---------------------------------------------------


def _cdr(dialgate: RealDialgate, call_id: str, timeout: float = 5.0) -> CdrRow:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with dialgate.db.uow(write=False) as uow:
            row = uow.session.scalars(select(CdrRow).where(CdrRow.call_id == call_id)).first()
            if row is not None:
                uow.session.expunge(row)
                return row
        time.sleep(0.05)
    raise AssertionError(f"no call record for {call_id}")


def _answered_call(ua: SipAgent, carriers, device: RtpPeer, carrier: RtpPeer, user: str,
                   password: str, dialed: str = "5145551234"
                   ) -> tuple[Dialog, tuple[str, int], tuple[str, int], SipMessage]:
    """An answered call whose media goes to the two peers; returns the dialog, the relay
    addresses the device and the carrier send to, and the INVITE the carrier got."""
    carriers["value"].uas = answer(rtp_port=carrier.port)
    dlg = ua.invite(dialed, user=user, password=password,
                    sdp=make_sdp(device.port, ("PCMU",)))
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["value"].wait_request("INVITE")
    return dlg, sdp_media(dlg.final.body), sdp_media(inv.body), inv


def test_call_whose_media_stops_is_ended_after_the_accounts_rtp_timeout(
    ua: SipAgent, account, carriers, peers, media_watch: Path, dialgate: RealDialgate
) -> None:
    device, carrier = peers
    user, password = account(rtp_timeout=2)
    dlg, to_device_relay, to_carrier_relay, _inv = _answered_call(
        ua, carriers, device, carrier, user, password)
    device.stream(to_device_relay, 3.0)
    carrier.stream(to_carrier_relay, 3.0)
    device.wait_stream()
    carrier.wait_stream()
    assert device.last_sent_at is not None and carrier.last_sent_at is not None
    last = max(device.last_sent_at, carrier.last_sent_at)
    assert carrier.received >= 100 and device.received >= 100  # two-way audio for 3 s
    bye = ua.wait_request("BYE", timeout=8)
    silence = time.monotonic() - last
    assert bye.call_id == dlg.call_id
    assert carriers["value"].wait_request("BYE", timeout=3).call_id == dlg.call_id
    assert 2.0 <= silence <= 4.0, silence
    row = _cdr(dialgate, dlg.call_id)
    assert (row.disposition, row.end_reason) == ("answered", "rtp_timeout")
    # 3 s of audio, then 2-4 s of silence (whole seconds: Kamailio's timestamps).
    assert 4 <= row.duration_s <= 8, row.duration_s
    assert "RTP_TIMEOUT call " + dlg.call_id in media_watch.read_text()


def _reinvite(agent: SipAgent, dlg: Dialog, sdp: str) -> SipMessage:
    """Send a re-INVITE with ``sdp`` in an established dialog and ACK its answer."""
    dlg.cseq += 1
    msg = agent._in_dialog(dlg, "INVITE", cseq=dlg.cseq)
    msg.body = sdp
    msg.headers.append(("Content-Type", "application/sdp"))
    agent.send(msg)
    final = agent.wait_response(dlg.call_id, "INVITE")
    agent.send(agent._in_dialog(dlg, "ACK", cseq=dlg.cseq))
    return final


def test_held_call_plays_music_on_hold_and_uses_the_hold_timeout(
    ua: SipAgent, account, carriers, peers, media_watch: Path, dialgate: RealDialgate
) -> None:
    device, carrier = peers
    user, password = account(rtp_timeout=1, rtp_hold_timeout=4, music_on_hold="piano_mix")
    ua.uas = answer(rtp_port=device.port)  # the phone answers the carrier's re-INVITE
    dlg, to_device_relay, _to_carrier, inv = _answered_call(
        ua, carriers, device, carrier, user, password)
    # The carrier puts the phone on hold: nobody sends RTP any more.
    as_callee = carriers["value"].uas_dialog(inv)
    hold = make_sdp(carrier.port, ("PCMU",), direction="sendonly")
    assert _reinvite(carriers["value"], as_callee, hold).code == 200
    held_at = time.monotonic()
    # The phone hears the account's music on hold, played by rtpengine.
    assert device.wait_received(50, timeout=3) >= 50
    assert device.sources == {to_device_relay}
    # Not the 1 s RTP time-out: the hold time-out (4 s) applies.
    bye = ua.wait_request("BYE", timeout=8)
    assert bye.call_id == dlg.call_id
    assert 4.0 <= time.monotonic() - held_at <= 6.5
    assert _cdr(dialgate, dlg.call_id).end_reason == "rtp_timeout"


@pytest.mark.parametrize("code", ["***89", "***100"])
def test_music_on_hold_test_code_plays_to_the_device(
    ua: SipAgent, account, carriers, peers, code: str
) -> None:
    device, _carrier = peers
    user, password = account()
    dlg = ua.invite(code, user=user, password=password, sdp=make_sdp(device.port, ("PCMU",)))
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    assert carriers["media"].wait_request("INVITE").header("X-Dialgate-Action") == "moh_test"
    assert device.wait_received(50, timeout=3) >= 50
    assert device.sources == {sdp_media(dlg.final.body)}
    ua.bye(dlg)


# -- rtpengine down ------------------------------------------------------------------------------


def test_no_rtpengine_gives_503_and_calls_flow_again_when_it_is_back(
    start_kamailio, account, tmp_path: Path
) -> None:
    relay = RtpengineProcess(tmp_path / "relay").start()
    pop = start_kamailio(rtpengines=[relay.socket])
    phone = SipAgent(pop.addr, domain=REALM)
    try:
        user, password = account()
        first = phone.invite("5145551234", user=user, password=password)
        assert first.final is not None and first.final.code == 200
        phone.bye(first)

        relay.stop()
        t0 = time.monotonic()
        down = phone.invite("5145551234", user=user, password=password)
        assert down.final is not None
        assert (down.final.code, down.final.reason) == (503, "Media Relay Unavailable")
        assert time.monotonic() - t0 < 3.0
        assert "MEDIA_UNAVAILABLE" in pop.log_text() and down.call_id in pop.log_text()
        # Never connected without the media rules: the carrier saw no INVITE for it.
        assert not any(m.call_id == down.call_id for m in pop.carriers["value"].received)

        relay.start()  # same control port: the POP's Kamailio is not restarted
        back = phone.invite("5145551234", user=user, password=password)
        assert back.final is not None and back.final.code == 200, back.final
        assert back.call_id in relay.calls()
        phone.bye(back)
    finally:
        phone.close()
        relay.stop()


# -- inbound calls ---------------------------------------------------------------------------------


def _did(dialgate: RealDialgate, account: str, number: str) -> str:
    with dialgate.db.uow() as uow:
        dids.add_did(uow, account, number, {"dial_time": "5"}, actor="e2e")
        uow.commit()
    return "1" + number


def test_inbound_call_to_a_device_behind_nat_gets_two_way_audio(
    kamailio: Kamailio, account, carriers, peers, dialgate: RealDialgate,
    rtpengine: RtpengineProcess
) -> None:
    device, carrier = peers
    user, password = account(nat="yes", allowed_codecs="ulaw", dtmf_mode="inband")
    did = _did(dialgate, user, "5145583001")
    phone = SipAgent(kamailio.addr, domain=REALM,
                     uas=answer(rtp_port=4000, address=NAT_PRIVATE))
    try:
        assert phone.register(user, password)[-1].code == 200
        dlg = carriers["value"].invite(did, user="carrier", codecs=("PCMA", "PCMU"),
                                       sdp=make_sdp(carrier.port, ("PCMA", "PCMU")))
        assert dlg.final is not None and dlg.final.code == 200, dlg.final
        inv = phone.wait_request("INVITE")
        # The account's codec and DTMF rules apply to calls it receives too.
        assert inv.sdp_codecs() == ["PCMU"]
        assert NAT_PRIVATE not in dlg.final.body
        to_device_side, to_carrier_side = sdp_media(inv.body), sdp_media(dlg.final.body)
        # The phone's packets come from device.port, not the advertised 10.0.0.5:4000.
        device.stream(to_device_side, 1.0)
        carrier.stream(to_carrier_side, 1.0)
        device.wait_stream()
        carrier.wait_stream()
        carrier.wait_received(40)
        device.wait_received(30)
        assert dlg.call_id in rtpengine.calls()
        carriers["value"].bye(dlg)
    finally:
        phone.close()


def test_inbound_call_to_an_encrypted_account_reaches_the_device_as_srtp(
    kamailio: Kamailio, account, carriers, dialgate: RealDialgate
) -> None:
    user, password = account(encrypted_sip=True)
    did = _did(dialgate, user, "5145583002")
    assert kamailio.tls_port is not None
    phone = SipAgent(("127.0.0.1", kamailio.tls_port), transport="tls", domain=REALM,
                     uas=answer(srtp=True))
    try:
        assert phone.register(user, password)[-1].code == 200
        dlg = carriers["value"].invite(did, user="carrier")
        assert dlg.final is not None and dlg.final.code == 200, dlg.final
        inv = phone.wait_request("INVITE")
        assert " RTP/SAVP " in inv.body and "a=crypto:" in inv.body
        assert " RTP/AVP " in dlg.final.body and "a=crypto" not in dlg.final.body
        carriers["value"].bye(dlg)
    finally:
        phone.close()
