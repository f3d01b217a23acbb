"""What strangers can reach, under abuse: the VoIP.ms API's allow-list comes before the password
and failures are throttled; forwarded headers count only from configured proxies; bodies over
the limit are refused before parsing; each role serves only its endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from dialgate.adapters import ratelimit
from dialgate.config import MIN_BODY_BYTES, Settings, get_settings
from dialgate.entrypoints import voipms as facade
from dialgate.entrypoints.web import create_app
from dialgate.services import apikeys
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.test_voipms import API_PASSWORD, URL, enable

# Each test starts with an empty cache of verified VoIP.ms passwords (a process-wide cache).


@pytest.fixture(autouse=True)
def _fresh_verified_cache() -> Iterator[None]:
    apikeys._VERIFIED.clear()
    yield
    apikeys._VERIFIED.clear()


def voipms(client: TestClient, email: str, password: str, method: str = "getIP") -> str:
    r = client.get(URL, params={"api_username": email, "api_password": password, "method": method})
    assert r.status_code == 200
    status: str = r.json()["status"]
    return status


def at(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


# --- VoIP.ms API ------------------------------------------------------------------------------


def test_from_a_source_not_allowed_no_password_is_checked(
    app: FastAPI, api_db: Database, alice: Tenant
) -> None:
    enable(api_db, alice, "10.0.0.0/8")
    with at(app, "192.0.2.7") as outside:
        # Right and wrong passwords, known and unknown users: one answer, and nothing counted.
        assert voipms(outside, alice.email, API_PASSWORD) == "ip_not_enabled"
        for n in range(30):
            assert voipms(outside, alice.email, f"Guess{n}xx") == "ip_not_enabled"
        assert voipms(outside, "nobody@example.com", "Guess0xx") == "ip_not_enabled"
    assert app.state.hash_pool.in_flight == 0
    throttle = app.state.throttle
    assert not throttle.exhausted(facade.FAILURES_PER_SOURCE, "voipms-fail", "192.0.2.7")
    with at(app, "10.1.2.3") as inside:
        assert voipms(inside, alice.email, API_PASSWORD) == "success"


def test_failed_passwords_are_throttled_per_source(
    app: FastAPI, api_db: Database, alice: Tenant
) -> None:
    enable(api_db, alice, "0.0.0.0")  # any address: only the throttles stand in the way
    with at(app, "198.51.100.9") as guesser:
        answers = [voipms(guesser, alice.email, f"Guess{n}xx") for n in range(12)]
        assert answers == ["invalid_credentials"] * 10 + ["api_limit_exceeded"] * 2
        # Even the right password is not checked from there any more...
        assert voipms(guesser, alice.email, API_PASSWORD) == "api_limit_exceeded"
    # ...while the owner, elsewhere, is served.
    with at(app, "203.0.113.5") as owner:
        assert voipms(owner, alice.email, API_PASSWORD) == "success"


def test_failures_from_many_sources_throttle_the_user_but_not_its_running_scripts(
    app: FastAPI, api_db: Database, alice: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facade, "FAILURES_PER_USER", ratelimit.parse("3/hour"))
    enable(api_db, alice, "0.0.0.0")
    with at(app, "203.0.113.5") as script:
        assert voipms(script, alice.email, API_PASSWORD) == "success"
    for n in range(3):
        with at(app, f"192.0.2.{n + 1}") as guesser:
            assert voipms(guesser, alice.email, "Guess0xx") == "invalid_credentials"
    with at(app, "203.0.113.5") as script:  # its password was checked before: still served
        assert voipms(script, alice.email, API_PASSWORD, "getRoutes") == "success"
    apikeys._VERIFIED.clear()  # as after a restart: the password must be checked again
    with at(app, "192.0.2.99") as newcomer:
        assert voipms(newcomer, alice.email, API_PASSWORD) == "api_limit_exceeded"


# --- forwarded headers ------------------------------------------------------------------------


def test_forwarded_for_is_ignored_unless_the_peer_is_a_configured_proxy(
    app_env: str, api_db: Database, alice: Tenant
) -> None:
    enable(api_db, alice, "127.0.0.1", "10.0.0.0/8")
    forged = {"X-Forwarded-For": "10.9.9.9"}
    params = {"api_username": alice.email, "api_password": API_PASSWORD, "method": "getIP"}
    untrusting = create_app(get_settings())
    with TestClient(untrusting, client=("127.0.0.1", 5000)) as client:
        assert client.get(URL, params=params, headers=forged).json()["ip"] == "127.0.0.1"
    trusting = create_app(get_settings().model_copy(update={"trusted_proxies": "127.0.0.0/8"}))
    with TestClient(trusting, client=("127.0.0.1", 5000)) as client:
        assert client.get(URL, params=params, headers=forged).json()["ip"] == "10.9.9.9"
        # A client cannot prepend an address: the first one left of the trusted hops counts.
        chain = {"X-Forwarded-For": "127.0.0.1, 10.9.9.9"}
        assert client.get(URL, params=params, headers=chain).json()["ip"] == "10.9.9.9"
    with TestClient(trusting, client=("192.0.2.50", 5000)) as client:  # not a proxy
        assert client.get(URL, params=params, headers=forged).json() == {
            "status": "ip_not_enabled"
        }
    for app in (untrusting, trusting):
        app.state.db.dispose()


# --- body limit -------------------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_reading(client: TestClient) -> None:
    limit = get_settings().max_body_bytes
    assert limit == 1_000_000
    r = client.post(
        "/portal/login",
        content=b"x" * (limit + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "body_too_large"


def test_a_chunked_body_is_cut_off_at_the_limit(client: TestClient, alice: Tenant) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):  # 40 x 64 KB, no Content-Length
            yield b"a=" + b"x" * 65534

    r = client.post(
        URL, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 413  # no Content-Length: counted while read
    assert r.json()["code"] == "body_too_large"


def test_the_body_limit_is_configurable(app_env: str) -> None:
    small = create_app(get_settings().model_copy(update={"max_body_bytes": MIN_BODY_BYTES}))
    with TestClient(small) as client:
        too_big = client.post("/v1/account/settings", content=b"{" + b" " * MIN_BODY_BYTES)
        assert too_big.status_code == 413
        fits = client.patch("/v1/account/settings", content=b"{}")
        assert fits.status_code == 401  # through the limit, on to authentication
    small.state.db.dispose()
    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings(max_body_bytes=1024)  # smaller than the switch's largest batch


# --- roles ------------------------------------------------------------------------------------


def test_each_role_serves_only_its_endpoints(app_env: str) -> None:
    for role, served, absent in (
        ("switch", "/switch/v1/authorize", "/portal/login"),
        ("web", "/portal/login", "/switch/v1/authorize"),
    ):
        app = create_app(get_settings().model_copy(update={"role": role}))
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            assert client.post(served, json={}).status_code in (401, 403, 422, 200)
            assert client.post(absent, json={}).status_code == 404
        app.state.db.dispose()
