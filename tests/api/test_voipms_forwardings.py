"""getForwardings / setForwarding / delForwarding through HTTP: the reference's parameters,
statuses and response shape; refusals change nothing; another account's entries do not
exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.services import dids
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.test_voipms import Api, all_strings, enable

DID = "5145550100"
# From the VoIP.ms API reference: getForwardings' entry fields, and the documented statuses
# these methods answer.
REFERENCE_FIELDS = {"forwarding", "phone_number", "callerid_override", "description",
                    "dtmf_digits", "pause", "diversion_header"}
DOCUMENTED = {
    "no_forwarding", "invalid_forwarding", "missing_forwarding", "missing_phonenumber",
    "invalid_phonenumber", "invalid_pause", "invalid_dtmf_digits", "invalid_callerid_override",
    "invalid_diversion_header", "invalid_description", "account_with_dids",
}


@pytest.fixture
def vclient(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        yield client


@pytest.fixture
def api(vclient: TestClient, api_db: Database, alice: Tenant) -> Api:
    enable(api_db, alice, "127.0.0.1")
    return Api(vclient, alice)


def test_set_adds_then_updates_and_get_answers_the_reference_shape(api: Api) -> None:
    assert api.get("getForwardings") == {"status": "no_forwarding"}
    added = api.post("setForwarding", phone_number="5145550199", description="Mobile",
                     callerid_override="4385550111", dtmf_digits="123", pause="1.5",
                     diversion_header="1")
    assert added["status"] == "success" and added["forwarding"].isdigit()
    ident = added["forwarding"]
    (entry,) = api.get("getForwardings", forwarding=ident)["forwardings"]
    assert set(entry) == REFERENCE_FIELDS
    assert all_strings(entry)
    assert entry == {"forwarding": ident, "phone_number": "5145550199",
                     "callerid_override": "4385550111", "description": "Mobile",
                     "dtmf_digits": "123", "pause": "1.5", "diversion_header": "1"}
    intl = api.post("setForwarding", phone_number="011442079460123")
    assert api.post("setForwarding", forwarding=ident, phone_number="4385550100",
                    pause="0") == {"status": "success", "forwarding": ident}
    listed = api.get("getForwardings")["forwardings"]
    assert [(e["forwarding"], e["phone_number"], e["pause"]) for e in listed] == [
        (ident, "4385550100", "0.0"), (intl["forwarding"], "011442079460123", "0.0")]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, "missing_phonenumber"),
        ({"phone_number": "123"}, "invalid_phonenumber"),
        ({"phone_number": "5145550199", "pause": "0.7"}, "invalid_pause"),
        ({"phone_number": "5145550199", "dtmf_digits": "1-2"}, "invalid_dtmf_digits"),
        ({"phone_number": "5145550199", "callerid_override": "99"}, "invalid_callerid_override"),
        ({"phone_number": "5145550199", "diversion_header": "2"}, "invalid_diversion_header"),
        ({"phone_number": "5145550199", "description": "d" * 65}, "invalid_description"),
        ({"phone_number": "5145550199", "forwarding": "999999"}, "invalid_forwarding"),
        ({"phone_number": "5145550199", "forwarding": "abc"}, "invalid_forwarding"),
    ],
)
def test_set_refusals_are_documented_statuses_and_change_nothing(
    api: Api, params: dict[str, str], status: str
) -> None:
    assert status in DOCUMENTED
    assert api.post("setForwarding", **params) == {"status": status}
    assert api.get("getForwardings") == {"status": "no_forwarding"}


def test_delete_is_refused_while_a_did_routes_there_and_scoped_to_the_owner(
    vclient: TestClient, api: Api, api_db: Database, alice: Tenant, bob: Tenant
) -> None:
    ident = api.post("setForwarding", phone_number="5145550199")["forwarding"]
    with api_db.uow() as uow:
        dids.add_did(uow, alice.number, DID, {"failover_busy": f"fwd:{ident}"}, actor="t")
        uow.commit()
    assert api.get("delForwarding") == {"status": "missing_forwarding"}
    assert api.get("delForwarding", forwarding=ident) == {"status": "account_with_dids"}
    enable(api_db, bob, "127.0.0.1")
    as_bob = Api(vclient, bob)
    assert as_bob.get("getForwardings", forwarding=ident) == {"status": "invalid_forwarding"}
    assert as_bob.get("delForwarding", forwarding=ident) == {"status": "invalid_forwarding"}
    assert as_bob.post("setForwarding", forwarding=ident, phone_number="4165550123") == {
        "status": "invalid_forwarding"}
    assert api.get("getForwardings", forwarding=ident)["forwardings"][0]["phone_number"] == (
        "5145550199")
    assert api.post("setDIDRouting", did=DID, routing="sys:hangup")["status"] == "success"
    assert api.post("setDIDInfo", did=DID, routing="sys:hangup", failover_busy="none:",
                    pop="1", dialtime="60", cnam="0", billing_type="1")["status"] == "success"
    assert api.get("delForwarding", forwarding=ident) == {"status": "success"}
    assert api.get("getForwardings") == {"status": "no_forwarding"}
