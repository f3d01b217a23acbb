"""``dialgate switch kamailio-config`` and ``dialgate switch asterisk-pjsip`` (in process,
Typer's runner): the config Kamailio accepts, the token it carries works, the PJSIP export
holds digests and never a password."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from dialgate.adapters.db.models import SubscriberRow
from dialgate.services import apikeys
from dialgate.services.uow import Database
from tests.support.cli import run

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
REALM = "sip.dialgate.test"


def _kamailio_accepts(cfg: Path) -> None:
    out = subprocess.run([KAMAILIO, "-c", "-f", str(cfg)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr


def test_kamailio_config_creates_a_working_token_and_points_at_the_database(
    sqlite_url: str, tmp_path: Path
) -> None:
    run(sqlite_url, "demo")
    cfg = tmp_path / "kamailio.cfg"
    out = run(sqlite_url, "switch", "kamailio-config", "--pop", "montreal1",
                   "--listen", "127.0.0.1", "--port", "25060",
                   "--carrier-value", "sip:198.51.100.10:5060",
                   "--carrier-premium", "sip:198.51.100.20",
                   "--carrier-tollfree-us", "sip:203.0.113.5", "--carrier-tollfree-ca",
                   "sip:203.0.113.6", "--switch-url", "http://127.0.0.1:28000",
                   "--rundir", str(tmp_path), "--output", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "created switch token sw_" in out.stderr
    text = cfg.read_text()
    assert cfg.stat().st_mode & 0o077 == 0
    assert f'"auth_db", "db_url", "sqlite://{sqlite_url.removeprefix("sqlite:///")}"' in text
    assert 'POP "montreal1"' in text
    token = text.split("dialgate=>http://kamailio:", 1)[1].split("@", 1)[0]
    db = Database(sqlite_url)
    try:
        with db.uow(write=False) as uow:
            assert apikeys.authenticate_switch_token(uow, token).name == "kamailio-montreal1"
    finally:
        db.dispose()
    for uri in ("198.51.100.20", "203.0.113.5", "203.0.113.6"):
        assert uri in text
    # The default transport: evapi on 127.0.0.1:8448, only Dialgate's host may connect.
    assert 'modparam("evapi", "bind_addr", "127.0.0.1:8448")' in text
    assert '$evapi(srcaddr) ne "127.0.0.1"' in text and "t_set_fr(800, 800)" in text
    _kamailio_accepts(cfg)


def test_kamailio_config_transport_options(sqlite_url: str, tmp_path: Path) -> None:
    run(sqlite_url, "demo")
    common = ("switch", "kamailio-config", "--pop", "p1", "--carrier-value",
              "sip:198.51.100.10", "--token", "sw_given.Token-123", "--rundir", str(tmp_path))
    http = run(sqlite_url, *common, "--transport", "http")
    assert http.returncode == 0, http.stderr
    assert "evapi" not in http.stdout
    assert 'async_task_group_route("AUTHORIZE", "switch")' in http.stdout
    evapi = run(sqlite_url, *common, "--evapi-listen", "10.0.0.5:9448", "--evapi-peer",
                     "10.0.0.7", "--evapi-peer", "10.0.0.8", "--authorize-timeout-ms", "500")
    assert evapi.returncode == 0, evapi.stderr
    assert '"bind_addr", "10.0.0.5:9448"' in evapi.stdout
    assert '$evapi(srcaddr) ne "10.0.0.7" && $evapi(srcaddr) ne "10.0.0.8"' in evapi.stdout
    assert "t_set_fr(500, 500)" in evapi.stdout
    # Call records go where --records-url says, with the same token; by default to the switch.
    assert 'http_connect("records", "/switch/v1/cdrs"' in evapi.stdout
    assert '"records=>http://kamailio:sw_given.Token-123@127.0.0.1:8000"' in evapi.stdout
    split = run(sqlite_url, *common, "--records-url", "http://10.0.0.9:8002")
    assert split.returncode == 0, split.stderr
    assert '"records=>http://kamailio:sw_given.Token-123@10.0.0.9:8002"' in split.stdout
    assert '"dialgate=>http://kamailio:sw_given.Token-123@127.0.0.1:8000"' in split.stdout
    for bad, message in ((("--transport", "smoke"), "transport must be one of"),
                         (("--authorize-timeout-ms", "5"), "authorize_timeout_ms"),
                         (("--evapi-listen", "localhost"), "evapi_listen"),
                         (("--evapi-peer", "dialgate.example"), "evapi peer"),
                         (("--records-url", "ftp://10.0.0.9"), "records_url"),
                         (("--decision", "coin"), "decision must be one of")):
        out = run(sqlite_url, *common, *bad)
        assert out.returncode == 2 and message in out.stderr, (bad, out.stderr)


def test_kamailio_config_with_a_given_token_and_tls(sqlite_url: str, tmp_path: Path) -> None:
    run(sqlite_url, "demo")
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=pop"],
                   check=True, capture_output=True)
    cfg = tmp_path / "out" / "kamailio.cfg"
    cfg.parent.mkdir()
    out = run(sqlite_url, "switch", "kamailio-config", "--pop", "toronto1",
                   "--carrier-value", "sip:198.51.100.10", "--token", "sw_given.Token-123",
                   "--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", "25061",
                   "--port", "25062", "--rundir", str(tmp_path), "--output", str(cfg))
    assert out.returncode == 0, out.stderr
    assert "created switch token" not in out.stderr
    text = cfg.read_text()
    assert "kamailio:sw_given.Token-123@" in text and "listen=tls:127.0.0.1:25061" in text
    assert f"certificate = {cert}" in (cfg.parent / "tls.cfg").read_text()
    _kamailio_accepts(cfg)


def test_kamailio_config_refuses_bad_options_without_leaving_a_token(
    sqlite_url: str, tmp_path: Path
) -> None:
    run(sqlite_url, "demo")
    bad = run(sqlite_url, "switch", "kamailio-config", "--pop", "bad pop",
                   "--carrier-value", "sip:198.51.100.10", "--rundir", str(tmp_path))
    assert bad.returncode == 2 and "invalid POP name" in bad.stderr
    not_sip = run(sqlite_url, "switch", "kamailio-config", "--pop", "p1",
                       "--carrier-value", "http://x", "--rundir", str(tmp_path))
    assert not_sip.returncode == 2 and "not a SIP URI" in not_sip.stderr
    half_tls = run(sqlite_url, "switch", "kamailio-config", "--pop", "p1",
                        "--carrier-value", "sip:198.51.100.10", "--tls-cert", "/x.pem")
    assert half_tls.returncode == 2
    missing = run(sqlite_url, "switch", "kamailio-config", "--pop", "p1")
    assert missing.returncode == 2 and "carrier-value" in missing.stderr
    shared_on_sqlite = run(sqlite_url, "switch", "kamailio-config", "--pop", "p1",
                                "--carrier-value", "sip:198.51.100.10", "--rundir",
                                str(tmp_path), "--registrations", "shared")
    assert shared_on_sqlite.returncode == 2
    assert "registrations in the database need PostgreSQL" in shared_on_sqlite.stderr
    assert run(sqlite_url, "switch", "token", "list", "--json").stdout.strip() == "[]"


def test_kamailio_config_prints_to_stdout(sqlite_url: str, tmp_path: Path) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "switch", "kamailio-config", "--pop", "montreal1",
                   "--carrier-value", "sip:198.51.100.10", "--token", "sw_x.abcdefgh",
                   "--rundir", str(tmp_path))
    assert out.returncode == 0 and out.stdout.startswith("#!KAMAILIO")


def test_asterisk_pjsip_export_of_a_sub_account_carries_its_digest(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    assert run(sqlite_url, "settings", "set", "100000_office", "allowed_codecs=ulaw,g722",
                    "dtmf_mode=inband", "nat=no", "max_expiry=600",
                    "encrypted_sip=true").returncode == 0
    out = run(sqlite_url, "switch", "asterisk-pjsip", "100000_office")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    expected_ha1 = hashlib.md5(f"100000_office:{REALM}:OfficePass123".encode()).hexdigest()
    db = Database(sqlite_url)
    try:
        with db.uow(write=False) as uow:
            stored = uow.session.scalars(
                select(SubscriberRow.ha1).where(SubscriberRow.username == "100000_office")
            ).one()
    finally:
        db.dispose()
    assert stored == expected_ha1
    assert f"md5_cred={expected_ha1}" in text
    assert "OfficePass123" not in text and "password=" not in text
    for line in ("[100000_office]", "allow=ulaw,g722", "dtmf_mode=inband", "rtp_symmetric=no",
                 "maximum_expiration=600", "transport=transport-tls", "media_encryption=sdes",
                 "callerid=<5145550100>"):
        assert line in text, line


def test_asterisk_pjsip_of_an_unknown_account_exits_2(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "switch", "asterisk-pjsip", "999999")
    assert out.returncode == 2 and "not found" in out.stderr


def test_rtpengine_config_and_kamailio_config_make_a_pair(sqlite_url: str, tmp_path: Path) -> None:
    run(sqlite_url, "demo")
    conf = tmp_path / "rtpengine.conf"
    out = run(sqlite_url, "switch", "rtpengine-config", "--interface", "203.0.113.10",
                   "--listen-ng", "127.0.0.1:2223", "--port-min", "30000", "--port-max",
                   "31000", "--output", str(conf))
    assert out.returncode == 0, out.stderr
    assert "listen-ng = 127.0.0.1:2223" in conf.read_text().splitlines()
    cfg = tmp_path / "kamailio.cfg"
    out = run(sqlite_url, "switch", "kamailio-config", "--pop", "montreal1",
                   "--carrier-value", "sip:198.51.100.10", "--token", "sw_x.abcdefgh",
                   "--rundir", str(tmp_path), "--rtpengine", "udp:127.0.0.1:2223=3",
                   "--rtpengine", "udp:127.0.0.1:2224", "--output", str(cfg))
    assert out.returncode == 0, out.stderr
    assert '"rtpengine_sock", "udp:127.0.0.1:2223=3 udp:127.0.0.1:2224"' in cfg.read_text()
    _kamailio_accepts(cfg)
    bad = run(sqlite_url, "switch", "rtpengine-config", "--interface", "not-an-ip")
    assert bad.returncode == 2 and "not an IP address" in bad.stderr


def test_kamailio_config_without_rtpengine_warns_that_media_rules_are_off(
    sqlite_url: str, tmp_path: Path
) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "switch", "kamailio-config", "--pop", "montreal1",
                   "--carrier-value", "sip:198.51.100.10", "--token", "sw_x.abcdefgh",
                   "--rundir", str(tmp_path))
    assert out.returncode == 0 and "no --rtpengine" in out.stderr
    bad = run(sqlite_url, "switch", "kamailio-config", "--pop", "montreal1",
                   "--carrier-value", "sip:198.51.100.10", "--token", "sw_x.abcdefgh",
                   "--rundir", str(tmp_path), "--rtpengine", "127.0.0.1:2223")
    assert bad.returncode == 2 and "rtpengine" in bad.stderr
