"""/healthz and /readyz while PostgreSQL goes away and comes back; the outbox worker lives
through the same outage and delivers afterwards."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import httpx
import pytest

from dialgate.adapters.mailer import SmtpMailer
from dialgate.services import outbox
from dialgate.services.uow import Database
from tests.ops.support import base_env, own_cluster, seed, serve, wait_until
from tests.support.smtp import SmtpServer
from tests.support.smtp import free_port as smtp_port

pytestmark = pytest.mark.postgres


def test_readyz_follows_the_database(tmp_path: Path) -> None:
    with own_cluster() as pg:
        seed(pg.url)
        env = base_env(pg.url, DIALGATE_FEED_STALE_AFTER="2")
        with serve(env, tmp_path / "serve.log") as served:
            ready = httpx.get(served.url + "/readyz")
            assert ready.status_code == 200
            assert ready.json() == {"status": "ready", "checks": {
                "database": "ok", "snapshots": "ok", "policy_feed": "ok"}}

            pg.stop()
            wait_until(lambda: httpx.get(served.url + "/readyz").status_code == 503, 30,
                       "unready without the database")
            down = httpx.get(served.url + "/readyz").json()
            assert down["status"] == "unready"
            assert down["checks"]["database"].startswith("unreachable")
            # Loaded snapshots stay loaded; the process itself is fine.
            assert down["checks"]["snapshots"] == "ok"
            assert httpx.get(served.url + "/healthz").status_code == 200
            # The policy feed cannot be read either: it goes stale after 2 s.
            wait_until(lambda: httpx.get(served.url + "/readyz").json()["checks"]
                       ["policy_feed"].startswith("stale"), 30, "the feed marked stale")

            pg.start()
            wait_until(lambda: httpx.get(served.url + "/readyz").status_code == 200, 30,
                       "ready again once the database is back")
            assert httpx.get(served.url + "/readyz").json()["status"] == "ready"
        log = (tmp_path / "serve.log").read_text()
        assert "policy change feed could not be read" in log
        assert "policy change feed read again" in log


def test_worker_survives_a_database_outage(caplog: pytest.LogCaptureFixture) -> None:
    smtp = SmtpServer(smtp_port())
    smtp.start()
    try:
        with own_cluster() as pg:
            seed(pg.url)  # the demo queues its welcome emails
            db = Database(pg.url)
            mailer = SmtpMailer(host="127.0.0.1", port=smtp.port, sender="ops@dialgate.test")
            stop = threading.Event()
            caplog.set_level(logging.INFO, logger="dialgate.services.outbox")
            pg.stop()
            worker = threading.Thread(target=outbox.run_worker, args=(db, mailer),
                                      kwargs={"stop_event": stop, "poll_interval": 0.05})
            worker.start()
            try:
                wait_until(lambda: sum("outbox pass failed" in r.getMessage()
                                       for r in caplog.records) >= 2, 30,
                           "the worker reporting the outage, twice")
                assert worker.is_alive()
                assert not smtp.sink.messages
                pg.start()
                wait_until(lambda: len(smtp.sink.messages) >= 1, 60, "emails after the outage")
                wait_until(lambda: any("outbox pass succeeded again" in r.getMessage()
                                       for r in caplog.records), 30, "the recovery logged")
                assert worker.is_alive()
            finally:
                stop.set()
                worker.join(10)
                db.dispose()
            failure = next(r for r in caplog.records if "outbox pass failed" in r.getMessage())
            assert failure.levelno == logging.ERROR
            assert failure.__dict__["error"] == "OperationalError"
    finally:
        smtp.stop()
