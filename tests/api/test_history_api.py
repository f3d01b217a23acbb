"""Call history and statements over HTTP: ``GET /v1/cdrs``, ``GET /v1/transactions`` (cursor
pages, Link headers, filters, tenant isolation) and the VoIP.ms getCDR family."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.services import dids
from dialgate.services.uow import Database
from tests.api.conftest import Tenant
from tests.api.test_voipms import Api, all_strings, enable
from tests.support.history_seed import seed_history

WINDOW = {"from": "2024-05-01", "to": "2024-05-31"}
NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


@pytest.fixture
def seeded(api_db: Database, alice: Tenant, bob: Tenant) -> Database:
    seed_history(api_db)
    return api_db


def call_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["call_id"] for row in response.json()]


def follow(client: TestClient, tenant: Tenant, url: str, params: dict[str, Any]) -> list[str]:
    """Every page's call ids in order, following Link rel=next until there is none."""
    seen: list[str] = []
    response = client.get(url, headers=tenant.auth, params=params)
    while True:
        seen += [row.get("call_id") or row.get("uniqueid") for row in response.json()]
        link = response.headers.get("link")
        if link is None:
            return seen
        match = NEXT.match(link)
        assert match, link
        response = client.get(match.group(1), headers=tenant.auth)
        assert response.status_code == 200


def test_cdrs_are_newest_first_and_scoped_to_the_account(
    client: TestClient, seeded: Database, alice: Tenant, bob: Tenant
) -> None:
    assert call_ids(client.get("/v1/cdrs", headers=alice.auth, params=WINDOW)) == [
        "h6", "h5", "h4", "h3", "h2", "h1"
    ]
    assert call_ids(client.get("/v1/cdrs", headers=bob.auth, params=WINDOW)) == ["b1"]
    (h1,) = [r for r in client.get("/v1/cdrs", headers=alice.auth, params=WINDOW).json()
             if r["call_id"] == "h1"]
    assert (h1["cost"], h1["billed_s"], h1["duration_s"], h1["account"]) == (
        "0.020000", 120, 61, "100000"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"account": "100000_office"}, ["h4", "h2"]),
        ({"account": "100000"}, ["h6", "h5", "h3", "h1"]),
        ({"direction": "inbound"}, ["h3"]),
        ({"disposition": ["busy", "noanswer"]}, ["h4", "h2"]),
        ({"disposition": "answered", "direction": "outbound"}, ["h6", "h1"]),
        ({"q": "0114412"}, ["h6", "h5"]),
        ({"q": "212555"}, ["h3"]),  # the caller's number of an inbound call
        ({"from": "2024-05-02", "to": "2024-05-02"}, ["h4", "h3"]),
        ({"from": "2024-06-01", "to": "2024-06-30"}, []),
    ],
)
def test_cdr_filters(
    client: TestClient, seeded: Database, alice: Tenant, params: dict[str, Any],
    expected: list[str],
) -> None:
    assert call_ids(client.get("/v1/cdrs", headers=alice.auth,
                               params={**WINDOW, **params})) == expected


def test_cdr_pages_follow_link_headers_without_gaps_or_repeats(
    client: TestClient, seeded: Database, alice: Tenant
) -> None:
    for limit in (1, 2, 4, 6):
        pages = follow(client, alice, "/v1/cdrs", {**WINDOW, "limit": limit})
        assert pages == ["h6", "h5", "h4", "h3", "h2", "h1"], limit
    last = client.get("/v1/cdrs", headers=alice.auth, params={**WINDOW, "limit": 6})
    assert "link" not in last.headers
    # The cursor keeps the filters of the URL it came from.
    office = follow(client, alice, "/v1/cdrs", {**WINDOW, "limit": 1, "account": "100000_office"})
    assert office == ["h4", "h2"]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"disposition": "hungup"}, "disposition", "invalid_choice"),
        ({"direction": "sideways"}, "direction", "invalid_choice"),
        ({"account": "200000"}, "account", "unknown_account"),
        ({"account": "100000_nobody"}, "account", "unknown_account"),
        ({"q": "abc"}, "q", "invalid_search"),
        ({"cursor": "not-a-cursor"}, "cursor", "invalid_cursor"),
        ({"limit": "0"}, "limit", "out_of_range"),
        ({"limit": "501"}, "limit", "out_of_range"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "to", "before_from"),
        ({"from": "2023-01-01", "to": "2024-05-01"}, "to", "range_too_long"),
    ],
)
def test_bad_cdr_filters_name_the_field_and_rule(
    client: TestClient, seeded: Database, alice: Tenant, params: dict[str, str], field: str,
    code: str,
) -> None:
    response = client.get("/v1/cdrs", headers=alice.auth, params={**WINDOW, **params})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in errors
    ]


def test_cdrs_need_a_customer_key(client: TestClient, seeded: Database) -> None:
    assert client.get("/v1/cdrs").status_code == 401
    assert client.get("/v1/cdrs", headers={"Authorization": "Bearer dg_x.y"}).status_code == 401


