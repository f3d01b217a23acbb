"""The media rules (domain/media.py), rtpengine.conf, the shipped music-on-hold files and the
media watcher's reading of Kamailio's and rtpengine's answers."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from dialgate.adapters.moh_audio import RATE, shipped_moh_dir, write_moh_files
from dialgate.domain.billing import parse_record
from dialgate.domain.catalogs import MUSIC_ON_HOLD
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.media import codec_flags, is_on_hold, media_rules, rtp_limit, rtp_timed_out
from dialgate.entrypoints.switch.rtpengine import GLOBAL_TIMEOUT_S, render_rtpengine_config
from dialgate.services.media_watch import MediaWatcher, rtp_packets


def test_allowed_codecs_become_strip_all_except_in_offer_order() -> None:
    assert codec_flags(["ulaw", "g729"], "rfc2833") == [
        "codec-strip=all", "codec-except=PCMU", "codec-except=G729",
        "codec-except=telephone-event"]


@pytest.mark.parametrize(("dtmf", "events"), [("auto", True), ("rfc2833", True),
                                              ("inband", False), ("info", False)])
def test_dtmf_mode_keeps_or_strips_telephone_event(dtmf: str, events: bool) -> None:
    flags = codec_flags(["alaw"], dtmf)
    assert ("codec-except=telephone-event" in flags) == events
    assert codec_flags(["all"], dtmf) == ([] if events else ["codec-strip=telephone-event"])


@pytest.mark.parametrize(("nat", "source", "anchor"), [
    ("yes", "SIP-source-address", True), ("route", "SIP-source-address", True),
    ("no", "trust-address", True), ("never", "trust-address", False)])
def test_nat_mode_decides_whose_address_rtpengine_believes(
    nat: str, source: str, anchor: bool
) -> None:
    rules = media_rules(nat=nat, encrypted_sip=False, allowed_codecs=["all"], dtmf_mode="auto")
    assert rules.anchor is anchor
    assert source in rules.device_offer.split() and source in rules.device_answer.split()
    # Carriers are trusted whatever the device's NAT mode.
    assert "trust-address" in rules.carrier_answer.split()


def test_encryption_gives_the_device_srtp_and_the_carrier_plain_rtp() -> None:
    rules = media_rules(nat="never", encrypted_sip=True, allowed_codecs=["all"],
                        dtmf_mode="auto")
    assert rules.anchor  # bridging SRTP needs the relay even with nat=never
    assert "RTP/AVP" in rules.device_offer.split()
    assert "RTP/SAVP" in rules.carrier_offer.split()
    plain = media_rules(nat="yes", encrypted_sip=False, allowed_codecs=["all"],
                        dtmf_mode="auto")
    assert "RTP/AVP" in plain.carrier_offer.split()


def test_hold_and_limits() -> None:
    assert not is_on_hold([(True, True), (True, True)])
    assert is_on_hold([(True, True), (True, False)])
    assert not is_on_hold([])
    assert rtp_limit(on_hold=True, rtp_timeout=2, rtp_hold_timeout=9) == 9
    assert rtp_limit(on_hold=False, rtp_timeout=2, rtp_hold_timeout=9) == 2
    assert rtp_timed_out(2.0, 2) and not rtp_timed_out(1.99, 2)


def test_rtpengine_conf_is_userspace_with_timeouts_above_every_account() -> None:
    text = render_rtpengine_config(interfaces=["pub/203.0.113.5!198.51.100.5"],
                                   listen_ng="127.0.0.1:2223", port_min=30000, port_max=31000)
    lines = text.splitlines()
    assert "[rtpengine]" in lines and "table = -1" in lines and "no-fallback = false" in lines
    assert "interface = pub/203.0.113.5!198.51.100.5" in lines
    assert "listen-ng = 127.0.0.1:2223" in lines
    assert GLOBAL_TIMEOUT_S > 3600 and f"timeout = {GLOBAL_TIMEOUT_S}" in lines
    kernel = render_rtpengine_config(interfaces=["10.0.0.1"], kernel=True).splitlines()
    assert "table = 0" in kernel and "no-fallback = true" in kernel


@pytest.mark.parametrize("bad", [
    {"interfaces": []}, {"interfaces": ["not-an-ip"]}, {"interfaces": ["bad name/10.0.0.1"]},
    {"listen_ng": "127.0.0.1"}, {"port_min": 40000, "port_max": 30000},
    {"port_min": 30000, "port_max": 30010}, {"log_level": 9},
])
def test_bad_rtpengine_options_are_refused(bad: dict[str, object]) -> None:
    options: dict[str, object] = {"interfaces": ["127.0.0.1"], **bad}
    with pytest.raises(ValueError):
        render_rtpengine_config(**options)  # type: ignore[arg-type]


def test_shipped_moh_files_are_exactly_what_the_generator_writes(tmp_path: Path) -> None:
    written = write_moh_files(tmp_path)
    assert sorted(p.name for p in written) == sorted(f"{m.key}.wav" for m in MUSIC_ON_HOLD)
    for path in written:
        assert (shipped_moh_dir() / path.name).read_bytes() == path.read_bytes()
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (RATE, 1, 2 * RATE)
    # Each class sounds different.
    assert len({p.read_bytes() for p in written}) == len(written)


def test_call_record_end_reason_is_checked() -> None:
    base = {"call_id": "c1", "account": "100000", "dialed": "5145551234",
            "started_at": "2026-01-01T00:00:00Z", "answered_at": "2026-01-01T00:00:01Z",
            "ended_at": "2026-01-01T00:00:09Z", "disposition": "answered"}
    assert parse_record({**base, "end_reason": "rtp_timeout"}).end_reason == "rtp_timeout"
    assert parse_record(base).end_reason is None
    with pytest.raises(ValidationFailed) as exc:
        parse_record({**base, "end_reason": "bored"})
    assert [(e.field, e.code) for e in exc.value.errors] == [("end_reason", "invalid_choice")]


# -- the watcher's reading of real answer shapes ---------------------------------------------


class _Kamailio:
    """Answers in the shapes Kamailio 5.6's jsonrpcs gives (recorded from the e2e POP)."""

    def __init__(self) -> None:
        self.limits = {"call-a": "2:10"}
        self.held: set[str] = set()
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def call(self, method: str, *params: object) -> object:
        self.calls.append((method, params))
        if method == "htable.dump":
            table = self.limits if params[0] == "rtplimits" else dict.fromkeys(self.held, 1)
            return [{"entry": 1, "size": len(table), "slot": [
                {"name": k, "value": v, "type": "str"} for k, v in table.items()]}]
        if method == "dlg.list":
            return [{"h_entry": 7, "h_id": 9, "call-id": "call-a", "state": 4},
                    {"h_entry": 1, "h_id": 2, "call-id": "ringing", "state": 2}]
        return None


