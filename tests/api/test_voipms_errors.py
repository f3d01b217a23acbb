"""The VoIP.ms facade maps errors once, in its dispatcher, and in its own shape: the domain's
refusals as the documented statuses (the per-method statuses are checked in test_voipms*.py and
by the real client libraries), anything else as a ``status`` body, never problem+json."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from dialgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from dialgate.entrypoints import voipms
from dialgate.entrypoints.voipms import errors
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.test_voipms import API_PASSWORD, URL, enable


def test_every_method_says_its_domain_errors() -> None:
    for name, (_method, statuses) in voipms.METHODS.items():
        assert isinstance(statuses, errors.Statuses), name
    did = voipms.METHODS["setDIDRouting"][1]
    assert did.status(NotFound("DID", "15145550000"), {}) == "invalid_did"
    refused = ValidationFailed([FieldError("routing", "unknown_target", "no such mailbox")])
    assert did.status(refused, {"routing": "vm:9999"}) == "invalid_mailbox"
    fwd = voipms.METHODS["delForwarding"][1]
    assert fwd.status(Conflict("in_use", "a DID routes to it"), {}) == "account_with_dids"
    sub = voipms.METHODS["createSubAccount"][1]
    assert sub.status(Conflict("used_username", "taken"), {}) == "used_username"


def test_other_tenants_things_read_as_each_methods_status(
    app: FastAPI, api_db: Database, alice: Tenant, bob: Tenant
) -> None:
    enable(api_db, alice, "127.0.0.1")
    creds = {"api_username": alice.email, "api_password": API_PASSWORD}
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        for method, params, status in (
            ("setDIDRouting", {"did": "15145550000", "routing": "none:"}, "invalid_did"),
            ("getForwardings", {"forwarding": "987654"}, "invalid_forwarding"),
            ("delForwarding", {"forwarding": "987654"}, "invalid_forwarding"),
        ):
            r = client.get(URL, params={**creds, "method": method, **params})
            assert r.status_code == 200 and r.json() == {"status": status}, method


@pytest.fixture
def lenient(app: FastAPI) -> TestClient:
    return TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False)


def test_a_bug_is_a_status_body_without_a_traceback(
    lenient: TestClient, api_db: Database, alice: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    enable(api_db, alice, "127.0.0.1")
    creds = {"api_username": alice.email, "api_password": API_PASSWORD, "method": "getDIDsInfo"}
    with lenient as client:
        assert client.get(URL, params=creds).json() == {"status": "no_did"}
        with api_db.uow() as uow:  # a real fault: the table the method reads is gone
            uow.session.execute(text("DROP TABLE dids"))
            uow.commit()
        with caplog.at_level(logging.ERROR, logger="dialgate.voipms"):
            r = client.get(URL, params=creds)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "unavailable_info"}
    logged = [rec for rec in caplog.records if rec.name == "dialgate.voipms"]
    assert logged and logged[0].exc_info is not None


def test_a_wrong_http_method_is_still_a_status_body(lenient: TestClient) -> None:
    with lenient as client:
        r = client.put(URL)
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "unavailable_info"}
