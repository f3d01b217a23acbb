"""``/v1/forwardings`` through HTTP: create, read, change and delete call forwarding entries,
problem+json for every refusal (nothing changed), and tenant isolation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.seed import ALICE_MAIN_DID, BOB_DID, seed_dids
from tests.support.http import problem


def _create(client: TestClient, tenant: Tenant, **body: object) -> dict[str, object]:
    response = client.post("/v1/forwardings", headers=tenant.auth, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_create_read_change_and_delete(client: TestClient, alice: Tenant) -> None:
    made = _create(client, alice, phone_number="514-555-0199", description="Mobile",
                   pause=1.5, dtmf_digits="12#")
    assert (made["phone_number"], made["pause"], made["dtmf_digits"]) == (
        "+15145550199", "1.5", "12#")
    ident = made["id"]
    assert client.get(f"/v1/forwardings/{ident}", headers=alice.auth).json() == made
    changed = client.patch(f"/v1/forwardings/{ident}", headers=alice.auth,
                           json={"callerid_override": "4385550111", "diversion_header": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["callerid_override"], changed.json()["diversion_header"]) == (
        "4385550111", True)
    assert [e["id"] for e in client.get("/v1/forwardings", headers=alice.auth).json()] == [ident]
    assert client.delete(f"/v1/forwardings/{ident}", headers=alice.auth).status_code == 204
    assert client.get("/v1/forwardings", headers=alice.auth).json() == []


def test_bad_values_are_422_naming_each_field_and_change_nothing(
    client: TestClient, alice: Tenant
) -> None:
    made = _create(client, alice, phone_number="5145550199")
    body = problem(client.patch(f"/v1/forwardings/{made['id']}", headers=alice.auth,
                                json={"phone_number": "442079460000", "pause": "10.5"}), 422)
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("phone_number", "invalid_phonenumber"), ("pause", "invalid_pause")}
    problem(client.post("/v1/forwardings", headers=alice.auth, json={"description": "x"}), 422)
    problem(client.post("/v1/forwardings", headers=alice.auth,
                        json={"phone_number": "5145550199", "colour": "red"}), 422)
    assert client.get("/v1/forwardings", headers=alice.auth).json() == [made]


def test_deleting_a_forwarding_a_did_fails_over_to_is_409(
    client: TestClient, alice: Tenant, bob: Tenant, api_db: Database
) -> None:
    seed_dids(api_db)
    made = _create(client, alice, phone_number="5145550199")
    ref = f"fwd:{made['id']}"
    routed = client.patch(f"/v1/dids/{ALICE_MAIN_DID}", headers=alice.auth,
                          json={"failover_unreachable": ref})
    assert routed.status_code == 200, routed.text
    body = problem(client.delete(f"/v1/forwardings/{made['id']}", headers=alice.auth), 409)
    assert body["code"] == "forwarding_in_use" and ALICE_MAIN_DID in body["detail"]
    assert client.get(f"/v1/forwardings/{made['id']}", headers=alice.auth).status_code == 200


def test_another_accounts_forwarding_does_not_exist(
    client: TestClient, alice: Tenant, bob: Tenant, api_db: Database
) -> None:
    seed_dids(api_db)
    made = _create(client, alice, phone_number="5145550199")
    url = f"/v1/forwardings/{made['id']}"
    problem(client.get(url, headers=bob.auth), 404)
    problem(client.patch(url, headers=bob.auth, json={"description": "mine"}), 404)
    problem(client.delete(url, headers=bob.auth), 404)
    assert client.get("/v1/forwardings", headers=bob.auth).json() == []
    assert client.get(url, headers=alice.auth).json() == made
    # Nor can bob's DIDs route to it: it is not a target of his account.
    body = problem(client.patch(f"/v1/dids/{BOB_DID}", headers=bob.auth,
                                json={"routing": f"fwd:{made['id']}"}), 422)
    assert body["errors"][0]["code"] == "unknown_target"


def test_the_openapi_document_describes_the_resource(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/v1/forwardings"]) == {"get", "post"}
    assert set(paths["/v1/forwardings/{forwarding}"]) == {"get", "patch", "delete"}
    conflict = paths["/v1/forwardings/{forwarding}"]["delete"]["responses"]["409"]
    assert "application/problem+json" in conflict["content"]
