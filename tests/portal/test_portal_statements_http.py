"""Call History and Balance & Transactions over HTTP: filters, totals, pages, CSV exports of
exactly the filtered rows, the chart, translations and bad filters."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from dialgate.entrypoints.portal import routes_calls
from dialgate.services import accounts, lookups
from dialgate.services.uow import Database
from tests.portal.test_portal_http import log_in
from tests.support.history_seed import CALLS, seed_history

WINDOW = {"from": "2024-05-01", "to": "2024-05-31"}


@pytest.fixture
def history_db(demo_db: Database) -> Database:
    with demo_db.uow() as uow:
        account = lookups.get_account(uow, "100000")
        if lookups.find_subaccount(uow, account, "office") is None:
            accounts.create_subaccount(uow, "100000", "office", password="SipPass123",
                                       actor="test")
        accounts.create_account(uow, number="200000", email="bob@example.com",
                                password="Bob12345x")
        uow.commit()
    seed_history(demo_db)
    return demo_db


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr id="call-([^"]+)"', html)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_call_history_lists_totals_and_charts_the_filter(
    client: TestClient, history_db: Database
) -> None:
    log_in(client)
    r = client.get("/portal/calls", params=WINDOW)
    assert r.status_code == 200
    assert rows_of(r.text) == ["h6", "h5", "h4", "h3", "h2", "h1"]  # never account 200000's
    assert re.search(r'id="total-calls">6<', r.text)
    assert re.search(r'id="total-cost">\$0\.05<', r.text)
    # 61 + 30 + 125 seconds of talk
    assert re.search(r'id="total-minutes">3\.6<', r.text)
    svg = re.search(r'<svg id="calls-chart".*?</svg>', r.text, re.S)
    assert svg is not None and svg.group(0).count('class="bar"') == 31
    assert "<script" not in svg.group(0) and "style=" not in svg.group(0)
    assert "May 1, 2024: 2 calls, $0.02" in svg.group(0)
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_call_history_filters_and_csv_match(client: TestClient, history_db: Database) -> None:
    log_in(client)
    params = {**WINDOW, "account": "100000_office", "disposition": ["busy", "noanswer"]}
    page = client.get("/portal/calls", params=params)
    assert rows_of(page.text) == ["h4", "h2"]
    export = client.get("/portal/calls.csv", params=params)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = csv_rows(export.text)
    assert [r["call_id"] for r in rows] == ["h4", "h2"]
    assert rows[0]["started_at"] == "2024-05-02T12:00:00+00:00"
    inbound = client.get("/portal/calls", params={**WINDOW, "direction": "inbound"})
    assert rows_of(inbound.text) == ["h3"] and "from 2125550100 to 5145550100" in inbound.text
    found = csv_rows(client.get("/portal/calls.csv", params={**WINDOW, "q": "01144"}).text)
    assert [r["call_id"] for r in found] == ["h6", "h5"]
    assert found[0]["cost"] == "0.030000"


def test_call_history_pages_and_csv_has_every_filtered_row(
    client: TestClient, history_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_calls, "PAGE_SIZE", 4)
    log_in(client)
    first = client.get("/portal/calls", params=WINDOW)
    assert rows_of(first.text) == ["h6", "h5", "h4", "h3"]
    next_url = re.search(r'id="calls-next" href="([^"]+)"', first.text)
    assert next_url is not None
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    assert rows_of(second.text) == ["h2", "h1"]
    assert 'id="calls-next"' not in second.text and 'id="calls-first"' in second.text
    # the export is not limited to the page
    export = csv_rows(client.get("/portal/calls.csv", params=WINDOW).text)
    assert [r["call_id"] for r in export] == ["h6", "h5", "h4", "h3", "h2", "h1"]
    assert {r["call_id"] for r in export} == set(CALLS)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "From: must be a date: YYYY-MM-DD"),
        ({"from": "2024-05-02", "to": "2024-05-01"}, "To: must not be before from"),
        ({"account": "200000"}, "Account: must be this account or one of its sub accounts"),
        ({"disposition": "hungup"}, "Disposition: choose one of the options offered"),
        ({"q": "drop table"}, "Destination search: must be 1 to 32 digits (and + * #)"),
        ({"cursor": "zzz"}, "Page: must be a cursor this API returned"),
    ],
)
def test_bad_filters_are_explained(
    client: TestClient, history_db: Database, params: dict[str, str], message: str
) -> None:
    log_in(client)
    r = client.get("/portal/calls", params={**WINDOW, **params})
    assert r.status_code == 422
    assert message in r.text and 'id="calls"' not in r.text
    if "cursor" not in params:
        assert client.get("/portal/calls.csv", params={**WINDOW, **params}).status_code == 422


def test_call_history_in_french(client: TestClient, history_db: Database) -> None:
    csrf = log_in(client)
    client.post("/portal/language", data={"language": "fr", "csrf_token": csrf,
                                          "next": "/portal/calls"})
    r = client.get("/portal/calls", params=WINDOW)
    assert "Historique des appels" in r.text
    assert 'id="total-cost">0,05\xa0$US<' in r.text  # Babel's fr format
    bad = client.get("/portal/calls", params={**WINDOW, "from": "hier"})
    assert "Du : doit être une date : AAAA-MM-JJ" in bad.text


def test_balance_and_transactions(client: TestClient, history_db: Database) -> None:
    log_in(client)
    r = client.get("/portal/balance", params=WINDOW)
    assert r.status_code == 200
    # demo's $25 + the $10 deposit - $0.05 of calls
    assert re.search(r'id="current-balance-amount">\$34\.95<', r.text)
    assert re.search(r'id="total-deposits">\$10\.00<', r.text)
    assert re.search(r'id="total-charges">\$0\.05<', r.text)
    assert '<svg id="balance-chart"' in r.text
    assert len(re.findall(r'<tr id="tx-', r.text)) == 3
    export = csv_rows(client.get("/portal/balance.csv", params=WINDOW).text)
    assert [e["type"] for e in export] == ["call", "call", "deposit"]
    assert [e["uniqueid"] for e in export[:2]] == ["h6", "h1"]
    calls_only = csv_rows(client.get("/portal/balance.csv",
                                     params={**WINDOW, "type": "deposit"}).text)
    assert [(e["type"], e["amount"]) for e in calls_only] == [("deposit", "10.000000")]
    bad = client.get("/portal/balance", params={**WINDOW, "type": "gift"})
    assert bad.status_code == 422
    assert "Type: choose one of the options offered" in bad.text


def test_statement_pages_need_a_session(client: TestClient) -> None:
    for path in ("/portal/calls", "/portal/calls.csv", "/portal/balance", "/portal/balance.csv"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith("/portal/login")
