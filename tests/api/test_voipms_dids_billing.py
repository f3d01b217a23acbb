"""The VoIP.ms-compatible DID, balance, rate and transaction methods through HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
from tests.api.test_voipms import Api, all_strings, enable


@pytest.fixture
def vclient(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        yield client


@pytest.fixture
def api(vclient: TestClient, api_db: Database, alice: Tenant) -> Api:
    enable(api_db, alice, "127.0.0.1")
    return Api(vclient, alice)


@pytest.fixture
def seeded(
    api: Api,
    api_db: Database,
    bob: Tenant,
) -> Api:
    seed_dids(api_db)
    seed_rates(api_db)
    seed_ledger(api_db)
    return api


def did_info(api: Api, number: str) -> dict[str, str]:
    (row,) = api.get("getDIDsInfo", did=number)["dids"]
    return row


# --- getBalance -------------------------------------------------------------------------------


def test_get_balance_plain_and_advanced(seeded: Api) -> None:
    plain = seeded.get("getBalance")
    assert plain["status"] == "success" and list(plain["balance"]) == ["current_balance"]
    assert plain["balance"]["current_balance"].startswith("24.98")
    for flag in ("1", "true", "True", "yes"):
        advanced = seeded.get("getBalance", advanced=flag)
        assert all_strings(advanced)
        assert set(advanced["balance"]) == {
            "current_balance",
            "spent_total",
            "calls_total",
            "time_total",
            "spent_today",
            "calls_today",
            "time_today",
        }
        assert advanced["balance"]["calls_total"] == "1"
        assert advanced["balance"]["time_total"] == "2:00"
    for flag in ("0", "false", "no", "maybe"):
        assert list(seeded.get("getBalance", advanced=flag)["balance"]) == ["current_balance"]


# --- getDIDsInfo ------------------------------------------------------------------------------


def test_get_dids_info_lists_the_callers_dids_in_the_documented_shape(seeded: Api) -> None:
    body = seeded.get("getDIDsInfo")
    assert body["status"] == "success" and all_strings(body)
    assert [d["did"] for d in body["dids"]] == [ALICE_MAIN_DID, ALICE_OFFICE_DID]
    main = body["dids"][0]
    assert {
        "did": ALICE_MAIN_DID,
        "description": "Main line",
        "routing": "account:100000",
        "failover_busy": "none:",
        "dialtime": "60",
        "cnam": "0",
        "e911": "0",
        "note": "Main line",
        "billing_type": "1",
    }.items() <= main.items()
    assert main["pop"].isdigit()


def test_get_dids_info_filters(seeded: Api) -> None:
    assert [d["did"] for d in seeded.get("getDIDsInfo", did=ALICE_OFFICE_DID)["dids"]] == [
        ALICE_OFFICE_DID
    ]
    assert [d["did"] for d in seeded.get("getDIDsInfo", did=f"1{ALICE_MAIN_DID}")["dids"]] == [
        ALICE_MAIN_DID
    ]
    for params in ({"client": "100000_office"}, {"did": "100000_office"}):
        assert [d["did"] for d in seeded.get("getDIDsInfo", **params)["dids"]] == [ALICE_OFFICE_DID]
    assert seeded.get("getDIDsInfo", did=BOB_DID) == {"status": "no_did"}
    assert seeded.get("getDIDsInfo", did="12") == {"status": "invalid_did"}
    assert seeded.get("getDIDsInfo", client="200000_desk") == {"status": "invalid_client"}
    assert seeded.get("getDIDsInfo", client="561115") == {"status": "invalid_client"}
    assert seeded.get("getDIDsInfo", client="100000_nobody") == {"status": "invalid_client"}


def test_get_dids_info_without_dids_is_no_did(api: Api) -> None:
    assert api.get("getDIDsInfo") == {"status": "no_did"}


# --- setDIDRouting / setDIDPOP ----------------------------------------------------------------


def test_set_did_routing(seeded: Api) -> None:
    assert seeded.get("setDIDRouting", did=ALICE_MAIN_DID, routing="vm:1001") == {
        "status": "success"
    }
    assert did_info(seeded, ALICE_MAIN_DID)["routing"] == "vm:1001"
    assert did_info(seeded, ALICE_MAIN_DID)["voicemail"] == "1001"
    posted = seeded.post(
        "setDIDRouting", multipart=True, did=ALICE_MAIN_DID, routing="account:100000_office"
    )
    assert posted == {"status": "success"}
    assert did_info(seeded, ALICE_MAIN_DID)["routing"] == "account:100000_office"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"routing": "vm:1001"}, "missing_did"),
        ({"did": ALICE_MAIN_DID}, "missing_routing"),
        ({"did": ALICE_MAIN_DID, "routing": ""}, "missing_routing"),
        ({"did": "abc", "routing": "vm:1001"}, "invalid_did"),
        ({"did": BOB_DID, "routing": "vm:1001"}, "invalid_did"),
        ({"did": ALICE_MAIN_DID, "routing": "carrier:pigeon"}, "invalid_routing_header"),
        ({"did": ALICE_MAIN_DID, "routing": "1001"}, "invalid_routing_header"),
        ({"did": ALICE_MAIN_DID, "routing": "account:200000_desk"}, "invalid_account"),
        ({"did": ALICE_MAIN_DID, "routing": "vm:9999"}, "invalid_mailbox"),
        ({"did": ALICE_MAIN_DID, "routing": "fwd:77"}, "invalid_forwarding"),
    ],
)
def test_set_did_routing_statuses(seeded: Api, params: dict[str, str], status: str) -> None:
    assert seeded.get("setDIDRouting", **params) == {"status": status}
    assert did_info(seeded, ALICE_MAIN_DID)["routing"] == "account:100000"


def test_set_did_pop(seeded: Api) -> None:
    pops = {s["server_hostname"]: s["server_pop"] for s in seeded.get("getServersInfo")["servers"]}
    toronto = pops["toronto1.dialgate.test"]
    assert seeded.get("setDIDPOP", did=ALICE_MAIN_DID, pop=toronto) == {"status": "success"}
    assert did_info(seeded, ALICE_MAIN_DID)["pop"] == toronto
    assert seeded.get("setDIDPOP", did=ALICE_MAIN_DID) == {"status": "missing_serverpop"}
    assert seeded.get("setDIDPOP", pop=toronto) == {"status": "missing_did"}
    assert seeded.get("setDIDPOP", did=ALICE_MAIN_DID, pop="999") == {"status": "invalid_serverpop"}
    assert seeded.get("setDIDPOP", did=BOB_DID, pop="999") == {"status": "invalid_did"}
    assert did_info(seeded, ALICE_MAIN_DID)["pop"] == toronto


# --- setDIDInfo -------------------------------------------------------------------------------

INFO = {
    "did": ALICE_MAIN_DID,
    "routing": "account:100000_office",
    "failover_busy": "vm:1001",
    "failover_unreachable": "sys:hangup",
    "failover_noanswer": "none:",
    "pop": "2",
    "dialtime": "25",
    "cnam": "1",
    "billing_type": "2",
    "note": "Front desk",
    "callerid_prefix": "MTL",
    "some_future_parameter": "ignored",
}


def test_set_did_info_sets_every_field(seeded: Api) -> None:
    assert seeded.post("setDIDInfo", **INFO) == {"status": "success"}
    row = did_info(seeded, ALICE_MAIN_DID)
    assert {
        "routing": "account:100000_office",
        "failover_busy": "vm:1001",
        "failover_unreachable": "sys:hangup",
        "failover_noanswer": "none:",
        "pop": "2",
        "dialtime": "25",
        "cnam": "1",
        "billing_type": "2",
        "note": "Front desk",
    }.items() <= row.items()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"did": None}, "missing_did"),
        ({"routing": None}, "missing_routing"),
        ({"pop": None}, "missing_serverpop"),
        ({"dialtime": None}, "missing_dialtime"),
        ({"cnam": None}, "missing_cnam"),
        ({"billing_type": None}, "missing_billingtype"),
        ({"did": BOB_DID}, "invalid_did"),
        ({"did": BOB_DID, "pop": "999"}, "invalid_did"),
        ({"routing": "nowhere"}, "invalid_routing_header"),
        ({"failover_busy": "nowhere"}, "invalid_failover_header"),
        ({"failover_noanswer": "vm:4242"}, "invalid_mailbox"),
        ({"pop": "999"}, "invalid_serverpop"),
        ({"dialtime": "3"}, "invalid_dialtime"),
        ({"dialtime": "soon"}, "invalid_dialtime"),
        ({"cnam": "perhaps"}, "invalid_cnam"),
        ({"billing_type": "3"}, "invalid_billingtype"),
        ({"note": "x" * 101}, "note_toolong"),
        ({"note": "tab\there"}, "invalid_note"),
    ],
)
def test_set_did_info_statuses_change_nothing(
    seeded: Api, change: dict[str, str | None], status: str
) -> None:
    before = did_info(seeded, ALICE_MAIN_DID)
    params = {k: v for k, v in {**INFO, **change}.items() if v is not None}
    assert seeded.post("setDIDInfo", **params) == {"status": status}
    assert did_info(seeded, ALICE_MAIN_DID) == before


# --- getTerminationRates ----------------------------------------------------------------------


def test_get_termination_rates(seeded: Api) -> None:
    body = seeded.get("getTerminationRates", route="1", query="canada")
    assert all_strings(body)
    assert body["route"] == [{"value": "1", "description": "Value"}]
    assert (
        body["rates"]
        == [
            {
                "destination": "Canada - Montreal",
                "prefix": "1514",
                "increment": "6",
                "rate": "0.009",
            },
            {
                "destination": "Canada - Toronto",
                "prefix": "1416",
                "increment": "6",
                "rate": "0.0095",
            },
        ][::-1]
    )
    by_prefix = seeded.get("getTerminationRates", route="2", query="44")
    assert [(r["prefix"], r["rate"]) for r in by_prefix["rates"]] == [("44", "0.03")]
    by_country = seeded.get("getTerminationRates", route="1", country="gb")
    assert {r["prefix"] for r in by_country["rates"]} == {"44", "442"}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"query": "canada"}, "missing_route"),
        ({"route": "3", "query": "canada"}, "invalid_route"),
        ({"route": "1"}, "missing_query"),
        ({"route": "1", "country": "XX"}, "invalid_country"),
        ({"route": "1", "query": "atlantis"}, "no_rate"),
        ({"route": "1", "query": "100%"}, "no_rate"),
    ],
)
def test_get_termination_rates_statuses(seeded: Api, params: dict[str, str], status: str) -> None:
    assert seeded.get("getTerminationRates", **params) == {"status": status}


# --- getTransactionHistory --------------------------------------------------------------------


def test_get_transaction_history(seeded: Api) -> None:
    body = seeded.get("getTransactionHistory", date_from="2024-05-01", date_to="2024-05-01")
    assert body["status"] == "success" and all_strings(body)
    deposit, call = body["transactions"]
    assert (deposit["type"], deposit["date"]) == ("Deposit", "2024-05-01 12:00:00")
    assert deposit["ammount"].startswith("25.00")
    assert (call["type"], call["uniqueid"]) == ("Call", "call-100000-1")
    assert call["ammount"].startswith("-0.02")


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"date_to": "2024-05-01"}, "missing_from_date"),
        ({"date_from": "2024-05-01"}, "missing_to_date"),
        ({"date_from": "2024-5-1", "date_to": "2024-05-01"}, "invalid_date"),
        ({"date_from": "2024-02-30", "date_to": "2024-05-01"}, "invalid_date"),
        ({"date_from": "2024-05-01", "date_to": "20240501"}, "invalid_date"),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "invalid_date_from"),
        ({"date_from": "2024-06-01", "date_to": "2024-06-30"}, "no_transactions"),
    ],
)
def test_get_transaction_history_statuses(seeded: Api, params: dict[str, str], status: str) -> None:
    assert seeded.get("getTransactionHistory", **params) == {"status": status}


def test_another_accounts_figures_never_show(
    vclient: TestClient, seeded: Api, api_db: Database, bob: Tenant
) -> None:
    enable(api_db, bob, "127.0.0.1")
    theirs = Api(vclient, bob)
    assert [d["did"] for d in theirs.get("getDIDsInfo")["dids"]] == [BOB_DID]
    assert theirs.get("getBalance", advanced="1")["balance"]["calls_total"] == "0"
    window = {"date_from": "2024-04-01", "date_to": "2024-06-30"}  # 91 days: the most is 92
    assert theirs.get("getTransactionHistory", **window) == {"status": "no_transactions"}
    assert theirs.get("setDIDRouting", did=ALICE_MAIN_DID, routing="none:") == {
        "status": "invalid_did"
    }
    assert did_info(seeded, ALICE_MAIN_DID)["routing"] == "account:100000"
