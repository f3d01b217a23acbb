"""``dialgate doctor`` against a healthy node (migrated database, SMTP server, a running
Kamailio's RPC and a running rtpengine) and against broken ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from dialgate.adapters.db import migrate
from dialgate.entrypoints.cli import ops
from tests.ops.support import base_env
from tests.support.pg import free_port as tcp_port
from tests.support.smtp import SmtpServer
from tests.support.smtp import free_port as smtp_port

from .conftest import StartKamailio
from .media import RtpengineProcess
from .sip.sipclient import free_port as udp_port

RTPENGINE = shutil.which("rtpengine") or "/usr/bin/rtpengine"


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dialgate", "doctor", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def report_of(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    done = doctor(env, *args, "--json")
    return done.returncode, json.loads(done.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """One check per name; a failure wins over other lines of the same name."""
    out: dict[str, dict[str, str]] = {}
    for check in report["checks"]:
        if check["name"] not in out or check["status"] == "fail":
            out[check["name"]] = check
    return out


def test_doctor_on_a_healthy_node(
    sqlite_url: str, start_kamailio: StartKamailio, rtpengine: RtpengineProcess
) -> None:
    kam = start_kamailio()
    smtp = SmtpServer(smtp_port())
    smtp.start()
    try:
        env = base_env(sqlite_url, DIALGATE_SMTP_PORT=str(smtp.port),
                       PROMETHEUS_MULTIPROC_DIR="/tmp/unused-dialgate-metrics")
        # The shared POPs' relay (tests/e2e/conftest.py), reached over its ng port.
        args = ("--kamailio-ctl", kam.ctl, "--rtpengine", f"127.0.0.1:{rtpengine.ng_port}")
        code, report = report_of(env, *args)
        text = doctor(env, *args).stdout
    finally:
        smtp.stop()
    checks = by_name(report)
    assert code == 0, report
    assert report["ok"] is True
    for name in ("configuration", "database", "smtp", "kamailio", "rtpengine"):
        assert checks[name]["status"] == "ok", checks[name]
    head = migrate.current_heads(sqlite_url)[0]
    assert f"(schema {head})" in checks["database"]["detail"]
    assert "pong" in checks["rtpengine"]["detail"]
    # The installed Kamailio's own version decides whether doctor warns of its BYE race.
    warned = [c for c in report["checks"] if c["name"] == "kamailio" and c["status"] == "warn"]
    assert bool(warned) == ops.skips_callee_bye(checks["kamailio"]["detail"])
    if warned:
        assert "#4169" in warned[0]["detail"] and "5.8.6" in warned[0]["fix"]
    assert "all checks passed" in text


def test_doctor_on_a_broken_node(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()  # a database nobody migrated
    env = base_env(f"sqlite:///{empty}", DIALGATE_SMTP_PORT=str(tcp_port()))
    args = ("--kamailio-ctl", str(tmp_path / "no-such-ctl"), "--rtpengine",
            f"127.0.0.1:{udp_port()}")
    code, report = report_of(env, *args)
    text = doctor(env, *args).stdout
    assert code == 1
    assert report["ok"] is False
    checks = by_name(report)
    assert checks["database"]["status"] == "fail"
    assert "dialgate db upgrade" in checks["database"]["fix"]
    assert checks["smtp"]["status"] == "fail" and "DIALGATE_SMTP_HOST" in checks["smtp"]["fix"]
    assert checks["kamailio"]["status"] == "fail" and "ctl socket" in checks["kamailio"]["fix"]
    assert checks["rtpengine"]["status"] == "fail"
    assert "start rtpengine" in checks["rtpengine"]["fix"]
    assert "some checks failed" in text and "fix: run `dialgate db upgrade`" in text
    # Unreachable PostgreSQL, and a configuration that does not even load.
    env = base_env(f"postgresql://dialgate:S3cret-pw@127.0.0.1:{tcp_port()}/dialgate")
    code, report = report_of(env)
    assert code == 1
    database = by_name(report)["database"]
    assert database["status"] == "fail" and "start the database" in database["fix"]
    assert "S3cret-pw" not in json.dumps(report)
    env = base_env(f"sqlite:///{empty}", DIALGATE_SMTP_PORT="twenty-five")
    code, report = report_of(env)
    assert code == 1
    configuration = by_name(report)["configuration"]
    assert configuration["status"] == "fail" and "smtp_port" in configuration["detail"]
