"""The VoIP.ms-compatible API through HTTP: wire rules, statuses, catalogs and sub accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.services import accounts, apikeys, audit
from dialgate.services.uow import Database
from tests.api.conftest import Tenant

URL = "/api/v1/rest.php"
API_PASSWORD = "ApiPass123"


def enable(db: Database, tenant: Tenant, *ips: str) -> None:
    with db.uow() as uow:
        apikeys.enable_voipms_api(uow, tenant.number, password=API_PASSWORD, allowed_ips=ips)
        uow.commit()


@pytest.fixture
def vclient(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        yield client


class Api:
    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client, self.tenant = client, tenant

    def creds(self) -> dict[str, str]:
        return {"api_username": self.tenant.email, "api_password": API_PASSWORD}

    def get(self, method: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(URL, params={**self.creds(), "method": method, **params})
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    def post(self, method: str, *, multipart: bool = False, **params: Any) -> dict[str, Any]:
        data = {**self.creds(), "method": method, **params}
        if multipart:
            response = self.client.post(URL, files={k: (None, str(v)) for k, v in data.items()})
        else:
            response = self.client.post(URL, data=data)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(vclient: TestClient, api_db: Database, alice: Tenant) -> Api:
    enable(api_db, alice, "127.0.0.1")
    return Api(vclient, alice)


NEW_SUB = {
    "username": "lab",
    "protocol": "1",
    "auth_type": "1",
    "password": "LabPass123",
    "device_type": "2",
    "lock_international": "1",
    "international_route": "1",
    "music_on_hold": "default",
    "allowed_codecs": "ulaw;g729",
    "dtmf_mode": "auto",
    "nat": "yes",
}


def all_strings(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and all_strings(v) for k, v in value.items())
    if isinstance(value, list):
        return all(all_strings(v) for v in value)
    return isinstance(value, str)


# --- wire rules and credentials -------------------------------------------------------------


def test_the_api_is_off_until_enabled(vclient: TestClient, api_db: Database, alice: Tenant) -> None:
    api = Api(vclient, alice)
    # No API yet: no address is allowed, so the password is not even looked at.
    assert api.get("getIP") == {"status": "ip_not_enabled"}
    enable(api_db, alice, "127.0.0.1")
    assert api.get("getIP") == {"status": "success", "ip": "127.0.0.1"}
    with api_db.uow() as uow:
        apikeys.disable_voipms_api(uow, alice.number)
        uow.commit()
    assert api.get("getIP") == {"status": "api_not_enabled"}


def test_credential_statuses(api: Api) -> None:
    assert api.client.get(URL, params={"method": "getIP"}).json() == {
        "status": "missing_credentials"
    }
    wrong = {"api_username": api.tenant.email, "api_password": "Wrong1234", "method": "getIP"}
    assert api.client.get(URL, params=wrong).json() == {"status": "invalid_credentials"}
    # The API username is the account's email, not its number: an unknown username allows no
    # address, so it answers like a known one called from elsewhere (nothing to enumerate).
    number = {"api_username": api.tenant.number, "api_password": API_PASSWORD, "method": "getIP"}
    assert api.client.get(URL, params=number).json() == {"status": "ip_not_enabled"}
    assert api.client.get(URL, params=api.creds()).json() == {"status": "missing_method"}
    assert api.get("getEverything") == {"status": "invalid_method"}


def test_only_allowed_ips_may_call_even_getip(
    app: FastAPI, api_db: Database, alice: Tenant
) -> None:
    enable(api_db, alice, "10.0.0.0/8")
    with TestClient(app, client=("192.0.2.7", 1234)) as outside:
        api = Api(outside, alice)
        assert api.get("getRoutes") == {"status": "ip_not_enabled"}
        # getIP too: valid credentials from anywhere would otherwise confirm a guessed password.
        assert api.get("getIP") == {"status": "ip_not_enabled"}
    with TestClient(app, client=("10.1.2.3", 1234)) as inside:
        assert Api(inside, alice).get("getRoutes")["status"] == "success"


def test_get_post_urlencoded_and_multipart_all_work(api: Api) -> None:
    for body in (
        api.get("getRoutes"),
        api.post("getRoutes"),
        api.post("getRoutes", multipart=True),
    ):
        assert body["routes"] == [
            {"value": "1", "description": "Value"},
            {"value": "2", "description": "Premium"},
        ]


def test_unknown_parameters_are_ignored_and_empty_means_not_given(api: Api) -> None:
    assert api.get("getRoutes", colour="red", route="")["status"] == "success"
    assert len(api.get("getRoutes", route="")["routes"]) == 2
    assert api.get("getRoutes", route="2")["routes"] == [{"value": "2", "description": "Premium"}]
    assert api.get("getRoutes", route="7") == {"status": "invalid_route"}


@pytest.mark.parametrize(
    ("method", "key", "probe", "invalid"),
    [
        ("getServersInfo", "servers", {"server_pop": "1"}, {"server_pop": "999"}),
        ("getCountries", "countries", {"country": "JM"}, {"country": "XX"}),
        ("getLanguages", "languages", {"language": "fr"}, {"language": "de"}),
        ("getProtocols", "protocols", {"protocol": "3"}, {"protocol": "2"}),
        ("getAuthTypes", "auth_types", {"type": "1"}, {"type": "9"}),
        ("getDeviceTypes", "device_types", {"device_type": "1"}, {"device_type": "5"}),
        ("getDTMFModes", "dtmf_modes", {"dtmf_mode": "inband"}, {"dtmf_mode": "x"}),
        ("getNAT", "nat", {"nat": "route"}, {"nat": "x"}),
        (
            "getLockInternational",
            "lock_international",
            {"lock_international": "1"},
            {"lock_international": "5"},
        ),
        ("getAllowedCodecs", "allowed_codecs", {"codec": "ulaw"}, {"codec": "opus"}),
        (
            "getMusicOnHold",
            "music_on_hold",
            {"music_on_hold": "spa_sounds"},
            {"music_on_hold": "jazz"},
        ),
    ],
)
def test_catalog_methods(
    api: Api, method: str, key: str, probe: dict[str, str], invalid: dict[str, str]
) -> None:
    everything = api.get(method)
    assert everything["status"] == "success" and len(everything[key]) >= 1
    assert all_strings(everything)
    (one,) = api.get(method, **probe)[key]
    assert one in everything[key]
    assert api.get(method, **invalid)["status"].startswith("invalid_")


def test_servers_info_has_the_documented_fields(api: Api) -> None:
    (houston,) = api.get("getServersInfo", server_pop="1")["servers"]
    assert houston["server_pop"] == "1" and houston["server_shortname"] == "Houston"
    assert houston["server_recommended"] in ("Yes", "No")
    canada = api.get("getCountries", country="CA")["countries"]
    assert canada == [{"value": "CA", "description": "Canada"}]


# --- sub accounts ---------------------------------------------------------------------------


def test_get_sub_accounts_never_returns_a_password_and_filters(api: Api) -> None:
    body = api.get("getSubAccounts")
    assert body["status"] == "success" and all_strings(body)
    (office,) = body["accounts"]
    assert office["account"] == "100000_office" and "password" not in office
    assert office["lock_international"] == "1" and office["tfcarrier"] == "-1"
    assert office["dialing_mode"] == "0" and office["music_on_hold"] == "default"
    for wanted in ("100000_office", "office", office["id"]):
        assert api.get("getSubAccounts", account=wanted)["accounts"] == [office]
    assert api.get("getSubAccounts", account="100000_nobody") == {"status": "no_subaccount"}


def test_create_read_update_delete(api: Api, api_db: Database) -> None:
    created = api.post("createSubAccount", **{**NEW_SUB, "nat": "never", "description": "Lab"})
    assert created["status"] == "success" and created["account"] == "100000_lab"
    (lab,) = api.get("getSubAccounts", account="100000_lab")["accounts"]
    assert lab["nat"] == "never" and lab["allowed_codecs"] == "ulaw;g729"
    assert lab["description"] == "Lab" and lab["id"] == created["id"]
    # Values equal to the main account's stay inherited.
    with api_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_lab")
    assert view.sources["nat"] == "override" and view.sources["dtmf_mode"] == "main"

    changed = {
        **lab,
        "canada_routing": "2",
        "tfcarrier": "2",
        "dialing_mode": "1",
        "sip_traffic": "true",
        "max_expiry": "300",
    }
    assert api.get("setSubAccount", **changed) == {"status": "success"}
    (after,) = api.get("getSubAccounts", account="100000_lab")["accounts"]
    assert {
        k: after[k]
        for k in ("canada_routing", "tfcarrier", "dialing_mode", "sip_traffic", "max_expiry")
    } == {
        "canada_routing": "2",
        "tfcarrier": "2",
        "dialing_mode": "1",
        "sip_traffic": "1",
        "max_expiry": "300",
    }
    # Back to the main account's settings with the "use main account" codes.
    api.get("setSubAccount", **{**after, "tfcarrier": "-1", "dialing_mode": "0"})
    with api_db.uow(write=False) as uow:
        view = accounts.show_settings(uow, "100000_lab")
    assert view.sources["tollfree_carrier"] == "main" and view.sources["dialing_mode"] == "main"

    assert api.get("delSubAccount", id=lab["id"]) == {"status": "success"}
    assert api.get("getSubAccounts", account="100000_lab") == {"status": "no_subaccount"}
    assert api.get("delSubAccount", id=lab["id"]) == {"status": "invalid_id"}
    assert api.get("delSubAccount") == {"status": "missing_id"}


def test_read_modify_write_changes_nothing_else_and_keeps_the_password(
    api: Api, api_db: Database
) -> None:
    api.post("createSubAccount", **NEW_SUB)
    with api_db.uow(write=False) as uow:
        before = accounts.show_settings(uow, "100000_lab")
        digest = uow.session.execute(
            __import__("sqlalchemy").text("SELECT ha1 FROM subscriber WHERE username='100000_lab'")
        ).scalar_one()
    (lab,) = api.get("getSubAccounts", account="100000_lab")["accounts"]
    assert api.post("setSubAccount", **{**lab, "description": "Renamed"}) == {"status": "success"}
    with api_db.uow(write=False) as uow:
        after = accounts.show_settings(uow, "100000_lab")
        digest_after = uow.session.execute(
            __import__("sqlalchemy").text("SELECT ha1 FROM subscriber WHERE username='100000_lab'")
        ).scalar_one()
        history = audit.settings_history(uow, "100000_lab")
    assert digest_after == digest
    assert {k for k in after.values if after.values[k] != before.values[k]} == {"description"}
    assert after.sources == before.sources
    assert history[0].key == "description"


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"max_expiry": "30"}, "invalid_max_expiry"),
        ({"rtp_timeout": "0"}, "invalid_rtp_timeout"),
        ({"rtp_hold_timeout": "4000"}, "invalid_rtp_hold_timeout"),
        ({"rtp_timeout": "700"}, "rtp_timeout_greater_than_rtp_hold_timeout"),
        ({"enable_pop_restriction": "1"}, "missing_pop_restriction"),
        ({"enable_ip_restriction": "yes"}, "missing_ip_restriction"),
        ({"pop_restriction": "999"}, "invalid_pop_restriction"),
        ({"ip_restriction": "not an ip!"}, "invalid_ip"),
        ({"enable_ip_restriction": "maybe"}, "invalid_enable_ip_restriction"),
        ({"sip_traffic": "2"}, "invalid_sip_traffic"),
        ({"nat": "sometimes"}, "invalid_nat"),
        ({"dtmf_mode": "pulse"}, "invalid_dtmfmode"),
        ({"allowed_codecs": "opus"}, "invalid_allowedcodecs"),
        ({"music_on_hold": "jazz"}, "invalid_musiconhold"),
        ({"device_type": "9"}, "invalid_devicetype"),
        ({"lock_international": "4"}, "invalid_lockinternational"),
        ({"international_route": "3"}, "invalid_internationalroute"),
        ({"canada_routing": "3"}, "invalid_canada_routing"),
        ({"tfcarrier": "5"}, "invalid_carrier"),
        ({"callerid_number": "12"}, "invalid_callerid_override"),
        ({"protocol": "2"}, "invalid_protocol"),
        ({"auth_type": "2"}, "invalid_authtype"),
        ({"ip": "192.0.2.1"}, "invalid_ip_auth"),
        ({"password": "short1A"}, "invalid_password_lessthan_8characters_long"),
        ({"password": "alllower123"}, "invalid_password_missing_uppercase"),
        ({"password": "ALLUPPER123"}, "invalid_password_missing_lowercase"),
        ({"password": "NoDigitsHere"}, "invalid_password_missing_number"),
        ({"password": "Bad Pass 123"}, "invalid_password_ilegal_characters"),
    ],
)
def test_set_sub_account_rejects_with_the_documented_status_and_changes_nothing(
    api: Api, api_db: Database, change: dict[str, str], status: str
) -> None:
    (office,) = api.get("getSubAccounts")["accounts"]
    assert api.get("setSubAccount", **{**office, **change}) == {"status": status}
    assert api.get("getSubAccounts")["accounts"] == [office]


@pytest.mark.parametrize(
    ("missing", "status"),
    [
        ("id", "missing_id"),
        ("auth_type", "missing_authtype"),
        ("device_type", "missing_devicetype"),
        ("lock_international", "missing_lockinternational"),
        ("international_route", "missing_internationalroute"),
        ("music_on_hold", "missing_musiconhold"),
        ("allowed_codecs", "missing_allowedcodecs"),
        ("dtmf_mode", "missing_dtmfmode"),
        ("nat", "missing_nat"),
    ],
)
def test_set_sub_account_required_fields(api: Api, missing: str, status: str) -> None:
    (office,) = api.get("getSubAccounts")["accounts"]
    assert api.get("setSubAccount", **{**office, missing: ""}) == {"status": status}


@pytest.mark.parametrize(
    ("missing", "status"),
    [
        ("username", "missing_username"),
        ("protocol", "missing_protocol"),
        ("auth_type", "missing_authtype"),
        ("password", "missing_password"),
        ("nat", "missing_nat"),
    ],
)
def test_create_sub_account_required_fields(api: Api, missing: str, status: str) -> None:
    assert api.get("createSubAccount", **{**NEW_SUB, missing: ""}) == {"status": status}
    assert api.get("getSubAccounts", account="100000_lab") == {"status": "no_subaccount"}


def test_create_conflicts(api: Api) -> None:
    assert api.get("createSubAccount", **{**NEW_SUB, "username": "office"}) == {
        "status": "used_username"
    }
    assert api.get("createSubAccount", **{**NEW_SUB, "username": "bad_name!"}) == {
        "status": "invalid_username"
    }


def test_deleting_a_sub_account_a_did_routes_to_answers_account_with_dids(
    api: Api, api_db: Database
) -> None:
    with api_db.uow() as uow:
        accounts.update_settings(
            uow, "100000", {"did_failover_busy": "account:100000_office"}, actor="test"
        )
        uow.commit()
    (office,) = api.get("getSubAccounts")["accounts"]
    assert api.get("delSubAccount", id=office["id"]) == {"status": "account_with_dids"}


def test_tenants_cannot_touch_each_others_sub_accounts(
    api: Api, api_db: Database, bob: Tenant
) -> None:
    enable(api_db, bob, "127.0.0.1")
    bob_api = Api(api.client, bob)
    (desk,) = bob_api.get("getSubAccounts")["accounts"]
    assert api.get("getSubAccounts", account=desk["id"]) == {"status": "no_subaccount"}
    assert api.get("getSubAccounts", account="200000_desk") == {"status": "no_subaccount"}
    assert api.get("setSubAccount", **{**desk, "nat": "never"}) == {"status": "invalid_id"}
    assert api.get("delSubAccount", id=desk["id"]) == {"status": "invalid_id"}
    assert api.get("getRegistrationStatus", account="200000_desk") == {"status": "invalid_account"}
    assert bob_api.get("getSubAccounts")["accounts"] == [desk]


# --- registrations and voicemail ------------------------------------------------------------


def test_registration_status(api: Api, api_db: Database) -> None:
    assert api.get("getRegistrationStatus") == {"status": "missing_account"}
    assert api.get("getRegistrationStatus", account="100000_office") == {
        "status": "success",
        "registered": "no",
        "registrations": [],
    }
    from sqlalchemy import text

    with api_db.uow() as uow:  # the row Kamailio's usrloc writes (database mode)
        uow.session.execute(
            text(
                "INSERT INTO location (ruid, username, contact, received, expires, socket, "
                "user_agent) VALUES ('r1', '100000_office', 'sip:100000_office@10.0.0.5:5060', "
                "'sip:198.51.100.4:61000', '2030-01-01 10:00:00', 'udp:192.0.2.1:5060', 'Phone')"
            )
        )
        uow.commit()
    body = api.get("getRegistrationStatus", account="100000_office")
    assert body["registered"] == "yes"
    (reg,) = body["registrations"]
    assert reg["register_ip"] == "198.51.100.4" and reg["register_port"] == "61000"
    assert reg["register_next"] == "2030-01-01 10:00:00" and reg["register_transport"] == "UDP"


def test_voicemails(api: Api) -> None:
    (box,) = api.get("getVoicemails")["voicemails"]
    assert box["mailbox"] == "1001" and box["name"] == "Main box" and "password" not in box
    assert api.get("getVoicemails", mailbox="1001")["voicemails"] == [box]
    assert api.get("getVoicemails", mailbox="9999") == {"status": "no_mailbox"}


def test_access_logs_never_keep_the_api_password(app: FastAPI) -> None:
    import logging

    from dialgate.entrypoints.voipms import RedactApiPassword

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        (
            "127.0.0.1:5000",
            "GET",
            "/api/v1/rest.php?api_username=a%40b.c&api_password=ApiPass123&method=getIP",
            "1.1",
            200,
        ),
        None,
    )
    assert any(
        isinstance(f, RedactApiPassword) for f in logging.getLogger("uvicorn.access").filters
    )
    assert RedactApiPassword().filter(record)
    line = record.getMessage()
    assert "ApiPass123" not in line and "api_password=***&method=getIP" in line
