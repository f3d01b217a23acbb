"""/metrics across two uvicorn workers: known traffic in, the exact counts out of each worker.

The traffic: allowed and denied calls (``/switch/v1/authorize``), one call-record batch, a
wrong portal login, and an email the SMTP server cannot take (``dialgate worker --once``
against a closed port). Every process writes to the same ``PROMETHEUS_MULTIPROC_DIR``, so a
scrape answered by either worker must show all of it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import func, select

from dialgate.adapters.db.models import OutboxRow
from dialgate.services.uow import Database
from tests.ops.support import (
    METRICS_TOKEN,
    base_env,
    parse_metrics,
    sample,
    seed,
    serve,
    total,
    wait_until,
    wrong_login,
)
from tests.support.pg import free_port
from tests.support.records import cdr

ALLOWED, DENIED = ("5145550199", 3), ("5145551212", 2)


def _unsent_emails(db_url: str) -> int:
    """The demo's welcome emails wait in the outbox: each is one failed send below."""
    db = Database(db_url)
    try:
        with db.uow(write=False) as uow:
            return int(uow.session.scalar(
                select(func.count(OutboxRow.id)).where(OutboxRow.sent_at.is_(None))) or 0)
    finally:
        db.dispose()


def test_two_workers_report_every_count(sqlite_url: str, tmp_path: Path) -> None:
    token = seed(sqlite_url)
    emails = _unsent_emails(sqlite_url)
    assert emails >= 1
    env = base_env(sqlite_url, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                   DIALGATE_SMTP_PORT=str(free_port()))  # nothing listens there
    auth = {"Authorization": f"Bearer {token}"}
    with serve(env, tmp_path / "serve.log", "--workers", "2") as served:
        # Several connections, so that both workers take calls.
        for dialed, count in (ALLOWED, DENIED):
            for i in range(count):
                answer = httpx.post(served.url + "/switch/v1/authorize", headers=auth, json={
                    "account": "100000", "dialed": dialed, "call_id": f"c-{dialed}-{i}"})
                assert answer.status_code == 200
                assert answer.json()["allow"] is (dialed == ALLOWED[0])
        batch = [cdr("ops-cdr-1"), cdr("ops-cdr-2", seconds=125)]
        answer = httpx.post(served.url + "/switch/v1/cdrs", headers=auth, json=batch)
        assert answer.status_code == 200 and answer.json()["recorded"] == 2
        assert wrong_login(served.url, "100000", "not-the-password") == 401
        worker = subprocess.run([sys.executable, "-m", "dialgate", "worker", "--once"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert worker.returncode == 0, worker.stderr
        assert f"sent 0, failed {emails}" in worker.stdout

        # Without the token there is nothing to see.
        assert httpx.get(served.url + "/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(served.url + "/metrics", headers=wrong).status_code == 401

        expected = {
            ("dialgate_decisions_total", "true", "ok", "canada"): 3,
            ("dialgate_decisions_total", "false", "blocked_number", "directory_assistance"): 2,
        }
        scraped: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] = {}

        def both_workers_complete() -> bool:
            # A new connection each time: the kernel hands it to either worker. The request id
            # starts with the answering process's pid.
            response = httpx.get(served.url + "/metrics",
                                 headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert response.status_code == 200
            pid = response.headers["x-request-id"].split("-")[0]
            values = parse_metrics(response.text)
            # Other workers' per-call tallies reach the shared files within a second.
            if total(values, "dialgate_decisions_total") == 5:
                scraped[pid] = values
            return len(scraped) >= 2

        wait_until(both_workers_complete, 60, "a complete scrape from each of two workers")
    for values in scraped.values():
        for (name, allowed, reason, klass), count in expected.items():
            assert sample(values, name, allowed=allowed, reason=reason, **{"class": klass}) \
                == count
        assert total(values, "dialgate_decisions_total") == 5
        # Every switch answer is timed.
        assert sample(values, "dialgate_decision_seconds_count") == 5
        assert sample(values, "dialgate_decision_seconds_bucket", le="+Inf") == 5
        assert sample(values, "dialgate_decision_seconds_sum") > 0
        # Each worker builds the account's snapshot on its first call to it.
        assert 1 <= sample(values, "dialgate_snapshot_build_seconds_count") <= 2
        assert sample(values, "dialgate_cdr_batches_total") == 1
        assert sample(values, "dialgate_cdr_records_total", outcome="recorded") == 2
        assert sample(values, "dialgate_cdr_records_total", outcome="rejected") == 0
        assert sample(values, "dialgate_ledger_writes_total", kind="call") == 2
        assert sample(values, "dialgate_smtp_failures_total") == emails
        assert sample(values, "dialgate_smtp_sent_total") == 0
        assert sample(values, "dialgate_login_failures_total") == 1
        assert sample(values, "dialgate_login_lockouts_total") == 0
        assert sample(values, "dialgate_http_requests_total", route="/switch/v1/authorize",
                      method="POST", status="200") == 5
        assert sample(values, "dialgate_http_requests_total", route="/switch/v1/cdrs",
                      method="POST", status="200") == 1
        assert sample(values, "dialgate_http_requests_total", route="/portal/login",
                      method="POST", status="401") == 1
        assert sample(values, "dialgate_outbox_depth") == emails
        assert sample(values, "dialgate_outbox_oldest_age_seconds") > 0
        assert sample(values, "dialgate_database_up") == 1
        assert 0 <= sample(values, "dialgate_policy_feed_lag_seconds") < 5
