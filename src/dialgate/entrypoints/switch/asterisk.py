"""Export an account's advanced settings as Asterisk PJSIP configuration (endpoint, aor, auth),
for providers whose media servers are Asterisk."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dialgate.domain import settings as registry

# Dialgate codec names -> Asterisk codec names.
ASTERISK_CODECS = {"ulaw": "ulaw", "alaw": "alaw", "g729": "g729", "g722": "g722", "gsm": "gsm"}
# Dialgate DTMF modes -> PJSIP dtmf_mode ("auto" = RFC 4733, inband when the peer lacks it).
DTMF = {"auto": "auto", "rfc2833": "rfc4733", "inband": "inband", "info": "info"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def _nat_options(nat: str) -> list[str]:
    """NAT "yes"/"route": trust the source address for signalling and media (symmetric RTP,
    rport, rewritten Contact); "route" keeps the device's own media address (the provider
    routes media to it); "no"/"never": take the device's addresses as they are."""
    if nat == "yes":
        return ["rtp_symmetric=yes", "force_rport=yes", "rewrite_contact=yes"]
    if nat == "route":
        return ["rtp_symmetric=no", "force_rport=yes", "rewrite_contact=yes"]
    return ["rtp_symmetric=no", "force_rport=no", "rewrite_contact=no"]


def render_pjsip(name: str, effective_settings: Mapping[str, Any], realm: str) -> str:
    """Return the ``pjsip.conf`` sections for one account or sub account.

    ``effective_settings`` are the account's effective settings (sub-account overrides
    applied). The auth section carries only the HA1 digest (``md5_cred``) when the settings
    hold ``sip_password_ha1``; Dialgate never stores the plain SIP password.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid account name {name!r}")
    # A key missing from an older row reads as the registry's default, never a number of ours.
    s = {**registry.static_defaults(), **effective_settings}
    codecs = list(s["allowed_codecs"])
    encrypted = bool(s["encrypted_sip"])
    max_expiry = int(s["max_expiry"])
    rtp_timeout = int(s["rtp_timeout"])
    rtp_hold = int(s["rtp_hold_timeout"])
    dtmf = DTMF[str(s["dtmf_mode"])]

    if codecs == ["all"] or "all" in codecs:
        allow = ",".join(ASTERISK_CODECS.values())
    else:
        allow = ",".join(ASTERISK_CODECS[c] for c in codecs)

    endpoint = [
        f"[{name}]",
        "type=endpoint",
        "context=from-dialgate",
        f"aors={name}",
        f"auth={name}-auth",
        "disallow=all",
        f"allow={allow}",
        f"dtmf_mode={dtmf}",
        *_nat_options(str(s["nat"])),
        f"rtp_timeout={rtp_timeout}",
        f"rtp_timeout_hold={rtp_hold}",
    ]
    if encrypted:
        endpoint += ["transport=transport-tls", "media_encryption=sdes",
                     "media_encryption_optimistic=no"]
    else:
        endpoint += ["media_encryption=no"]
    callerid = s.get("callerid_number")
    if callerid:
        endpoint.append(f"callerid=<{callerid}>")

    aor = [f"[{name}]", "type=aor", "max_contacts=1", "remove_existing=yes",
           f"maximum_expiration={max_expiry}",
           f"default_expiration={min(registry.default('max_expiry'), max_expiry)}"]

    auth = [f"[{name}-auth]", "type=auth", f"username={name}", f"realm={realm}"]
    ha1 = s.get("sip_password_ha1")
    if ha1:
        auth += ["auth_type=md5", f"md5_cred={ha1}"]
    else:
        auth += ["auth_type=md5", "; md5_cred=<md5(username:realm:password), set by the provider>"]

    return "\n".join(["\n".join(endpoint), "\n".join(aor), "\n".join(auth)]) + "\n"
