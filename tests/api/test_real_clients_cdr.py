"""getCDR through the real ``voipms`` and ``voipms-python`` libraries, unchanged, against a
running Dialgate server holding a known call history (tests.support.history_seed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.history_seed import seed_history
from tests.support.voipms_clients import clients_server, drive, ok


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with clients_server(sqlite_template, tmp_path_factory, "cdr-clients", seed_history) as url:
        yield url


def test_get_cdr_through_voipms(server: str) -> None:
    r = drive("voipms", server, "drive_voipms_cdr.py")
    rows = ok(r, "cdr")["cdr"]
    assert sorted(row["uniqueid"] for row in rows) == sorted({row["uniqueid"] for row in rows})
    assert len(rows) == 6
    first = rows[0]  # newest first: the 125 s answered call of May 3rd
    assert (first["date"], first["disposition"], first["duration"], first["total"]) == (
        "2024-05-03 11:00:00", "ANSWERED", "00:02:05", "0.03000000"
    )
    (busy,) = ok(r, "cdr_busy_utc_minus_5")["cdr"]
    assert (busy["date"], busy["account"], busy["disposition"]) == (
        "2024-05-01 18:30:00", "100000_office", "BUSY"
    )
    assert {row["account"] for row in ok(r, "cdr_main")["cdr"]} == {"100000"}
    # voipms raises TypeError with the documented message for error statuses.
    assert r["cdr_none"]["message"] == "There are no CDR entries for the filter"
    types = [t["value"] for t in ok(r, "call_types")["call_types"]]
    assert types == ["all", "outgoing", "incoming", "5145550100"]
    accts = [a["value"] for a in ok(r, "call_accounts")["accounts"]]
    assert accts == ["all", "100000", "100000_office"]
    assert ok(r, "call_billing")["call_billing"][0] == {"value": "all", "description": "All Calls"}


def test_get_cdr_through_voipms_python(server: str) -> None:
    r = drive("voipms-python", server, "drive_voipms_python_cdr.py")
    assert len(ok(r, "cdr")["cdr"]) == 6
    billed = ok(r, "cdr_billed")["cdr"]
    assert sorted(row["total"] for row in billed) == ["0.02000000", "0.03000000"]
    # voipms-python raises VoipException(status) for every non-success status.
    assert r["cdr_no_status"]["code"] == "no_callstatus"
    assert r["cdr_range"]["code"] == "invalid_daterange"
    assert [b["value"] for b in ok(r, "call_billing")["call_billing"]] == ["all", "free", "billed"]