def test_transactions_page_oldest_first_with_links(
    client: TestClient, seeded: Database, alice: Tenant
) -> None:
    everything = client.get("/v1/transactions", headers=alice.auth, params=WINDOW)
    assert everything.status_code == 200 and "link" not in everything.headers
    kinds = [row["kind"] for row in everything.json()]
    assert kinds == ["deposit", "call", "call"]
    ids = [row["uniqueid"] for row in everything.json()]
    assert follow(client, alice, "/v1/transactions", {**WINDOW, "limit": 1}) == ids
    calls = client.get("/v1/transactions", headers=alice.auth, params={**WINDOW, "type": "call"})
    assert [row["uniqueid"] for row in calls.json()] == ["h1", "h6"]
    bad = client.get("/v1/transactions", headers=alice.auth, params={**WINDOW, "type": "gift"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "type"
    theirs = client.get("/v1/transactions", headers=alice.auth, params={**WINDOW, "limit": 1})
    link = NEXT.match(theirs.headers["link"])
    assert link is not None


# --- VoIP.ms: getCDR, getCallTypes, getCallAccounts, getCallBilling ----------------------------


@pytest.fixture
def vclient(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=("127.0.0.1", 40000)) as c:
        yield c


@pytest.fixture
def vapi(vclient: TestClient, seeded: Database, alice: Tenant) -> Api:
    enable(seeded, alice, "127.0.0.1")
    with seeded.uow() as uow:
        dids.add_did(uow, "100000", "5145550100", actor="test")
        uow.commit()
    return Api(vclient, alice)


ALL = {"date_from": "2024-05-01", "date_to": "2024-05-31", "timezone": "0", "answered": "1",
       "noanswer": "1", "busy": "1", "failed": "1"}


def test_get_cdr_fields_as_voipms_names_them(vapi: Api) -> None:
    body = vapi.get("getCDR", **ALL)
    assert body["status"] == "success" and all_strings(body)
    rows = {row["destination"]: row for row in body["cdr"]}
    assert len(body["cdr"]) == 6
    h1 = rows["5145550199"]
    assert set(h1) == {"date", "callerid", "destination", "description", "account",
                       "disposition", "duration", "seconds", "rate", "total", "uniqueid",
                       "destination_type", "call_logs"}
    assert (h1["date"], h1["disposition"], h1["duration"], h1["seconds"]) == (
        "2024-05-01 10:00:00", "ANSWERED", "00:01:01", "61"
    )
    assert (h1["rate"], h1["total"], h1["account"]) == ("0.01000000", "0.02000000", "100000")
    assert rows["4165550124"]["disposition"] == "NO ANSWER"
    assert rows["4165550123"]["disposition"] == "BUSY"
    assert rows["011441234567"]["disposition"] == "FAILED"
    inbound = rows["5145550100"]
    assert (inbound["callerid"], inbound["description"]) == ("2125550100", "Inbound")


def test_get_cdr_filters_and_timezone(vapi: Api) -> None:
    def dest(**params: str) -> list[str]:
        body = vapi.get("getCDR", **{**ALL, **params})
        return sorted(row["destination"] for row in body.get("cdr", []))

    assert dest(answered="0", noanswer="0", failed="0") == ["4165550123"]
    assert dest(account="100000_office") == ["4165550123", "4165550124"]
    assert dest(calltype="incoming") == ["5145550100"]
    assert dest(calltype="5145550100") == ["5145550100"]
    assert len(dest(calltype="outgoing")) == 5
    assert dest(callbilling="billed") == ["011441234568", "5145550199"]
    # UTC-5: the 23:30 UTC busy call of May 1st is on May 1st at 18:30 local; the inbound
    # call of 00:30 UTC on May 2nd is on May 1st at 19:30 local.
    day = {"date_from": "2024-05-01", "date_to": "2024-05-01"}
    assert dest(timezone="-5", **day) == ["4165550123", "5145550100", "5145550199"]
    shifted = vapi.get("getCDR", **{**ALL, **day, "timezone": "-5", "busy": "1"})
    busy = [r for r in shifted["cdr"] if r["disposition"] == "BUSY"]
    assert busy[0]["date"] == "2024-05-01 18:30:00"
    assert dest(timezone="0", **day) == ["4165550123", "5145550199"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"date_from": None}, "missing_from_date"),
        ({"date_to": None}, "missing_to_date"),
        ({"date_from": "2024-5-1"}, "invalid_date"),
        ({"date_from": "2024-06-01"}, "invalid_date_from"),
        ({"date_from": "2024-01-01"}, "invalid_daterange"),
        ({"timezone": None}, "missing_timezone"),
        ({"timezone": "east"}, "invalid_timezone"),
        ({"timezone": "14"}, "invalid_timezone"),
        ({"answered": "0", "noanswer": "0", "busy": "0", "failed": "0"}, "no_callstatus"),
        ({"calltype": "4165550100"}, "invalid_call_type"),  # bob's DID
        ({"callbilling": "gratis"}, "invalid_billingtype"),
        ({"account": "200000"}, "invalid_account"),
        ({"date_from": "2024-07-01", "date_to": "2024-07-31"}, "no_cdr"),
    ],
)
def test_get_cdr_statuses(vapi: Api, params: dict[str, str | None], status: str) -> None:
    query = {k: v for k, v in {**ALL, **params}.items() if v is not None}
    assert vapi.get("getCDR", **query) == {"status": status}


def test_get_transaction_history_range_rule(vapi: Api) -> None:
    ok = vapi.get("getTransactionHistory", date_from="2024-03-01", date_to="2024-05-31")  # 92 d
    assert ok["status"] == "success"
    too_long = vapi.get("getTransactionHistory", date_from="2024-03-01", date_to="2024-06-01")
    assert too_long == {"status": "invalid_daterange"}


def test_cdr_option_lists(vapi: Api) -> None:
    types = vapi.get("getCallTypes")["call_types"]
    assert [t["value"] for t in types] == ["all", "outgoing", "incoming", "5145550100"]
    accounts = vapi.get("getCallAccounts")["accounts"]
    assert [a["value"] for a in accounts] == ["all", "100000", "100000_office"]
    billing = vapi.get("getCallBilling")["call_billing"]
    assert [b["value"] for b in billing] == ["all", "free", "billed"]