class _Relay:
    def __init__(self) -> None:
        self.packets = 0

    def request(self, command: str, **params: object) -> dict[str, object]:
        if command == "list":
            return {"calls": ["call-a", "ringing"], "result": "ok"}
        return {"totals": {"RTP": {"packets": self.packets}, "RTCP": {"packets": 3}},
                "result": "ok"}


def test_watcher_ends_a_call_once_its_packets_stop_for_its_limit() -> None:
    now = [100.0]
    kam, relay = _Kamailio(), _Relay()
    watcher = MediaWatcher(kam, [relay], clock=lambda: now[0])
    for _ in range(4):  # packets keep moving: never ended
        relay.packets += 50
        now[0] += 1.0
        assert watcher.tick() == []
    now[0] += 1.9
    assert watcher.tick() == []
    now[0] += 0.1
    ended = watcher.tick()
    assert [(e.call_id, e.limit_s, e.on_hold) for e in ended] == [("call-a", 2, False)]
    assert ("htable.sets", ("mediaend", "call-a", "rtp_timeout")) in kam.calls
    assert kam.calls[-1] == ("dlg.end_dlg", (7, 9))


def test_watcher_uses_the_hold_limit_while_held() -> None:
    now = [0.0]
    kam, relay = _Kamailio(), _Relay()
    kam.held.add("call-a")
    watcher = MediaWatcher(kam, [relay], clock=lambda: now[0])
    assert watcher.tick() == []
    now[0] = 9.9
    assert watcher.tick() == []
    now[0] = 10.0
    assert [e.on_hold for e in watcher.tick()] == [True]


def test_rtp_packets_ignores_rtcp() -> None:
    assert rtp_packets({"totals": {"RTP": {"packets": 5}, "RTCP": {"packets": 9}}}) == 5
    assert rtp_packets({}) == 0
