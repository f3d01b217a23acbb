"""The native REST API through HTTP: every resource, every error class, tenant isolation."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.domain import settings as s
from dialgate.entrypoints.api.deps import SwitchCaller
from dialgate.services import apikeys
from dialgate.services.uow import Database
from tests.api.conftest import Tenant

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    return body


# --- authentication -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer dg_00000000.nope"}, {"Authorization": "Basic Zm9vOmJhcg=="}],
)
def test_requests_without_a_valid_key_are_401_with_a_bearer_challenge(
    client: TestClient, alice: Tenant, headers: dict[str, str]
) -> None:
    response = client.get("/v1/account/settings", headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_no_longer_works(client: TestClient, api_db: Database, alice: Tenant) -> None:
    assert client.get("/v1/account", headers=alice.auth).status_code == 200
    with api_db.uow() as uow:
        (key,) = apikeys.list_api_keys(uow, alice.number)
        apikeys.revoke_api_key(uow, alice.number, key.id)
        uow.commit()
    assert_problem(client.get("/v1/account", headers=alice.auth), 401)


def test_a_switch_token_is_not_a_customer_key(
    client: TestClient, api_db: Database, alice: Tenant
) -> None:
    with api_db.uow() as uow:
        _info, token = apikeys.create_switch_token(uow, name="pop")
        uow.commit()
    assert_problem(client.get("/v1/account", headers={"Authorization": f"Bearer {token}"}), 401)


# --- main account settings ----------------------------------------------------------------------


def test_get_settings_lists_exactly_the_settings_keys(client: TestClient, alice: Tenant) -> None:
    response = client.get("/v1/account/settings", headers=alice.auth)
    assert response.status_code == 200
    body = response.json()
    assert body["account"] == "100000"
    assert set(body["settings"]) == set(s.STORED_MAIN_KEYS)
    assert body["settings"]["allow_international"] is False
    assert body["settings"]["max_expiry"] == 3600
    assert body["settings"]["balance_threshold"] == "5"


def test_patch_changes_only_the_given_keys(client: TestClient, alice: Tenant) -> None:
    before = client.get("/v1/account/settings", headers=alice.auth).json()["settings"]
    response = client.patch(
        "/v1/account/settings",
        headers=alice.auth,
        json={
            "allow_411": True,
            "allowed_countries": ["FR", "GB"],
            "international_max_rate": "0.05",
        },
    )
    assert response.status_code == 200, response.text
    after = response.json()["settings"]
    assert after["allow_411"] is True
    assert after["allowed_countries"] == ["FR", "GB"]
    assert after["international_max_rate"] == "0.05"
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {"allow_411", "allowed_countries", "international_max_rate"}


def test_patch_with_one_bad_value_changes_nothing_and_names_every_broken_rule(
    client: TestClient, alice: Tenant
) -> None:
    before = client.get("/v1/account/settings", headers=alice.auth).json()
    response = client.patch(
        "/v1/account/settings",
        headers=alice.auth,
        json={"canada_route": "premium", "max_expiry": 5, "nat": "sometimes"},
    )
    body = assert_problem(response, 422)
    errors = {(e["field"], e["code"]) for e in body["errors"]}  # type: ignore[union-attr,index]
    assert errors == {("max_expiry", "out_of_range"), ("nat", "invalid_choice")}
    assert client.get("/v1/account/settings", headers=alice.auth).json() == before


def test_cross_field_rule_is_reported_with_its_code(client: TestClient, alice: Tenant) -> None:
    body = assert_problem(
        client.patch("/v1/account/settings", headers=alice.auth, json={"rtp_timeout": 900}), 422
    )
    assert body["errors"][0]["code"] == "rtp_timeout_greater_than_rtp_hold_timeout"  # type: ignore[index]


@pytest.mark.parametrize(
    "payload",
    [{"colour": "red"}, [1, 2], "text", {"max_expiry": {"a": 1}}],
    ids=["unknown-key", "array", "string", "object-value"],
)
def test_malformed_bodies_are_422(client: TestClient, alice: Tenant, payload: object) -> None:
    before = client.get("/v1/account/settings", headers=alice.auth).json()
    assert_problem(client.patch("/v1/account/settings", headers=alice.auth, json=payload), 422)
    assert client.get("/v1/account/settings", headers=alice.auth).json() == before


def test_invalid_json_is_422_not_500(client: TestClient, alice: Tenant) -> None:
    response = client.patch(
        "/v1/account/settings",
        headers={**alice.auth, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_problem(response, 422)


def test_secrets_are_write_only_and_history_masks_them(client: TestClient, alice: Tenant) -> None:
    response = client.patch(
        "/v1/account/settings", headers=alice.auth, json={"sip_password": "NewSecret99"}
    )
    assert response.status_code == 200
    assert "sip_password" not in response.json()["settings"]
    history = client.get("/v1/account/settings/history", headers=alice.auth).json()
    entry = next(e for e in history if e["key"] == "sip_password")
    assert entry["old"] == entry["new"] == "***"
    assert "NewSecret99" not in str(history)


def test_history_filters_by_tab(client: TestClient, alice: Tenant) -> None:
    client.patch("/v1/account/settings", headers=alice.auth, json={"nat": "no", "allow_411": 1})
    history = client.get(
        "/v1/account/settings/history", headers=alice.auth, params={"tab": "advanced"}
    ).json()
    assert [e["key"] for e in history] == ["nat"]
    assert history[0]["old"] == "yes" and history[0]["new"] == "no"
    assert_problem(
        client.get("/v1/account/settings/history", headers=alice.auth, params={"limit": 0}), 422
    )


def test_account_shows_number_email_and_sub_accounts(client: TestClient, alice: Tenant) -> None:
    body = client.get("/v1/account", headers=alice.auth).json()
    assert body["account"] == "100000" and body["email"] == "alice@example.com"
    assert body["subaccounts"] == ["100000_office"]


# --- sub accounts ---------------------------------------------------------------------------


def test_sub_account_create_get_patch_delete(client: TestClient, alice: Tenant) -> None:
    created = client.post(
        "/v1/subaccounts",
        headers=alice.auth,
        json={"username": "lab", "sip_password": "LabPass123", "description": "Lab", "nat": "no"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["account"] == "100000_lab" and body["settings"]["nat"] == "no"
    assert body["sources"]["nat"] == "override" and body["sources"]["dtmf_mode"] == "main"
    assert "sip_password" not in body["settings"]

    listed = client.get("/v1/subaccounts", headers=alice.auth).json()
    assert [x["account"] for x in listed] == ["100000_lab", "100000_office"]

    for path in ("/v1/subaccounts/lab", "/v1/subaccounts/100000_lab"):
        assert client.get(path, headers=alice.auth).json()["settings"]["description"] == "Lab"

    patched = client.patch(
        "/v1/subaccounts/lab", headers=alice.auth, json={"nat": None, "max_expiry": 120}
    ).json()
    assert patched["sources"]["nat"] == "main" and patched["settings"]["nat"] == "yes"
    assert patched["settings"]["max_expiry"] == 120

    assert client.delete("/v1/subaccounts/lab", headers=alice.auth).status_code == 204
    assert_problem(client.get("/v1/subaccounts/lab", headers=alice.auth), 404)


def test_sub_account_errors(client: TestClient, alice: Tenant) -> None:
    used = client.post(
        "/v1/subaccounts",
        headers=alice.auth,
        json={"username": "office", "sip_password": "LabPass123"},
    )
    assert assert_problem(used, 409)["code"] == "used_username"
    weak = client.post(
        "/v1/subaccounts", headers=alice.auth, json={"username": "lab", "sip_password": "short"}
    )
    assert assert_problem(weak, 422)["errors"][0]["field"] == "sip_password"  # type: ignore[index]
    main_only = client.patch("/v1/subaccounts/office", headers=alice.auth, json={"allow_411": True})
    assert assert_problem(main_only, 422)["errors"][0]["code"] == "unknown_key"  # type: ignore[index]
    assert_problem(client.delete("/v1/subaccounts/nobody", headers=alice.auth), 404)


def test_deleting_a_sub_account_that_dids_route_to_is_a_conflict(
    client: TestClient, alice: Tenant
) -> None:
    client.patch(
        "/v1/account/settings", headers=alice.auth, json={"did_routing": "account:100000_office"}
    )
    body = assert_problem(client.delete("/v1/subaccounts/office", headers=alice.auth), 409)
    assert body["code"] == "account_with_dids"
    assert client.get("/v1/subaccounts/office", headers=alice.auth).status_code == 200


def test_sub_account_history(client: TestClient, alice: Tenant) -> None:
    client.patch("/v1/subaccounts/office", headers=alice.auth, json={"dtmf_mode": "info"})
    history = client.get("/v1/subaccounts/office/settings/history", headers=alice.auth).json()
    assert history[0]["key"] == "dtmf_mode" and history[0]["account"] == "100000_office"


# --- tenant isolation -------------------------------------------------------------------------


def test_each_key_sees_and_changes_only_its_own_account(
    client: TestClient, alice: Tenant, bob: Tenant
) -> None:
    for me, other, other_sub in ((alice, bob, "desk"), (bob, alice, "office")):
        theirs_before = client.get("/v1/account/settings", headers=other.auth).json()
        subs_before = client.get("/v1/subaccounts", headers=other.auth).json()
        full = f"{other.number}_{other_sub}"
        for method, path, body in (
            ("GET", f"/v1/subaccounts/{full}", None),
            ("PATCH", f"/v1/subaccounts/{full}", {"nat": "never"}),
            ("DELETE", f"/v1/subaccounts/{full}", None),
            ("GET", f"/v1/subaccounts/{full}/settings/history", None),
            ("GET", f"/v1/subaccounts/{other_sub}", None),
            ("PATCH", f"/v1/subaccounts/{other_sub}", {"nat": "never"}),
        ):
            response = client.request(method, path, headers=me.auth, json=body)
            assert_problem(response, 404)
            assert other.number not in response.text or full in response.text
        # The only account a key can address is its own.
        mine = client.get("/v1/account/settings", headers=me.auth).json()
        assert mine["account"] == me.number
        assert client.get("/v1/account/settings", headers=other.auth).json() == theirs_before
        assert client.get("/v1/subaccounts", headers=other.auth).json() == subs_before
        listed = client.get("/v1/subaccounts", headers=me.auth).json()
        assert all(x["account"].startswith(f"{me.number}_") for x in listed)
        history = client.get("/v1/account/settings/history", headers=me.auth).json()
        assert all(e["account"].startswith(me.number) for e in history)


# --- catalogs ---------------------------------------------------------------------------------


def test_catalogs(client: TestClient, alice: Tenant) -> None:
    pops = client.get("/v1/catalogs/pops", headers=alice.auth).json()
    assert {"name": "houston1", "id": 1}.items() <= pops[0].items()
    countries = client.get(
        "/v1/catalogs/countries", headers=alice.auth, params={"language": "es"}
    ).json()
    jamaica = next(c for c in countries if c["code"] == "JM")
    assert jamaica["region"] == "Americas" and jamaica["region_name"] == "América"
    assert not {"US", "CA"} & {c["code"] for c in countries}
    moh = client.get("/v1/catalogs/music-on-hold", headers=alice.auth).json()
    assert {"key": "bleep", "test_code": "***100"}.items() <= moh[0].items()
    for name, value in (
        ("codecs", "g722"),
        ("dtmf-modes", "rfc2833"),
        ("nat", "route"),
        ("device-types", "pbx"),
        ("protocols", "iax2"),
        ("routes", "premium"),
    ):
        values = [c["value"] for c in client.get(f"/v1/catalogs/{name}", headers=alice.auth).json()]
        assert value in values, name
    assert_problem(
        client.get("/v1/catalogs/countries", headers=alice.auth, params={"language": "de"}), 422
    )


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/v1/account/settings" in schema["paths"]
    assert {"ApiKey"} <= set(schema["components"]["securitySchemes"])
    assert client.get("/docs").status_code == 200


# --- the switch-token dependency (for /switch/v1/*) -------------------------------------------


def test_switch_endpoints_accept_only_switch_tokens(
    app: FastAPI, api_db: Database, alice: Tenant
) -> None:
    @app.post("/switch/v1/echo")
    def echo(switch: SwitchCaller) -> dict[str, str]:
        return {"token": switch.id}

    with api_db.uow() as uow:
        info, token = apikeys.create_switch_token(uow, name="montreal1")
        uow.commit()
    with TestClient(app) as client:
        assert_problem(client.post("/switch/v1/echo"), 401)
        assert_problem(client.post("/switch/v1/echo", headers=alice.auth), 401)
        ok = client.post("/switch/v1/echo", headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"token": info.id}
        with api_db.uow() as uow:
            apikeys.revoke_switch_token(uow, info.id)
            uow.commit()
        revoked = client.post("/switch/v1/echo", headers={"Authorization": f"Bearer {token}"})
        assert_problem(revoked, 401)
