"""Changing the portal password through ``PATCH /v1/account/settings``: the current password is
required (as in the portal), wrong ones are throttled, and a change ends every portal session."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dialgate.adapters import passwords
from dialgate.services import lookups, portal_auth
from dialgate.services.uow import Database
from tests.api.conftest import Tenant

URL = "/v1/account/settings"
OLD = "Portal123x"
NEW = "BrandNew77x"


def open_sessions(db: Database, tenant: Tenant, count: int = 2) -> int:
    with db.uow() as uow:
        target = portal_auth.find_login(uow, tenant.number)
        for _ in range(count):
            portal_auth.open_session(uow, target)
        uow.commit()
        return target.account_id or 0


def state(db: Database, tenant: Tenant, account_id: int) -> tuple[bool, bool, int]:
    with db.uow(write=False) as uow:
        stored = lookups.get_account(uow, tenant.number).portal_password_hash
        return (
            passwords.verify_password(stored, OLD),
            passwords.verify_password(stored, NEW),
            portal_auth.session_count(uow, account_id),
        )


def errors(r: object) -> list[tuple[str, str]]:
    body = r.json()  # type: ignore[attr-defined]
    return [(e["field"], e["code"]) for e in body["errors"]]


def test_without_the_current_password_nothing_changes(
    client: TestClient, api_db: Database, alice: Tenant
) -> None:
    account_id = open_sessions(api_db, alice)
    r = client.patch(URL, json={"portal_password": NEW}, headers=alice.auth)
    assert r.status_code == 422
    assert errors(r) == [("current_portal_password", "required")]
    assert state(api_db, alice, account_id) == (True, False, 2)


def test_a_wrong_current_password_changes_nothing_and_is_throttled(
    client: TestClient, api_db: Database, alice: Tenant
) -> None:
    account_id = open_sessions(api_db, alice)
    for _ in range(5):
        r = client.patch(
            URL,
            json={"portal_password": NEW, "current_portal_password": "Guess999x"},
            headers=alice.auth,
        )
        assert r.status_code == 422 and errors(r) == [("current_portal_password", "wrong_password")]
    r = client.patch(
        URL, json={"portal_password": NEW, "current_portal_password": OLD}, headers=alice.auth
    )
    assert errors(r) == [("current_portal_password", "too_many_attempts")]
    assert state(api_db, alice, account_id) == (True, False, 2)


def test_the_right_current_password_changes_it_and_ends_every_portal_session(
    client: TestClient, api_db: Database, alice: Tenant
) -> None:
    account_id = open_sessions(api_db, alice)
    r = client.patch(
        URL,
        json={"portal_password": NEW, "current_portal_password": OLD, "nat": "yes"},
        headers=alice.auth,
    )
    assert r.status_code == 200, r.text
    assert "current_portal_password" not in r.json()["settings"]
    assert state(api_db, alice, account_id) == (False, True, 0)


def test_other_settings_need_no_current_password(
    client: TestClient, api_db: Database, alice: Tenant
) -> None:
    account_id = open_sessions(api_db, alice)
    r = client.patch(URL, json={"nat": "yes"}, headers=alice.auth)
    assert r.status_code == 200
    assert state(api_db, alice, account_id) == (True, False, 2)
