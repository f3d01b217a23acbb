"""The generated config is accepted by `kamailio -c` in every variant we ship."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dialgate.entrypoints.switch.kamailio import (
    kamailio_db_url,
    render_kamailio_config,
    write_kamailio_files,
)

from .conftest import KAMAILIO

CARRIERS = {"value": "sip:198.51.100.10:5060", "premium": "sip:198.51.100.20",
            "tollfree_us": "sip:tf-us.example.net:5060;transport=udp",
            "tollfree_ca": "sip:203.0.113.7:5080"}


def _options(tmp_path: Path, **kw: object) -> dict[str, object]:
    opts: dict[str, object] = {
        "pop": "montreal1", "listen": "127.0.0.1", "port": 25060,
        "db_url": f"sqlite:///{tmp_path / 'd.db'}", "switch_url": "http://127.0.0.1:28000",
        "switch_token": "tok_abcdefgh12345", "realm": "sip.dialgate.test",
        "carriers": CARRIERS, "ctl_socket": str(tmp_path / "ctl"), "rundir": str(tmp_path),
        "async_workers": 4, "http_timeout_s": 1}
    opts.update(kw)
    return opts


def _check(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAMAILIO, "-c", "-f", str(cfg)], capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("db_url", [
    "sqlite:///{tmp}/dialgate.db",
    "postgresql+psycopg://dialgate:s3cr%40t@127.0.0.1:25432/dialgate",
    "postgresql://127.0.0.1/dialgate",
])
def test_kamailio_accepts_the_config_for_each_database(tmp_path: Path, db_url: str) -> None:
    cfg = write_kamailio_files(tmp_path, **_options(tmp_path, db_url=db_url.format(tmp=tmp_path)))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cfg.read_text()
    expected_module = "db_sqlite" if db_url.startswith("sqlite") else "db_postgres"
    assert f'loadmodule "{expected_module}.so"' in text


def test_kamailio_accepts_the_tls_variant(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=pop"],
                   check=True, capture_output=True)
    cfg = write_kamailio_files(tmp_path, **_options(tmp_path, tls_cert=str(cert),
                                                    tls_key=str(key), tls_port=25061))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tls: 127.0.0.1" in result.stdout + result.stderr
    assert f"certificate = {cert}" in (tmp_path / "tls.cfg").read_text()


def test_kamailio_accepts_the_bare_benchmark_variant(tmp_path: Path) -> None:
    cfg = write_kamailio_files(tmp_path, **_options(tmp_path, bare=True, pike_density=None))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pike_check_req" not in cfg.read_text()


def test_kamailio_accepts_the_fixed_decision_benchmark_variant(tmp_path: Path) -> None:
    answer = '{"allow":false,"sip_code":403,"message":"It\'s \\"refused\\""}'
    cfg = write_kamailio_files(tmp_path, **_options(
        tmp_path, decision="fixed", fixed_answers={"500001_011442": answer}))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cfg.read_text()
    assert 'http_connect("dialgate", "/switch/v1/authorize"' not in text.split(
        "\nroute[AUTHORIZE] {")[1].split("\nfailure_route")[0]
    assert '$sht(fixedaz=>500001_011442) = "{\\"allow\\":false' in text


@pytest.mark.parametrize(("options", "field"), [
    ({"decision": "guess"}, "decision"),
    ({"fixed_answers": {"1_2": "{}"}}, "fixed_answers need"),
    ({"decision": "fixed", "fixed_answers": {"bad key": "{}"}}, "key"),
    ({"decision": "fixed", "fixed_answers": {"1_2": "{not json"}}, "not JSON"),
])
def test_fixed_decision_refuses_bad_input(tmp_path: Path, options: dict[str, object],
                                          field: str) -> None:
    with pytest.raises(ValueError, match=field):
        render_kamailio_config(**_options(tmp_path, **options))  # type: ignore[arg-type]


def test_config_file_is_private(tmp_path: Path) -> None:
    cfg = write_kamailio_files(tmp_path, **_options(tmp_path))
    assert cfg.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg://u:p%40ss@db.example:5433/dialgate",
     "postgres://u:p%40ss@db.example:5433/dialgate"),
    ("postgresql://u@127.0.0.1/dg", "postgres://u@127.0.0.1/dg"),
    ("sqlite:////var/lib/dialgate/d.db", "sqlite:///var/lib/dialgate/d.db"),
])
def test_sqlalchemy_urls_become_kamailio_urls(url: str, expected: str) -> None:
    assert kamailio_db_url(url) == expected


def test_relative_sqlite_path_is_made_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert kamailio_db_url("sqlite:///var/d.db") == f"sqlite://{tmp_path}/var/d.db"


@pytest.mark.parametrize("bad", [
    {"switch_token": "has:colon-and@at"}, {"switch_token": "short"},
    {"carriers": {"value": "http://x"}}, {"carriers": {"cheap": "sip:1.2.3.4"}},
    {"pop": "bad pop"}, {"http_timeout_s": 0}, {"tls_cert": "/c.pem"},
    {"db_url": "mysql://x/y"}, {"db_url": "sqlite://"}, {"cdr_batch": 0}, {"cdr_batch": 501},
    {"registrations": "disk"}, {"registrations": "database"}, {"registrations": "shared"},
    {"server_id": -1}, {"dialogs": "disk"}, {"dialogs": "shared"},
])
def test_invalid_options_are_refused(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        render_kamailio_config(**_options(tmp_path, **bad))  # type: ignore[arg-type]


def test_switch_token_goes_into_the_persistent_connection(tmp_path: Path) -> None:
    text = render_kamailio_config(**_options(tmp_path))  # type: ignore[arg-type]
    assert ('"dialgate=>http://kamailio:tok_abcdefgh12345@127.0.0.1:28000"' in text)
    assert text.index('"authmethod", 1') < text.index('"httpcon"')
    assert text.index('"connection_timeout"') < text.index('"httpcon"')


PG = "postgresql+psycopg://dialgate@127.0.0.1:25432/dialgate"


@pytest.mark.parametrize(("db_url", "registrations", "db_mode"), [
    ("sqlite:///{tmp}/d.db", None, 0),  # SQLite: one writer, Kamailio keeps them in memory
    (PG, None, 1), (PG, "memory", 0), (PG, "database", 1), (PG, "shared", 3),
])
def test_registrations_are_kept_where_asked_and_the_config_is_valid(
    tmp_path: Path, db_url: str, registrations: str | None, db_mode: int
) -> None:
    opts = _options(tmp_path, db_url=db_url.format(tmp=tmp_path), registrations=registrations,
                    server_id=7)
    cfg = write_kamailio_files(tmp_path, **opts)
    text = cfg.read_text()
    assert f'modparam("usrloc", "db_mode", {db_mode})' in text
    assert "server_id=7" in text
    assert ('modparam("usrloc", "db_url"' in text) == (db_mode != 0)
    assert ('"server_id_filter", 1' in text) == (db_mode == 1)
    assert _check(cfg).returncode == 0, _check(cfg).stderr


def test_kamailio_accepts_the_media_variant_with_weighted_rtpengines(tmp_path: Path) -> None:
    cfg = write_kamailio_files(tmp_path, **_options(
        tmp_path, rtpengines=["udp:127.0.0.1:2223=2", "udp:10.0.0.8:2223=1"],
        moh_dir="/usr/share/dialgate/moh"))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cfg.read_text()
    assert '"rtpengine_sock", "udp:127.0.0.1:2223=2 udp:10.0.0.8:2223=1"' in text
    assert f'"dgram_socket", "{tmp_path}/kamailio_rpc.sock"' in text
    # rtpengine does the codec and DTMF work now: no SDP text editing is left.
    assert "sdp_keep_codecs_by_name" not in text and "sdpops" not in text


def test_without_rtpengine_no_media_module_is_loaded(tmp_path: Path) -> None:
    text = render_kamailio_config(**_options(tmp_path))  # type: ignore[arg-type]
    assert 'loadmodule "rtpengine.so"' not in text and "rtpengine_offer" not in text


@pytest.mark.parametrize("bad", [
    {"rtpengines": ["127.0.0.1:2223"]}, {"rtpengines": ["udp:127.0.0.1:2223=x"]},
    {"rtpengines": ["udp:127.0.0.1"]}, {"rtpengines": ["udp:127.0.0.1:2223"],
                                        "moh_dir": "relative/moh"},
    {"rtpengines": ["udp:127.0.0.1:2223"], "rtpengine_disable_s": 0},
])
def test_invalid_media_options_are_refused(tmp_path: Path, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        render_kamailio_config(**_options(tmp_path, **bad))  # type: ignore[arg-type]


def test_the_largest_cdr_batch_fits_the_smallest_body_limit(tmp_path: Path) -> None:
    """A batch is built in one pv buffer, so its size is bounded by the buffer's; the smallest
    body limit Dialgate accepts (DIALGATE_MAX_BODY_BYTES) must take the largest batch."""
    import re

    from dialgate.config import MIN_BODY_BYTES

    text = render_kamailio_config(**_options(tmp_path, cdr_batch=500))  # type: ignore[arg-type]
    match = re.search(r"^pv_buffer_size=(\d+)", text, re.MULTILINE)
    assert match is not None
    assert int(match.group(1)) <= MIN_BODY_BYTES


@pytest.mark.parametrize(("db_url", "db_mode"), [("sqlite:///{tmp}/d.db", 3), (PG, 1)])
def test_dialogs_in_the_database_keep_calls_and_records_across_restarts(
    tmp_path: Path, db_url: str, db_mode: int
) -> None:
    url = db_url.format(tmp=tmp_path)
    memory = render_kamailio_config(**_options(tmp_path, db_url=url))  # type: ignore[arg-type]
    assert 'modparam("dialog", "db_mode"' not in memory and "dbmode" not in memory
    text = render_kamailio_config(  # type: ignore[arg-type]
        **_options(tmp_path, db_url=url, dialogs="database"))
    # PostgreSQL: every change written at once; SQLite (one writer): written at shutdown.
    assert f'modparam("dialog", "db_mode", {db_mode})' in text
    assert "name=cdr;size=100000;dbmode=1" in text and "name=cdrsending;size=1;dbmode=1" in text
    # Ended calls' rows are deleted by the config itself only where writes can wait (PG).
    assert ('loadmodule "sqlops.so"' in text) == (db_mode == 1)


def test_kamailio_accepts_dialogs_in_a_migrated_sqlite_database(tmp_path: Path) -> None:
    from dialgate.adapters.db import migrate

    url = f"sqlite:///{tmp_path / 'd.db'}"
    migrate.upgrade(url)  # mqueue reads its tables while the config is parsed
    cfg = write_kamailio_files(tmp_path, **_options(tmp_path, db_url=url, dialogs="database"))
    result = _check(cfg)
    assert result.returncode == 0, result.stdout + result.stderr
