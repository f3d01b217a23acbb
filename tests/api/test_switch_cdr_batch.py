"""``POST /switch/v1/cdrs``: a batch of call records, as Kamailio sends them, over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from dialgate.adapters.db.models import AccountRow, CdrRow, TransactionRow
from dialgate.config import get_settings
from dialgate.entrypoints.switch import fastpath
from dialgate.entrypoints.switch.http import MAX_CDR_BATCH
from dialgate.entrypoints.web import create_app
from dialgate.services import accounts, apikeys, demo
from dialgate.services.uow import Database
from tests.support.http import Reply
from tests.support.http import problem as _problem

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
CDR_COLUMNS = (
    "call_id",
    "caller",
    "dialed",
    "started_at",
    "answered_at",
    "ended_at",
    "disposition",
    "route",
    "rate_per_minute",
    "increment_s",
    "flat_fee",
    "duration_s",
    "billed_s",
    "cost",
)


@dataclass
class Switch:
    client: TestClient
    db: Database
    auth: dict[str, str]

    def cdrs(self, records: Any, **kw: Any) -> Reply:
        return self.client.post("/switch/v1/cdrs", json=records, headers=self.auth, **kw)

    def balance(self, number: str = "100000") -> Decimal:
        with self.db.uow(write=False) as uow:
            value = uow.session.scalars(
                select(AccountRow.balance).where(AccountRow.number == number)
            ).one()
        return Decimal(value)

    def state(self) -> dict[str, Any]:
        """Balances, ledger rows and call records, without ids and timestamps of writing."""
        with self.db.uow(write=False) as uow:
            s = uow.session
            numbers = dict(s.execute(select(AccountRow.id, AccountRow.number)).all())
            return {
                "balances": sorted(
                    (n, Decimal(b))
                    for n, b in s.execute(select(AccountRow.number, AccountRow.balance))
                ),
                "ledger": sorted(
                    (
                        numbers[r.account_id],
                        r.kind,
                        Decimal(r.amount),
                        r.call_id or "",
                        r.description,
                    )
                    for r in s.scalars(select(TransactionRow))
                ),
                "cdrs": sorted(
                    (numbers[r.account_id], *(getattr(r, c) for c in CDR_COLUMNS))
                    for r in s.scalars(select(CdrRow))
                ),
            }


def _prepare(db: Database) -> dict[str, str]:
    with db.uow() as uow:
        demo.load_demo(uow)
        accounts.create_account(
            uow,
            number="200000",
            email="bob@example.com",
            password="Portal123x",
            balance=Decimal("5"),
        )
        _info, token = apikeys.create_switch_token(uow, name="montreal1")
        uow.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def switch(app: FastAPI, api_db: Database) -> Iterator[Switch]:
    auth = _prepare(api_db)
    with TestClient(app) as client:
        yield Switch(client, api_db, auth)


@pytest.fixture
def other_switch(app_env: str, sqlite_template: Path, tmp_path: Path) -> Iterator[Switch]:
    """A second app on its own fresh database, prepared like ``switch``'s."""
    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    other = create_app(get_settings().model_copy(update={"database_url": f"sqlite:///{path}"}))
    db: Database = other.state.db
    auth = _prepare(db)
    with TestClient(other) as client:
        yield Switch(client, db, auth)
    db.dispose()


def cdr(call_id: str, seconds: int = 61, **kw: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "call_id": call_id,
        "account": "100000",
        "dialed": "5145551234",
        "started_at": START.isoformat().replace("+00:00", "Z"),
        "answered_at": (START + timedelta(seconds=5)).isoformat(),
        "ended_at": (START + timedelta(seconds=5 + seconds)).isoformat(),
        "disposition": "answered",
        "route": "value",
        "rate_per_minute": "0.0100",
        "increment_s": 60,
        "flat_fee": "0",
        "extra": 1,
    }
    record.update(kw)
    return record




