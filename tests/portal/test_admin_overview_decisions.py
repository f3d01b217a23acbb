"""The live overview's decisions by reason: real requests to ``POST /switch/v1/authorize``
(the switch fast path) are counted in memory and reach ``decision_minutes`` by the worker's
periodic flush and at shutdown, never one write per decision; the console sums every worker's
last 15 minutes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dialgate.adapters.db.models import DecisionMinuteRow
from dialgate.config import get_settings
from dialgate.entrypoints.web import create_app
from dialgate.services import apikeys, decision_log
from dialgate.services.uow import Database
from tests.portal.test_admin_console_http import admin_session, secret  # noqa: F401

URL = "/switch/v1/authorize"
CALLS = (
    ({"account": "100000", "dialed": "5145551234"}, "ok"),
    ({"account": "100000", "dialed": "18005551234"}, "ok"),
    ({"account": "100000", "dialed": "011861012345678"}, "international_disabled"),
    ({"account": "100000", "dialed": "411"}, "directory_assistance_disabled"),
)


def _switch_token(db: Database) -> dict[str, str]:
    with db.uow() as uow:
        _info, token = apikeys.create_switch_token(uow, name="pop")
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


def _send(client: TestClient, headers: dict[str, str], rounds: int) -> dict[str, int]:
    sent: dict[str, int] = {}
    for _ in range(rounds):
        for call, reason in CALLS:
            r = client.post(URL, json=call, headers=headers)
            assert r.status_code == 200 and r.json()["reason"] == reason, r.text
            sent[reason] = sent.get(reason, 0) + 1
    return sent


def _recent(db: Database) -> dict[str, int]:
    with db.uow(write=False) as uow:
        return decision_log.recent(uow)


def _rows(db: Database) -> int:
    with db.uow(write=False) as uow:
        return len(list(uow.session.scalars(DecisionMinuteRow.__table__.select())))


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_decisions_reach_the_table_by_the_periodic_flush(
    demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIALGATE_DECISION_FLUSH_SECONDS", "0.2")
    get_settings.cache_clear()
    headers = _switch_token(demo_db)
    with TestClient(create_app()) as client:
        sent = _send(client, headers, 3)
        # The app is still running: only its background flush can have written these.
        _wait_for(lambda: _recent(demo_db) == sent, "the periodic flush")
        more = _send(client, headers, 1)
        expected = {r: sent[r] + more[r] for r in sent}
        _wait_for(lambda: _recent(demo_db) == expected, "the second flush")
    assert expected == {"ok": 8, "international_disabled": 4,
                        "directory_assistance_disabled": 4}


def test_shutdown_flushes_and_the_overview_sums_every_worker(
    demo_db: Database, secret: str  # noqa: F811
) -> None:
    headers = _switch_token(demo_db)
    with TestClient(create_app()) as client:  # the default interval: a minute
        sent = _send(client, headers, 2)
        assert _rows(demo_db) == 0  # nothing written per decision
    assert _recent(demo_db) == sent  # written at shutdown
    now = datetime.now(UTC)
    with demo_db.uow() as uow:
        # another worker's counts, and counts too old for the window
        decision_log.add_counts(uow, "other-host:42", decision_log.minute_of(now),
                                {"ok": 5, "blocked_destination": 2})
        decision_log.add_counts(uow, "other-host:42", decision_log.minute_of(now)
                                - timedelta(minutes=15), {"ok": 1000})
        uow.commit()
    with TestClient(create_app()) as client:
        admin_session(client, secret)
        page = client.get("/admin/overview")
        assert page.status_code == 200
        shown = dict(re.findall(r'<tr data-reason="([a-z_]+)"><td>[a-z_]+</td><td>(\d+)</td>',
                                page.text))
        assert shown == {"ok": "9", "international_disabled": "2",
                         "directory_assistance_disabled": "2", "blocked_destination": "2"}
        assert re.search(r'id="decisions-total">15<', page.text)
