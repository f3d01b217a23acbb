"""Property-based contract test of /openapi.json: whatever schemathesis sends, the API answers
with a documented status, content type and a body matching the schema, and never a 500.

Settings values are typed loosely in the schema on purpose (the settings registry validates them
and answers 422 with per-field errors), so "schema-valid data must be accepted" is not checked.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.seed import seed_dids, seed_forwardings, seed_ledger, seed_rates

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def run_operation(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


NEW_OPERATIONS = {
    "GET /v1/dids",
    "GET /v1/dids/{number}",
    "PATCH /v1/dids/{number}",
    "POST /v1/calls/simulate",
    "GET /v1/balance",
    "GET /v1/transactions",
    "GET /v1/forwardings",
    "POST /v1/forwardings",
    "GET /v1/forwardings/{forwarding}",
    "PATCH /v1/forwardings/{forwarding}",
    "DELETE /v1/forwardings/{forwarding}",
}


def test_api_never_errors_and_matches_its_schema(
    app: FastAPI, api_db: Database, alice: Tenant, bob: Tenant
) -> None:
    # DIDs, rates and a ledger, so that generated requests reach real rows (and a tenant
    # boundary: bob's DID exists but is not alice's).
    seed_dids(api_db)
    seed_rates(api_db)
    seed_ledger(api_db)
    seed_forwardings(api_db)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 21
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= NEW_OPERATIONS
    for operation in operations:
        # Authenticated, so generated input reaches validation and the services.
        run_operation(operation, alice.auth)


def test_a_genuine_bug_is_logged_and_answered_with_a_problem_500(
    app: FastAPI, alice: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/v1/boom")
    def boom() -> dict[str, str]:
        raise RuntimeError("deliberate bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/boom", headers=alice.auth)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "deliberate" not in response.text and response.json()["code"] == "internal_error"
    assert any("deliberate bug" in str(r.exc_info) for r in caplog.records if r.exc_info)