RECORDS = [
    cdr("c1@pop"),  # 0.02
    cdr(
        "c2@pop", account="100000_office", seconds=30, rate_per_minute="0.06", increment_s=6
    ),  # 0.03
    cdr("c3@pop", answered_at=None, disposition="busy", flat_fee="0.75"),  # not answered
    cdr("c4@pop", disposition="hung"),  # bad field
    cdr("c5@pop", account="999999"),  # unknown account
    cdr("c6@pop", account="100000_ghost"),  # unknown sub account
    cdr("c1@pop"),  # repeat
    cdr(
        "c7@pop",
        account="200000",
        seconds=3599,
        rate_per_minute="0.0137",
        increment_s=30,
        flat_fee="0.0049",
    ),  # 60 min: 0.8269
    cdr("c8@pop", disposition="noanswer", answered_at=None),
]


def test_a_batch_is_recorded_with_refusals_listed_by_index(switch: Switch) -> None:
    before = (switch.balance("100000"), switch.balance("200000"))
    response = switch.cdrs(RECORDS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"recorded", "duplicates", "rejected"}
    assert (answer["recorded"], answer["duplicates"]) == (5, 1)
    rejected = answer["rejected"]
    assert [(r["index"], r["code"]) for r in rejected] == [
        (3, "validation_failed"),
        (4, "not_found"),
        (5, "not_found"),
    ]
    assert all(set(r) == {"index", "code", "detail", "errors"} for r in rejected)
    assert all(isinstance(r["detail"], str) and r["detail"] for r in rejected)
    assert rejected[0]["errors"] == [
        {
            "field": "disposition",
            "code": "invalid_choice",
            "message": "must be one of answered, busy, noanswer, failed",
        }
    ]
    assert "999999" in rejected[1]["detail"] and "ghost" in rejected[2]["detail"]

    assert switch.balance("100000") == before[0] - Decimal("0.05")
    assert switch.balance("200000") == before[1] - Decimal("0.8269")
    state = switch.state()
    calls = {
        call_id: (n, amount) for n, kind, amount, call_id, _d in state["ledger"] if kind == "call"
    }
    assert calls == {
        "c1@pop": ("100000", Decimal("-0.02")),
        "c2@pop": ("100000", Decimal("-0.03")),
        "c7@pop": ("200000", Decimal("-0.8269")),
    }
    assert [row[1] for row in state["cdrs"]] == ["c1@pop", "c2@pop", "c3@pop", "c8@pop", "c7@pop"]


def test_the_same_batch_again_is_all_duplicates_and_charges_nothing(switch: Switch) -> None:
    first = switch.cdrs(RECORDS).json()
    before = switch.state()
    again = switch.cdrs(RECORDS).json()
    assert (again["recorded"], again["duplicates"]) == (0, 6)
    assert again["rejected"] == first["rejected"]
    assert switch.state() == before


def test_another_accounts_call_id_is_rejected_without_a_change(switch: Switch) -> None:
    assert switch.cdrs([cdr("shared@pop", account="200000")]).json()["recorded"] == 1
    before = switch.state()
    for record in (cdr("shared@pop"), cdr("shared@pop", account="100000_office")):
        answer = switch.cdrs([record]).json()
        assert (answer["recorded"], answer["duplicates"]) == (0, 0)
        assert [(r["index"], r["code"]) for r in answer["rejected"]] == [(0, "call_id_in_use")]
        assert "200000" not in str(answer["rejected"])  # says nothing about whose it is
        assert switch.state() == before
    mixed = switch.cdrs([cdr("new@pop"), cdr("shared@pop", seconds=5)]).json()
    assert (mixed["recorded"], mixed["duplicates"]) == (1, 0)
    assert [(r["index"], r["code"]) for r in mixed["rejected"]] == [(1, "call_id_in_use")]


