"""The media plane: rtpengine anchors calls with each account's rules (NAT, SRTP, codecs, DTMF).

Real Kamailio, real Dialgate, real rtpengine; the phone and the carrier are test agents whose
RTP is real UDP (``RtpPeer``), counted on the receiving side.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import REALM, Kamailio
from .media import RtpengineProcess, RtpPeer, sdp_media
from .sip.sipclient import SipAgent, answer, make_sdp

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
