"""The media rules of a call, as rtpengine flags: pure functions of the account's settings.

Kamailio hands every SDP of a call to rtpengine (offer, answer, delete); what rtpengine does
with it is decided here, from the account's Advanced settings, and travels to the switch in the
authorize answer (``sip.media``). Nothing about it is written by hand per POP.

Four flag strings, one per kind of SDP (who sent it, and whether it is an offer or an answer):

- ``device_offer``: the device offers (an outbound INVITE, or a re-INVITE from the device).
  NAT: ``yes``/``route`` ignore the address in the SDP and use the one the packets come from
  (``SIP-source-address``; rtpengine is symmetric by default, so it answers to where the
  device's RTP really comes from); ``no`` trusts the SDP address. The carrier always gets
  plain ``RTP/AVP`` (an SRTP device leg is bridged); the codec list is cut to the allowed
  codecs, and telephone-event is kept or removed by the DTMF mode.
- ``device_answer``: the device answers (an inbound call, or a re-INVITE from the carrier).
- ``carrier_offer``: the carrier offers toward the device: the device gets SRTP (SDES) when the
  account is encrypted, plain RTP otherwise, and only the allowed codecs.
- ``carrier_answer``: the carrier answers; carriers are trusted, not NATed.

``nat = never`` with encryption off leaves the SDP alone: no media anchoring at all (the seed's
"Never": no NAT handling of any kind). Codec, DTMF and RTP time-out rules then cannot apply,
because the media does not pass through the POP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Dialgate's codec names (settings registry) -> the SDP encoding names rtpengine matches.
SDP_CODECS: Mapping[str, str] = {
    "ulaw": "PCMU",
    "alaw": "PCMA",
    "g729": "G729",
    "g722": "G722",
    "gsm": "GSM",
}
DTMF_EVENT = "telephone-event"
# DTMF modes in which RFC 2833 events must not be negotiated: the digits travel in the audio
# (inband) or in SIP INFO requests.
_NO_EVENTS = frozenset({"inband", "info"})
_COMMON = ("replace-origin", "replace-session-connection", "ICE=remove")


@dataclass(frozen=True, slots=True)
class MediaRules:
    """What the switch needs to anchor one account's calls at rtpengine."""

    anchor: bool
    device_offer: str
    device_answer: str
    carrier_offer: str
    carrier_answer: str

    def to_json(self) -> dict[str, object]:
        return {
            "anchor": self.anchor,
            "device_offer": self.device_offer,
            "device_answer": self.device_answer,
            "carrier_offer": self.carrier_offer,
            "carrier_answer": self.carrier_answer,
        }


def codec_flags(allowed_codecs: Iterable[str], dtmf_mode: str) -> list[str]:
    """Offer flags that leave only the allowed codecs (and telephone-event unless the DTMF
    mode forbids it). ``all`` keeps every audio codec offered."""
    allowed = list(allowed_codecs)
    keep_events = dtmf_mode not in _NO_EVENTS
    if not allowed or "all" in allowed:
        return [] if keep_events else [f"codec-strip={DTMF_EVENT}"]
    flags = ["codec-strip=all"]
    flags += [f"codec-except={SDP_CODECS[c]}" for c in allowed if c in SDP_CODECS]
    if keep_events:
        flags.append(f"codec-except={DTMF_EVENT}")
    return flags


def _source(nat: str) -> str:
    return "SIP-source-address" if nat in ("yes", "route") else "trust-address"


def media_rules(
    *, nat: str, encrypted_sip: bool, allowed_codecs: Iterable[str], dtmf_mode: str
) -> MediaRules:
    """The rtpengine flags for every SDP of a call of this account (see the module doc)."""
    codecs = codec_flags(allowed_codecs, dtmf_mode)
    device_proto = "RTP/SAVP" if encrypted_sip else "RTP/AVP"
    source = _source(nat)
    return MediaRules(
        anchor=nat != "never" or encrypted_sip,
        device_offer=" ".join([*_COMMON, source, "RTP/AVP", *codecs]),
        device_answer=" ".join([*_COMMON, source]),
        carrier_offer=" ".join([*_COMMON, "trust-address", device_proto, *codecs]),
        carrier_answer=" ".join([*_COMMON, "trust-address"]),
    )


# A call between two carriers (a DID forwarded to a number, or sent to the media server): both
# sides are trusted, plain RTP, every codec.
CARRIER_LEG = MediaRules(
    anchor=True,
    device_offer=" ".join([*_COMMON, "trust-address", "RTP/AVP"]),
    device_answer=" ".join([*_COMMON, "trust-address"]),
    carrier_offer=" ".join([*_COMMON, "trust-address", "RTP/AVP"]),
    carrier_answer=" ".join([*_COMMON, "trust-address"]),
)


# -- RTP time-outs ------------------------------------------------------------------------------


def is_on_hold(directions: Iterable[tuple[bool, bool]]) -> bool:
    """A call is on hold when some party's media is not both sending and receiving
    (``a=sendonly``, ``a=recvonly`` or ``a=inactive``). ``directions`` holds one
    ``(send, recv)`` pair per media of every party."""
    pairs = list(directions)
    return bool(pairs) and not all(send and recv for send, recv in pairs)


def rtp_limit(*, on_hold: bool, rtp_timeout: int, rtp_hold_timeout: int) -> int:
    """Seconds of silence a call may have: the hold time-out applies while it is on hold."""
    return rtp_hold_timeout if on_hold else rtp_timeout


def rtp_timed_out(silence_s: float, limit_s: int) -> bool:
    """True once no RTP has arrived for longer than the limit."""
    return silence_s >= limit_s