def test_a_batch_of_only_refused_records_changes_nothing(switch: Switch) -> None:
    switch.cdrs([cdr("old@pop", account="200000")])
    before = switch.state()
    answer = switch.cdrs(
        [
            cdr("x1", disposition="hung"),
            cdr("x2", account="300000"),
            cdr("old@pop"),
            cdr("x3", answered_at="soon"),
            {},
        ]
    ).json()
    assert (answer["recorded"], answer["duplicates"]) == (0, 0)
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (0, "validation_failed"),
        (1, "not_found"),
        (2, "call_id_in_use"),
        (3, "validation_failed"),
        (4, "validation_failed"),
    ]
    assert {e["field"] for e in answer["rejected"][3]["errors"]} == {"answered_at"}
    assert {"call_id", "account", "dialed"} <= {e["field"] for e in answer["rejected"][4]["errors"]}
    assert switch.state() == before


def test_batch_and_single_endpoint_charge_the_same(switch: Switch, other_switch: Switch) -> None:
    records = [
        *RECORDS,
        cdr("c9@pop", seconds=1, increment_s=1, rate_per_minute="0.0001"),
        cdr("c2@pop", account="100000_office"),
    ]
    singles = []
    for record in records:
        response = other_switch.client.post(
            "/switch/v1/cdr", json=record, headers=other_switch.auth
        )
        singles.append(
            response.json()["duplicate"] if response.status_code == 200 else response.status_code
        )
    answer = switch.cdrs(records).json()
    assert answer["recorded"] == singles.count(False)
    assert answer["duplicates"] == singles.count(True)
    assert [r["index"] for r in answer["rejected"]] == [
        i for i, s in enumerate(singles) if not isinstance(s, bool)
    ]
    assert switch.state() == other_switch.state()
    assert switch.balance() < Decimal("25")


def test_the_largest_batch_is_recorded(switch: Switch) -> None:
    records = [
        cdr(f"big-{i}@pop", seconds=1, rate_per_minute="0.001") for i in range(MAX_CDR_BATCH)
    ]
    before = switch.balance()
    answer = switch.cdrs(records).json()
    assert answer == {"recorded": MAX_CDR_BATCH, "duplicates": 0, "rejected": []}
    # 1 s billed as a minute at 0.001: 500 calls cost 0.5
    assert switch.balance() == before - Decimal("0.5")


def test_a_batch_over_500_records_is_a_422_problem_and_records_nothing(switch: Switch) -> None:
    assert MAX_CDR_BATCH == 500
    before = switch.state()
    records = [cdr(f"over-{i}@pop") for i in range(MAX_CDR_BATCH + 1)]
    problem = _problem(switch.cdrs(records), 422)
    assert problem["code"] == "validation_failed" and problem["errors"]
    assert switch.state() == before


@pytest.mark.parametrize(
    "body",
    [{"call_id": "x"}, [1, 2], ["text"], [[cdr("nested@pop")]], "records", None],
    ids=["object", "numbers", "strings", "nested", "string", "null"],
)
def test_a_body_that_is_not_an_array_of_objects_is_a_422_problem(switch: Switch, body: Any) -> None:
    before = switch.state()
    problem = _problem(switch.cdrs(body), 422)
    assert problem["errors"]
    assert switch.state() == before


def test_malformed_json_is_a_422_problem(switch: Switch) -> None:
    response = switch.client.post(
        "/switch/v1/cdrs",
        content=b'[{"call_id": ',
        headers={**switch.auth, "content-type": "application/json"},
    )
    _problem(response, 422)


def test_the_batch_needs_a_switch_token(switch: Switch) -> None:
    before = switch.state()
    _problem(switch.client.post("/switch/v1/cdrs", json=[cdr("anon@pop")]), 401)
    _problem(
        switch.client.post(
            "/switch/v1/cdrs",
            json=[cdr("anon@pop")],
            headers={"Authorization": "Bearer sw_nope.nope"},
        ),
        401,
    )
    assert switch.state() == before


def test_an_empty_batch_records_nothing(switch: Switch) -> None:
    before = switch.state()
    assert switch.cdrs([]).json() == {"recorded": 0, "duplicates": 0, "rejected": []}
    assert switch.state() == before


