"""Portal log-in under abuse: guesses are throttled per source and per login name, never by a
lock a stranger can put on an account; unknown and known logins look and cost the same; argon2
never holds the database."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import argon2
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from prometheus_client import REGISTRY

from dialgate.adapters import passwords, ratelimit
from dialgate.entrypoints.portal import routes_auth
from dialgate.entrypoints.web import create_app
from dialgate.services import demo, lookups
from dialgate.services.uow import Database
from tests.portal.test_portal_http import csrf_of

STRANGER = ("198.51.100.66", 40000)
OWNER = ("203.0.113.10", 40000)


class Clients:
    """Clients of ONE app (one set of throttles) seen from different source addresses."""

    def __init__(self) -> None:
        self.app = create_app()
        self._open: dict[tuple[str, int], TestClient] = {}

    def __getitem__(self, address: tuple[str, int]) -> TestClient:
        if address not in self._open:
            self._open[address] = TestClient(self.app, client=address).__enter__()
        return self._open[address]

    def close(self) -> None:
        for client in self._open.values():
            client.__exit__(None, None, None)


@pytest.fixture
def app_clients(demo_db: Database) -> Iterator[Clients]:
    clients = Clients()
    try:
        yield clients
    finally:
        clients.close()


def attempt(client: TestClient, login: str, password: str) -> Response:
    token = csrf_of(client.get("/portal/login").text)
    return client.post(
        "/portal/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def account_row(db: Database) -> tuple[int, object]:
    with db.uow(write=False) as uow:
        row = lookups.get_account(uow, demo.DEMO_ACCOUNT)
        return row.failed_logins, row.locked_until


def test_a_strangers_guesses_do_not_keep_the_owner_out(
    app_clients: Clients, demo_db: Database
) -> None:
    before = account_row(demo_db)
    stranger = app_clients[STRANGER]
    statuses = [attempt(stranger, demo.DEMO_ACCOUNT, "Wrong999x").status_code for _ in range(12)]
    # The source is throttled (429 with Retry-After) once its budget is spent...
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    throttled = attempt(stranger, demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert "Too many login attempts" in throttled.text
    # ...but the account is not locked: its owner, elsewhere, logs in at once.
    assert attempt(app_clients[OWNER], demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD).status_code == 303
    assert account_row(demo_db) == before  # nothing about the account was written


def test_a_login_guessed_from_many_sources_stays_open_to_the_owners_browser(
    app_clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_auth, "FAILURES_PER_LOGIN", ratelimit.parse("3/hour"))
    owner = app_clients[OWNER]
    assert attempt(owner, demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD).status_code == 303
    for n in range(3):  # a distributed guesser: each source well under its own budget
        guesser = app_clients[(f"192.0.2.{n + 1}", 5000)]
        assert attempt(guesser, demo.DEMO_ACCOUNT, "Wrong999x").status_code == 401
    # The login's budget is spent: a new browser, even with the right password, must wait...
    newcomer = app_clients[("192.0.2.200", 5000)]
    assert attempt(newcomer, demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD).status_code == 429
    # ...the owner's browser, which logged in before, is not kept out.
    assert attempt(owner, demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD).status_code == 303


def test_unknown_and_known_logins_answer_alike(
    app_clients: Clients,
) -> None:
    known = attempt(app_clients[STRANGER], demo.DEMO_ACCOUNT, "Wrong999x")
    unknown = attempt(app_clients[OWNER], "999999", "Wrong999x")
    assert known.status_code == unknown.status_code == 401

    def page(r: Response) -> str:
        text = r.text.replace(csrf_of(r.text), "TOKEN")
        return text.replace(demo.DEMO_ACCOUNT, "LOGIN").replace("999999", "LOGIN")

    assert page(known) == page(unknown)


class RecordingPool(passwords.HashPool):
    """The real pool, also noting each stored hash a log-in is checked against."""

    def __init__(self, workers: int, queue: int) -> None:
        super().__init__(workers, queue)
        self.checked: list[str] = []

    async def verify(self, stored_hash: str, password: str) -> bool:
        self.checked.append(stored_hash)
        return await super().verify(stored_hash, password)


def test_unknown_and_known_logins_do_the_same_work(app_clients: Clients) -> None:
    """Both run one argon2 check with the same parameters (cost, memory, lanes): skipping it, or
    a cheaper dummy hash, would make unknown logins measurably faster. Asserted on the work
    done rather than on wall time, which a busy machine makes meaningless."""
    app = app_clients.app
    real = app.state.hash_pool
    pool = app.state.hash_pool = RecordingPool(real.workers, real.queue)
    real.shutdown()

    def checked(source: int, login: str) -> list[str]:
        client = app_clients[(f"192.0.2.{source}", 5000)]
        token = csrf_of(client.get("/portal/login").text)
        before = len(pool.checked)
        r = client.post(
            "/portal/login", data={"login": login, "password": "Wrong999x", "csrf_token": token}
        )
        assert r.status_code == 401
        return pool.checked[before:]

    [known] = checked(1, demo.DEMO_ACCOUNT)
    [unknown] = checked(2, "nobody@example.com")
    assert known != unknown  # the dummy, not the account's own hash
    assert argon2.extract_parameters(unknown) == argon2.extract_parameters(known)


def test_password_checks_do_not_hold_the_database(
    app_clients: Clients, demo_db: Database
) -> None:
    """While wrong logins are being checked (argon2), other writers commit without waiting."""
    done = threading.Event()

    def flood(n: int) -> None:
        client = app_clients[(f"192.0.2.{n + 10}", 5000)]
        while not done.is_set():
            attempt(client, demo.DEMO_ACCOUNT, "Wrong999x")

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while app_clients.app.state.hash_pool.in_flight < 2:  # the flood is hashing
            assert time.monotonic() < deadline, "the flood never reached the hash pool"
            time.sleep(0.005)
        waits = []
        for _ in range(10):
            start = time.perf_counter()
            with demo_db.uow() as uow:  # BEGIN IMMEDIATE: the SQLite write lock
                uow.commit()
            waits.append(time.perf_counter() - start)
    finally:
        done.set()
        for t in threads:
            t.join()
    # An argon2 check takes ~0.3 s: had it run in a write transaction, writers would wait that.
    assert max(waits) < 0.15, waits


def spend_source_budget(clients: Clients, address: tuple[str, int]) -> None:
    for _ in range(routes_auth.FAILURES_PER_SOURCE.amount):
        assert attempt(clients[address], "nobody@example.com", "Wrong999x").status_code == 401


def test_a_throttled_sources_login_is_refused_before_its_body_is_read(
    app_clients: Clients, demo_db: Database
) -> None:
    spend_source_budget(app_clients, STRANGER)
    app = app_clients.app
    sent: list[dict[str, object]] = []
    reads = 0

    async def receive() -> dict[str, object]:
        nonlocal reads
        reads += 1
        body = f"login={demo.DEMO_ACCOUNT}&password={demo.DEMO_PASSWORD}&csrf_token=x".encode()
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    def scope(client: tuple[str, int], language: bytes) -> dict[str, object]:
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/portal/login", "raw_path":
            b"/portal/login", "root_path": "", "query_string": b"", "client": client,
            "server": ("testserver", 80), "headers": [
                (b"host", b"testserver"),
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"cookie", b"dg_lang=" + language + b"; dg_login_csrf=tok-" + language),
            ],
        }

    # Even the right password: a spent source gets 429 from its address alone, in its language,
    # without the body being read (so no form, no CSRF check, no database, no argon2).
    counted = REGISTRY.get_sample_value("dialgate_login_lockouts_total") or 0.0
    asyncio.run(app(scope(STRANGER, b"fr"), receive, send))
    start = sent[0]
    assert start["status"] == 429 and reads == 0
    assert REGISTRY.get_sample_value("dialgate_login_lockouts_total") == counted + 1
    headers = dict(start["headers"])  # type: ignore[arg-type]
    assert int(headers[b"retry-after"]) >= 1
    assert b"default-src 'self'" in headers[b"content-security-policy"]
    page = sent[1]["body"].decode()  # type: ignore[union-attr]
    assert "Trop de tentatives" in page
    assert 'name="csrf_token" value="tok-fr"' in page  # the form works again after the wait
    # Another source goes through to the route (which reads the form and checks the CSRF pair).
    sent.clear()
    asyncio.run(app(scope(OWNER, b"en"), receive, send))
    assert reads == 1 and sent[0]["status"] == 403
    # The shed answer is what a browser sees too, and the owner's account is not locked.
    throttled = attempt(app_clients[STRANGER], demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD)
    assert throttled.status_code == 429 and "Too many login attempts" in throttled.text
    assert attempt(app_clients[OWNER], demo.DEMO_ACCOUNT, demo.DEMO_PASSWORD).status_code == 303
