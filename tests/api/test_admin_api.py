"""The admin REST API (/admin/v1) over HTTP: admin keys only (tenant isolation both ways),
accounts found by number, email and DID, creation, suspension with its effects, money by role,
call records across accounts, and the operator audit log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dialgate.adapters.db.models import LocationRow, OperatorAuditRow, OutboxRow
from dialgate.services import billing, dids, lookups, operators
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.support.history_seed import seed_history

PASSWORD = "OperatorPass123"


def admin_key(db: Database, email: str, role: str) -> dict[str, str]:
    with db.uow() as uow:
        operators.create_operator(uow, email, role, PASSWORD)
        _prefix, key = operators.create_admin_key(uow, email)
        uow.commit()
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def boss(api_db: Database) -> dict[str, str]:
    return admin_key(api_db, "boss@provider.test", "admin")


@pytest.fixture
def helpdesk(api_db: Database) -> dict[str, str]:
    return admin_key(api_db, "help@provider.test", "support")


def balance(db: Database, number: str) -> Decimal:
    with db.uow(write=False) as uow:
        return billing.current_balance(uow, number)


def test_keys_never_cross_between_the_apis(
    client: TestClient, alice: Tenant, boss: dict[str, str]
) -> None:
    assert client.get("/admin/v1/accounts").status_code == 401
    refused = client.get("/admin/v1/accounts", headers=alice.auth)  # a customer key
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.post("/admin/v1/accounts/100000/suspend", headers=alice.auth,
                       json={"reason": "x"}).status_code == 401
    assert client.get("/v1/balance", headers=boss).status_code == 401  # admin key on /v1
    assert client.get("/admin/v1/accounts", headers=boss).status_code == 200


def test_find_accounts_by_number_email_and_did(
    client: TestClient, api_db: Database, alice: Tenant, bob: Tenant, boss: dict[str, str]
) -> None:
    with api_db.uow() as uow:
        dids.add_did(uow, "200000", "4165550100", actor="test")
        uow.commit()

    def found(q: str) -> list[str]:
        r = client.get("/admin/v1/accounts", headers=boss, params={"q": q})
        assert r.status_code == 200
        return [a["number"] for a in r.json()]

    assert found("1000") == ["100000"]
    assert found("bob@") == ["200000"]
    assert found("4165550100") == ["200000"]
    assert found("nobody") == []
    detail = client.get("/admin/v1/accounts/100000", headers=boss).json()
    assert detail["subaccounts"] == ["100000_office"] and detail["enabled"] is True
    assert not {"sip_password", "portal_password"} & set(detail["settings"])  # never secrets
    assert client.get("/admin/v1/accounts/999999", headers=boss).status_code == 404


def test_create_account(client: TestClient, api_db: Database, boss: dict[str, str]) -> None:
    body = {"number": "300000", "email": "carol@example.com", "password": "Carol12345x",
            "language": "fr"}
    made = client.post("/admin/v1/accounts", headers=boss, json=body)
    assert made.status_code == 201 and made.json()["language"] == "fr"
    again = client.post("/admin/v1/accounts", headers=boss, json=body)
    assert again.status_code == 409
    bad = client.post("/admin/v1/accounts", headers=boss,
                      json={**body, "number": "12", "email": "x@example.com"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "number"
    with api_db.uow(write=False) as uow:
        assert lookups.find_account(uow, "12") is None


def test_suspend_and_restore_do_the_whole_job(
    client: TestClient, api_db: Database, alice: Tenant, helpdesk: dict[str, str]
) -> None:
    with api_db.uow() as uow:
        lookups.get_account(uow, "100000").language = "es"
        for user in ("100000", "100000_office", "200000"):
            uow.session.add(LocationRow(ruid=f"r-{user}", username=user, contact=f"sip:{user}@x",
                                        expires=datetime(2030, 1, 1), last_modified=datetime(
                                            2024, 1, 1)))
        uow.commit()
    # a reason is required: nothing changes without one
    missing = client.post("/admin/v1/accounts/100000/suspend", headers=helpdesk, json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    with api_db.uow(write=False) as uow:
        assert lookups.get_account(uow, "100000").enabled is True
    done = client.post("/admin/v1/accounts/100000/suspend", headers=helpdesk,
                       json={"reason": "unpaid invoice 42"})
    assert done.status_code == 200, done.text
    assert done.json() == {"account": "100000", "changed": True, "registrations_removed": 2,
                           "calls_ended": 0, "errors": []}
    with api_db.uow(write=False) as uow:
        assert lookups.get_account(uow, "100000").enabled is False
        left = uow.session.scalars(select(LocationRow.username)).all()
        assert left == ["200000"]
        (mail,) = uow.session.scalars(select(OutboxRow)).all()
        assert mail.recipients == {"to": ["alice@example.com"]}
        assert mail.subject == "La cuenta 100000 está suspendida"
        assert "Motivo: unpaid invoice 42" in mail.body_text
    # the customer's own API key stops working
    assert client.get("/v1/balance", headers=alice.auth).status_code in (401, 403)
    again = client.post("/admin/v1/accounts/100000/suspend", headers=helpdesk,
                        json={"reason": "again"})
    assert again.json()["changed"] is False
    detail = client.get("/admin/v1/accounts/100000", headers=helpdesk).json()
    assert detail["suspension_reason"] == "unpaid invoice 42"
    back = client.post("/admin/v1/accounts/100000/restore", headers=helpdesk, json={})
    assert back.status_code == 200 and back.json()["changed"] is True
    with api_db.uow(write=False) as uow:
        assert lookups.get_account(uow, "100000").enabled is True
        assert uow.session.scalar(select(func.count(OutboxRow.id))) == 2
    log = client.get("/admin/v1/audit", headers=helpdesk, params={"target": "100000"}).json()
    actions = [(e["operator"], e["action"]) for e in log]
    assert ("help@provider.test", "account.suspend") in actions
    assert ("help@provider.test", "account.restore") in actions


def test_money_needs_the_admin_role_and_a_reason(
    client: TestClient, api_db: Database, alice: Tenant, boss: dict[str, str],
    helpdesk: dict[str, str],
) -> None:
    before = balance(api_db, "100000")
    body = {"kind": "deposit", "amount": "20.00", "reason": "wire transfer 7"}
    refused = client.post("/admin/v1/accounts/100000/money", headers=helpdesk, json=body)
    assert refused.status_code == 403
    assert balance(api_db, "100000") == before
    for bad, field in (({**body, "amount": "-5"}, "amount"), ({**body, "reason": ""}, "reason"),
                       ({**body, "kind": "gift"}, "kind")):
        r = client.post("/admin/v1/accounts/100000/money", headers=boss, json=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert balance(api_db, "100000") == before
    ok = client.post("/admin/v1/accounts/100000/money", headers=boss, json=body)
    assert ok.status_code == 200 and Decimal(ok.json()["balance"]) == before + 20
    credit = client.post("/admin/v1/accounts/100000/money", headers=boss,
                         json={"kind": "credit", "amount": "1.50", "reason": "outage"})
    assert Decimal(credit.json()["balance"]) == before + Decimal("21.50")
    with api_db.uow(write=False) as uow:
        ledger = billing.transaction_history(uow, "100000", datetime.min.date(),
                                             datetime.max.date())
    assert [(t.kind, t.description) for t in ledger[-2:]] == [
        ("deposit", "Deposit: wire transfer 7"), ("adjustment", "Credit: outage")]


def test_call_records_across_accounts_and_every_call_audited(
    client: TestClient, api_db: Database, alice: Tenant, bob: Tenant, boss: dict[str, str]
) -> None:
    seed_history(api_db)
    window = {"from": "2024-05-01", "to": "2024-05-31"}
    everyone = client.get("/admin/v1/cdrs", headers=boss, params=window).json()
    assert {r["account"].split("_")[0] for r in everyone} == {"100000", "200000"}
    assert len(everyone) == 7
    bobs = client.get("/admin/v1/cdrs", headers=boss, params={**window, "account": "200000"})
    assert [r["call_id"] for r in bobs.json()] == ["b1"]
    paged = client.get("/admin/v1/cdrs", headers=boss, params={**window, "limit": 3})
    assert len(paged.json()) == 3 and 'rel="next"' in paged.headers["link"]
    bad = client.get("/admin/v1/cdrs", headers=boss, params={**window, "disposition": "x"})
    assert bad.status_code == 422
    with api_db.uow(write=False) as uow:
        rows = uow.session.scalars(
            select(OperatorAuditRow).where(OperatorAuditRow.action == "api.GET")).all()
    assert {r.target for r in rows} == {"/admin/v1/cdrs"}
    assert {r.operator for r in rows} == {"boss@provider.test"}
    assert all(r.via.startswith("admin-api:dgadm_") for r in rows)


def test_openapi_documents_the_admin_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/admin/v1/accounts/{number}/suspend" in spec["paths"]
    assert "AdminKey" in spec["components"]["securitySchemes"]
    op = spec["paths"]["/admin/v1/accounts/{number}/money"]["post"]
    assert op["security"] == [{"AdminKey": []}] and "403" in op["responses"]