@pytest.mark.parametrize("warm", [False, True], ids=["route", "fast-path"])
def test_a_full_database_refuses_the_batch_with_503_and_takes_it_whole_once_space_returns(
    switch: Switch, caplog: pytest.LogCaptureFixture, warm: bool
) -> None:
    if warm:  # the token already checked: the batch skips FastAPI (SwitchFastPath)
        assert switch.cdrs([]).status_code == 200
    # A full disk, made real without mounting anything: SQLite's max_page_count stops the
    # database file from growing (every new connection of the app's engine gets the cap).
    cap: dict[str, int] = {}

    def _cap(dbapi_conn: Any, _record: Any) -> None:
        if cap:
            dbapi_conn.execute(f"PRAGMA max_page_count = {cap['pages']}")

    engine = switch.db.engine
    event.listen(engine, "connect", _cap)
    before = switch.state()
    with engine.connect() as conn:
        cap["pages"] = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    engine.dispose()
    # Enough records to need new pages whatever free space the file has.
    records = [cdr(f"full-{i}", note="x" * 2000) for i in range(200)]
    with caplog.at_level("ERROR", logger="dialgate.switch"):
        refused = switch.cdrs(records)
    body = _problem(refused, 503)
    assert "send the batch again" in body["detail"] and refused.headers["Retry-After"] == "1"
    assert switch.state() == before  # nothing of the batch was kept
    lines = [r for r in caplog.records if "call records not stored" in r.getMessage()]
    assert len(lines) == 1 and "full" in getattr(lines[0], "detail", "")
    assert lines[0].exc_info is None  # a clear line, not a traceback
    # Space returns: the switch's retry of the same batch is recorded, each call once.
    cap.clear()
    engine.dispose()
    accepted = switch.cdrs(records)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["recorded"] == 200
    assert switch.cdrs(records).json()["duplicates"] == 200
    event.remove(engine, "connect", _cap)


@pytest.fixture
def fast_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the batches ``SwitchFastPath`` recorded (the route's are not in it)."""
    served: list[int] = []
    real = fastpath.record_cdrs

    def counted(db: Database, payload: list[dict[str, Any]], key: Any) -> dict[str, Any]:
        served.append(len(payload))
        return real(db, payload, key)

    monkeypatch.setattr(fastpath, "record_cdrs", counted)
    return served


def test_a_known_switchs_batch_gets_the_routes_answer_without_the_framework(
    switch: Switch, other_switch: Switch, fast_batches: list[int]
) -> None:
    # The first request checks the token (through the route); the next batch skips FastAPI.
    assert switch.cdrs([]).json() == {"recorded": 0, "duplicates": 0, "rejected": []}
    assert fast_batches == []
    fast = switch.cdrs(RECORDS)
    assert fast_batches == [len(RECORDS)]
    routed = other_switch.cdrs(RECORDS)  # a fresh token on a twin database: the route
    assert fast_batches == [len(RECORDS)]
    assert fast.status_code == routed.status_code == 200
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.json() == routed.json()
    assert switch.state() == other_switch.state()
    again = switch.cdrs(RECORDS).json()
    assert (again["recorded"], again["duplicates"]) == (0, 6)
    assert fast_batches == [len(RECORDS)] * 2


@pytest.mark.parametrize(
    "body",
    [[cdr(f"over-{i}@pop") for i in range(MAX_CDR_BATCH + 1)], {"call_id": "x"}, [1, 2],
     [[cdr("nested@pop")]], None],
    ids=["over-500", "object", "numbers", "nested", "null"],
)
def test_a_known_switchs_bad_batch_is_the_routes_422_and_records_nothing(
    switch: Switch, fast_batches: list[int], body: Any
) -> None:
    assert switch.cdrs([]).status_code == 200  # token checked
    before = switch.state()
    problem = _problem(switch.cdrs(body), 422)
    assert problem["code"] == "validation_failed" and problem["errors"]
    malformed = switch.client.post("/switch/v1/cdrs", content=b'[{"call_id": ',
                                   headers={**switch.auth, "content-type": "application/json"})
    _problem(malformed, 422)
    assert fast_batches == [] and switch.state() == before
