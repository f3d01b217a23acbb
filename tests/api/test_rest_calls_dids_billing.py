"""The native REST API's calls, DIDs and billing resources through HTTP, with tenant isolation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.services.authorize import PolicyCache
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.seed import (
    ALICE_MAIN_DID,
    ALICE_OFFICE_DID,
    BOB_DID,
    seed_dids,
    seed_ledger,
    seed_rates,
)
from tests.api.test_rest import assert_problem

UK = "011442079460000"
MONTREAL = "5145550199"


@pytest.fixture
def seeded(api_db: Database, alice: Tenant, bob: Tenant) -> None:
    seed_dids(api_db)
    seed_rates(api_db)
    seed_ledger(api_db)


def simulate(client: TestClient, tenant: Tenant, **body: Any) -> Any:
    return client.post("/v1/calls/simulate", headers=tenant.auth, json=body)


def steps(decision: dict[str, Any]) -> dict[str, str]:
    return {t["step"]: t["outcome"] for t in decision["trace"]}


# --- POST /v1/calls/simulate ------------------------------------------------------------------


def test_simulate_answers_the_decision_and_its_trace(
    client: TestClient, alice: Tenant, seeded: None
) -> None:
    allowed = simulate(client, alice, dialed=MONTREAL)
    assert allowed.status_code == 200, allowed.text
    body = allowed.json()
    assert body["allow"] is True and body["reason"] == "ok" and body["sip_code"] == 200
    assert body["destination"]["e164"] == "+15145550199" and body["route"] == "value"
    assert Decimal(body["rate_per_minute"]) == Decimal("0.009") and body["max_duration_s"] > 0
    assert steps(body)["rate"] == "pass"

    denied = simulate(client, alice, dialed=UK).json()
    assert (denied["allow"], denied["reason"], denied["sip_code"]) == (
        False,
        "international_disabled",
        403,
    )
    assert steps(denied)["international_lock"] == "deny"


def test_simulate_sees_a_settings_change_at_once_through_the_shared_cache(
    app: FastAPI, client: TestClient, alice: Tenant, seeded: None
) -> None:
    assert simulate(client, alice, dialed=UK).json()["allow"] is False
    cache = app.state.policy_cache
    assert isinstance(cache, PolicyCache)
    patched = client.patch(
        "/v1/account/settings", headers=alice.auth, json={"allow_international": True}
    )
    assert patched.status_code == 200
    after = simulate(client, alice, dialed=UK).json()
    assert after["allow"] is True and Decimal(after["rate_per_minute"]) == Decimal("0.015")
    assert app.state.policy_cache is cache  # one cache for the app, never one per request


def test_an_existing_app_cache_is_used_rather_than_a_new_one(
    app: FastAPI, api_db: Database, alice: Tenant
) -> None:
    assert getattr(app.state, "policy_cache", None) is None  # created lazily
    mine = PolicyCache(api_db)
    app.state.policy_cache = mine
    with TestClient(app) as client:
        assert simulate(client, alice, dialed=MONTREAL).status_code == 200
    assert app.state.policy_cache is mine


def test_simulate_as_a_sub_account_uses_its_effective_settings(
    client: TestClient, alice: Tenant, seeded: None
) -> None:
    client.patch("/v1/subaccounts/office", headers=alice.auth, json={"allow_international": True})
    for name in ("office", "100000_office"):
        assert simulate(client, alice, dialed=UK, subaccount=name).json()["allow"] is True
    assert simulate(client, alice, dialed=UK).json()["allow"] is False


def test_simulate_checks_the_request_and_never_errors(
    client: TestClient, alice: Tenant, seeded: None
) -> None:
    for body, field in (
        ({"dialed": MONTREAL, "source_ip": "not-an-ip"}, "source_ip"),
        ({"dialed": MONTREAL, "transport": "sctp"}, "transport"),
        ({"dialed": ""}, "dialed"),
        ({"dialed": "1" * 65}, "dialed"),
        ({}, "dialed"),
        ({"dialed": MONTREAL, "colour": "red"}, "colour"),
    ):
        problem = assert_problem(simulate(client, alice, **body), 422)
        assert problem["errors"][0]["field"] == field, body  # type: ignore[index]
    odd = simulate(client, alice, dialed="*#abc", pop="nowhere", caller_id="x" * 40).json()
    assert odd["allow"] is False and odd["reason"] == "invalid_number"
    restricted = simulate(client, alice, dialed=MONTREAL, source_ip="192.0.2.1", srtp=True)
    assert restricted.status_code == 200


# --- /v1/dids -----------------------------------------------------------------------------


def test_list_and_get_dids(client: TestClient, alice: Tenant, seeded: None) -> None:
    listed = client.get("/v1/dids", headers=alice.auth).json()
    assert [d["number"] for d in listed] == [ALICE_MAIN_DID, ALICE_OFFICE_DID]
    main = listed[0]
    assert main == {
        "account": "100000",
        "number": ALICE_MAIN_DID,
        "description": "Main line",
        "routing": "account:100000",
        "failover_busy": "none:",
        "failover_unreachable": "none:",
        "failover_noanswer": "none:",
        "pop": main["pop"],
        "plan": "per_minute",
        "cnam_lookup": False,
        "e911_enabled": False,
        "dial_time": 60,
    }
    for spelling in (ALICE_MAIN_DID, f"+1{ALICE_MAIN_DID}", f"1{ALICE_MAIN_DID}"):
        assert client.get(f"/v1/dids/{spelling}", headers=alice.auth).json() == main
    assert_problem(client.get("/v1/dids/5149999999", headers=alice.auth), 404)
    assert_problem(client.get("/v1/dids/not-a-number", headers=alice.auth), 422)


def test_patch_did_changes_every_documented_key(
    client: TestClient, alice: Tenant, seeded: None
) -> None:
    change = {
        "routing": "account:100000_office",
        "failover_busy": "vm:1001",
        "failover_unreachable": "sys:hangup",
        "failover_noanswer": "vm:1001",
        "pop": "montreal1",
        "plan": "flat",
        "cnam_lookup": True,
        "e911_enabled": True,
        "description": "Reception",
        "dial_time": 30,
    }
    response = client.patch(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth, json=change)
    assert response.status_code == 200, response.text
    assert change.items() <= response.json().items()
    assert client.get(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth).json() == response.json()
    history = client.get("/v1/account/settings/history", headers=alice.auth).json()
    assert {"account": ALICE_MAIN_DID, "key": "dial_time", "old": "60", "new": "30"}.items() <= (
        next(e for e in history if e["key"] == "dial_time").items()
    )


def test_patch_did_is_all_or_nothing(client: TestClient, alice: Tenant, seeded: None) -> None:
    before = client.get(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth).json()
    response = client.patch(
        f"/v1/dids/{ALICE_MAIN_DID}",
        headers=alice.auth,
        json={
            "description": "Changed",
            "dial_time": 3,
            "routing": "account:200000_desk",
            "pop": "atlantis1",
        },
    )
    errors = {(e["field"], e["code"]) for e in assert_problem(response, 422)["errors"]}  # type: ignore[union-attr,index]
    assert errors == {
        ("dial_time", "out_of_range"),
        ("routing", "unknown_target"),
        ("pop", "invalid_pop"),
    }
    for body in ({"plan": "yearly"}, {"routing": None}, {"colour": "red"}, {}, [1]):
        assert_problem(
            client.patch(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth, json=body), 422
        )
    assert client.get(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth).json() == before


# --- /v1/balance and /v1/transactions ---------------------------------------------------------


def test_balance_and_transactions(client: TestClient, alice: Tenant, seeded: None) -> None:
    balance = client.get("/v1/balance", headers=alice.auth).json()
    assert balance["account"] == "100000"
    assert balance["current_balance"].startswith("24.98") and balance["calls_total"] == 1
    assert balance["spent_total"].startswith("0.02") and balance["time_total_s"] == 120
    window = {"from": "2024-05-01", "to": "2024-05-01"}
    rows = client.get("/v1/transactions", headers=alice.auth, params=window).json()
    assert [(r["kind"], r["amount"][:6]) for r in rows] == [
        ("deposit", "25.00"),
        ("call", "-0.02"),
    ]
    assert rows[1]["uniqueid"] == "call-100000-1"
    later = {"from": "2024-05-02", "to": "2024-06-01"}
    assert client.get("/v1/transactions", headers=alice.auth, params=later).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": "2024-05-01"},
        {"from": "2024-05-02", "to": "2024-05-01"},
        {"from": "yesterday", "to": "2024-05-01"},
        {"from": "0001-01-01", "to": "9999-12-31"},
    ],
)
def test_transaction_windows_are_checked(
    client: TestClient, alice: Tenant, params: dict[str, str]
) -> None:
    response = client.get("/v1/transactions", headers=alice.auth, params=params)
    if params.get("to") == "9999-12-31":
        assert response.status_code == 200  # the widest window works (no date overflow)
    else:
        assert_problem(response, 422)


# --- tenant isolation -------------------------------------------------------------------------


def test_a_key_cannot_see_change_or_dial_as_another_account(
    client: TestClient, alice: Tenant, bob: Tenant, seeded: None
) -> None:
    theirs = {ALICE_MAIN_DID: alice, BOB_DID: bob}
    for me, other, other_sub in ((bob, alice, "100000_office"), (alice, bob, "200000_desk")):
        mine = {d["number"] for d in client.get("/v1/dids", headers=me.auth).json()}
        assert mine == {n for n, t in theirs.items() if t is me} | (
            {ALICE_OFFICE_DID} if me is alice else set()
        )
        their_did = next(n for n, t in theirs.items() if t is other)
        before = client.get(f"/v1/dids/{their_did}", headers=other.auth).json()
        assert_problem(client.get(f"/v1/dids/{their_did}", headers=me.auth), 404)
        patch = client.patch(f"/v1/dids/{their_did}", headers=me.auth, json={"routing": "none:"})
        assert_problem(patch, 404)
        assert client.get(f"/v1/dids/{their_did}", headers=other.auth).json() == before
        for sub in (other_sub, other_sub.split("_")[1] + "x"):
            assert_problem(simulate(client, me, dialed=MONTREAL, subaccount=sub), 404)
        # Routing one's own DID to the other account is refused as an unknown target.
        my_did = next(iter(mine))
        refused = client.patch(
            f"/v1/dids/{my_did}", headers=me.auth, json={"routing": f"account:{other_sub}"}
        )
        assert assert_problem(refused, 422)["errors"][0]["code"] == "unknown_target"  # type: ignore[index]
    bob_balance = client.get("/v1/balance", headers=bob.auth).json()
    assert bob_balance["calls_total"] == 0 and bob_balance["current_balance"].startswith("0")
    window = {"from": "2024-01-01", "to": "2024-12-31"}
    assert client.get("/v1/transactions", headers=bob.auth, params=window).json() == []
