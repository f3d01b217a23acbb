"""Asterisk PJSIP export: each advanced setting lands in the right PJSIP option."""

from __future__ import annotations

import pytest

from dialgate.entrypoints.switch.asterisk import render_pjsip

DEFAULTS = {"nat": "yes", "dtmf_mode": "auto", "allowed_codecs": ("all",),
            "encrypted_sip": False, "max_expiry": 3600, "rtp_timeout": 60,
            "rtp_hold_timeout": 600}


def sections(text: str) -> list[tuple[str, dict[str, str]]]:
    """PJSIP sections in order (names repeat: endpoint and aor share the account name)."""
    out: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        if line.startswith("["):
            out.append((line.strip("[]"), {}))
        elif "=" in line and not line.startswith(";"):
            key, _, value = line.partition("=")
            out[-1][1][key] = value
    return out


def test_endpoint_aor_and_auth_sections_are_emitted() -> None:
    conf = sections(render_pjsip("100000_office", DEFAULTS, "sip.test"))
    assert [(name, body["type"]) for name, body in conf] == [
        ("100000_office", "endpoint"), ("100000_office", "aor"), ("100000_office-auth", "auth")]
    auth = conf[2][1]
    assert auth["username"] == "100000_office" and auth["realm"] == "sip.test"


def test_nat_yes_enables_symmetric_rtp_rport_and_contact_rewrite() -> None:
    text = render_pjsip("100000", {**DEFAULTS, "nat": "yes"}, "r")
    assert "rtp_symmetric=yes" in text and "force_rport=yes" in text
    assert "rewrite_contact=yes" in text


@pytest.mark.parametrize("nat", ["no", "never"])
def test_nat_off_disables_all_three(nat: str) -> None:
    text = render_pjsip("100000", {**DEFAULTS, "nat": nat}, "r")
    assert "rtp_symmetric=no" in text and "force_rport=no" in text
    assert "rewrite_contact=no" in text


@pytest.mark.parametrize(("mode", "pjsip"), [("auto", "auto"), ("rfc2833", "rfc4733"),
                                             ("inband", "inband"), ("info", "info")])
def test_dtmf_mode_maps(mode: str, pjsip: str) -> None:
    assert f"dtmf_mode={pjsip}\n" in render_pjsip("100000", {**DEFAULTS, "dtmf_mode": mode}, "r")


def test_codecs_become_disallow_all_then_allow() -> None:
    text = render_pjsip("100000", {**DEFAULTS, "allowed_codecs": ("ulaw", "g729")}, "r")
    assert text.index("disallow=all") < text.index("allow=ulaw,g729")


def test_all_codecs_allows_every_catalog_codec() -> None:
    assert "allow=ulaw,alaw,g729,g722,gsm" in render_pjsip("100000", DEFAULTS, "r")


def test_encrypted_sip_uses_tls_transport_and_sdes() -> None:
    text = render_pjsip("100000", {**DEFAULTS, "encrypted_sip": True}, "r")
    assert "transport=transport-tls" in text and "media_encryption=sdes" in text
    plain = render_pjsip("100000", DEFAULTS, "r")
    assert "transport-tls" not in plain and "media_encryption=no" in plain


def test_max_expiry_and_rtp_timeouts() -> None:
    text = render_pjsip("100000", {**DEFAULTS, "max_expiry": 300, "rtp_timeout": 30,
                                   "rtp_hold_timeout": 900}, "r")
    assert "maximum_expiration=300" in text
    assert "rtp_timeout=30\n" in text and "rtp_timeout_hold=900" in text


def test_ha1_is_used_when_known_and_no_plain_password_ever() -> None:
    text = render_pjsip("100000", {**DEFAULTS, "sip_password_ha1": "0" * 32,
                                   "sip_password": "Plain-Text-1"}, "r")
    assert "md5_cred=" + "0" * 32 in text
    assert "Plain-Text-1" not in text


def test_bad_account_name_is_refused() -> None:
    with pytest.raises(ValueError):
        render_pjsip("100000]\n[evil", DEFAULTS, "r")
