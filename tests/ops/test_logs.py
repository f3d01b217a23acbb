"""A short run of ``dialgate serve`` and ``dialgate worker``: every line is one JSON object,
the call id is on the authorize and call-record lines, and no secret appears anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.ops.support import (
    METRICS_TOKEN,
    SECRET_KEY,
    base_env,
    seed,
    serve,
    stop,
    wait_until,
    wrong_login,
)
from tests.support.pg import free_port
from tests.support.records import cdr

SMTP_PASSWORD = "smtp-Pa55word-Kq7"
WRONG_PASSWORD = "Guess3d-Pa55-Xv9"
DEMO_PASSWORD = "DemoPass123"


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        assert line.strip(), f"empty line {number}"
        parsed = json.loads(line)  # every line, or the test fails here
        assert isinstance(parsed, dict), line
        assert {"ts", "level", "logger", "event"} <= parsed.keys(), line
        out.append(parsed)
    return out


def test_a_short_run_logs_json_lines_with_call_ids_and_no_secrets(
    sqlite_url: str, tmp_path: Path
) -> None:
    token = seed(sqlite_url)
    # Debug: allowed calls and recorded call records are logged at debug (refusals at info).
    env = base_env(sqlite_url, DIALGATE_SMTP_PORT=str(free_port()), DIALGATE_LOG_LEVEL="debug",
                   DIALGATE_SMTP_USERNAME="mailer", DIALGATE_SMTP_PASSWORD=SMTP_PASSWORD)
    serve_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    auth = {"Authorization": f"Bearer {token}"}
    with serve(env, serve_log) as served:
        allowed = httpx.post(served.url + "/switch/v1/authorize", json={
            "account": "100000", "dialed": "5145550199", "call_id": "call-allowed-1@pbx"},
            headers={**auth, "X-Request-ID": "req-from-kamailio-1"})
        assert allowed.json()["allow"] is True
        assert allowed.headers["x-request-id"] == "req-from-kamailio-1"
        denied = httpx.post(served.url + "/switch/v1/authorize", headers=auth, json={
            "account": "100000", "dialed": "5145551212", "call_id": "call-denied-2@pbx"})
        assert denied.json()["allow"] is False
        batch = httpx.post(served.url + "/switch/v1/cdrs", headers=auth,
                           json=[cdr("call-allowed-1@pbx"), cdr("bad", account="999999")])
        assert batch.json()["recorded"] == 1
        # A wrong switch token, a wrong password and a metrics scrape: none may be logged.
        bad = httpx.post(served.url + "/switch/v1/authorize", json={"account": "100000",
                         "dialed": "5145550199"}, headers={"Authorization": f"Bearer {SECRET_KEY}"})
        assert bad.status_code == 401
        assert wrong_login(served.url, "100000", WRONG_PASSWORD) == 401
        scrape = httpx.get(served.url + "/metrics",
                           headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200

        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "dialgate", "worker", "--interval", "0.2"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: "smtp send failed" in worker_log.read_text(), 60,
                       "the worker logging the SMTP failure")
        finally:
            stop(worker)
        assert worker.returncode == 0  # SIGTERM is a clean stop

    serve_lines, worker_lines = _lines(serve_log), _lines(worker_log)
    authorize = [line for line in serve_lines if line["event"] == "authorize"]
    assert {line["call_id"] for line in authorize} == {"call-allowed-1@pbx", "call-denied-2@pbx"}
    first = next(line for line in authorize if line["call_id"] == "call-allowed-1@pbx")
    assert first["account"] == "100000"
    assert first["request_id"] == "req-from-kamailio-1"
    assert first["allow"] is True and first["reason"] == "ok" and first["level"] == "debug"
    denied_line = next(line for line in authorize if line["call_id"] == "call-denied-2@pbx")
    assert denied_line["allow"] is False and denied_line["reason"] == "blocked_number"
    assert denied_line["level"] == "info"
    assert denied_line["request_id"]  # made up by the server when the switch sends none

    records = [line for line in serve_lines if line["event"].startswith("cdr")]
    assert any(line["call_id"] == "call-allowed-1@pbx" and line["account"] == "100000"
               for line in records)
    assert any(line["call_id"] == "bad" and line.get("outcome") == "rejected"
               and line["level"] == "warning" for line in records)
    assert any(line["event"] == "portal login refused" for line in serve_lines)

    failures = [line for line in worker_lines if line["event"] == "smtp send failed"]
    assert failures and all(line["level"] == "warning" and "outbox_id" in line
                            for line in failures)
    assert any(line["event"] == "outbox worker stopped" for line in worker_lines)

    everything = serve_log.read_text() + worker_log.read_text()
    for secret in (token, METRICS_TOKEN, SECRET_KEY, SMTP_PASSWORD, WRONG_PASSWORD,
                   DEMO_PASSWORD):
        assert secret not in everything
