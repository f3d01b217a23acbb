"""The real VoIP.ms client libraries, unchanged, against a running Dialgate server.

Each library is pointed at the server through its base-URL attribute; the server, the drivers
and their runs are ``tests.support.voipms_clients``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dialgate.services import billing, dids, mailboxes
from dialgate.services.uow import Database
from tests.support.voipms_clients import DID, clients_server, drive, ok


def _more(db: Database) -> None:
    with db.uow() as uow:
        mailboxes.add_mailbox(uow, "100000", "1001", name="Main box")
        dids.add_did(uow, "200000", "4165550100", actor="test")
        billing.deposit(uow, "100000", "25.00")
        uow.commit()


@pytest.fixture(scope="module")
def server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with account 100000 (VoIP.ms API on, a mailbox, $25) and another tenant."""
    with clients_server(sqlite_template, tmp_path_factory, "clients", _more) as url:
        yield url


def test_voipms_package(server: str) -> None:
    r = drive("voipms", server)
    assert ok(r, "ip") == {"status": "success", "ip": "127.0.0.1"}
    assert ok(r, "countries")["countries"] == [{"value": "CA", "description": "Canada"}]
    for name in (
        "servers",
        "languages",
        "routes",
        "codecs",
        "auth_types",
        "device_types",
        "dtmf_modes",
        "nat",
        "protocols",
        "lock_international",
        "music_on_hold",
    ):
        assert ok(r, name)["status"] == "success", name
    assert ok(r, "create")["account"] == "100000_viavoipms"
    (sub,) = ok(r, "read")["accounts"]
    assert sub["description"] == "From voipms" and sub["allowed_codecs"] == "ulaw;g729"
    assert ok(r, "update") == {"status": "success"}
    (after,) = ok(r, "read_after_update")["accounts"]
    assert (after["music_on_hold"], after["dtmf_mode"], after["nat"], after["device_type"]) == (
        "spa_sounds",
        "rfc2833",
        "no",
        "2",
    )
    assert after["description"] == "From voipms" and "password" not in after
    # voipms raises TypeError carrying the documented message for error statuses.
    assert r["update_invalid"]["error"] == "TypeError"
    assert "Music on Hold" in r["update_invalid"]["message"]
    assert "8 characters" in r["create_weak_password"]["message"]
    assert ok(r, "registration")["registered"] == "no"
    assert ok(r, "delete") == {"status": "success"}
    # no_subaccount is not in voipms's own error table, so it returns the body as is.
    assert ok(r, "read_after_delete") == {"status": "no_subaccount"}
    assert r["bad_credentials"]["error"] == "TypeError"
    assert "incorrect" in r["bad_credentials"]["message"]
    assert ok(r, "balance")["balance"]["current_balance"].startswith("25.00")
    assert set(ok(r, "balance_advanced")["balance"]) >= {"spent_total", "calls_today"}
    assert ok(r, "did_routing") == {"status": "success"}
    assert r["did_routing_invalid"]["message"] == "This is not a valid mailbox"
    assert ok(r, "did_pop") == {"status": "success"}
    assert r["did_pop_invalid"]["message"] == "This is not a valid Server POP"
    assert r["did_other_account"]["message"] == "This is not a valid DID"
    (did,) = ok(r, "dids_info")["dids"]
    assert (did["did"], did["routing"], did["pop"]) == (DID, "account:100000_office", "3")
    fwd_id = ok(r, "forwarding_add")["forwarding"]
    (entry,) = ok(r, "forwardings")["forwardings"]
    assert (entry["forwarding"], entry["phone_number"], entry["description"]) == (
        fwd_id, "5145550199", "Cell")
    assert r["forwarding_invalid"]["message"] == "This is not a valid Phone Number"
    assert ok(r, "forwarding_delete") == {"status": "success"}
    # no_forwarding is in voipms's error table: it raises with the documented message.
    assert r["forwardings_after_delete"]["message"] == "There was no Forwarding"


def test_voipms_api_package(server: str) -> None:
    r = drive("voipms-api", server)
    assert ok(r, "ip")["ip"] == "127.0.0.1"
    assert ok(r, "countries")["countries"] == [{"value": "CA", "description": "Canada"}]
    assert ok(r, "languages")["status"] == "success"
    assert ok(r, "servers")["servers"][0]["server_pop"] == "1"
    assert ok(r, "create")["status"] == "success"
    (before,) = ok(r, "read")["accounts"]
    assert before["allowed_codecs"] == "g722" and before["lock_international"] == "1"
    assert ok(r, "update")["status"] == "success"
    (after,) = ok(r, "read_after_update")["accounts"]
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"dtmf_mode", "description"}
    assert after["dtmf_mode"] == "inband" and after["description"] == "Renamed"
    assert ok(r, "update_invalid")["status"] == "invalid_musiconhold"
    assert ok(r, "create_weak_password")["status"] == ("invalid_password_lessthan_8characters_long")
    assert ok(r, "delete")["status"] == "success"
    assert ok(r, "read_after_delete") == {"status": "no_subaccount"}
    assert ok(r, "bad_credentials") == {"status": "invalid_credentials"}
    assert ok(r, "balance")["balance"]["current_balance"].startswith("25.00")
    assert ok(r, "balance_advanced")["balance"]["calls_total"] == "0"
    assert ok(r, "did_routing")["status"] == "success"
    assert ok(r, "did_routing_invalid")["status"] == "invalid_routing_header"
    assert ok(r, "did_pop") == {"status": "success"}
    assert ok(r, "did_pop_invalid") == {"status": "invalid_serverpop"}
    (did,) = ok(r, "dids_info")["dids"]
    assert (did["did"], did["routing"], did["pop"], did["voicemail"]) == (
        DID,
        "vm:1001",
        "4",
        "1001",
    )
    fwd_id = ok(r, "forwarding_add")["forwarding"]
    assert ok(r, "forwarding_update") == {"status": "success", "forwarding": fwd_id}
    (entry,) = ok(r, "forwardings")["forwardings"]
    assert (entry["phone_number"], entry["dtmf_digits"], entry["pause"]) == (
        "4385550100", "9", "2.5")
    assert ok(r, "forwarding_invalid") == {"status": "missing_phonenumber"}
    assert ok(r, "forwarding_delete") == {"status": "success"}


def test_voipms_python_package(server: str) -> None:
    r = drive("voipms-python", server)
    assert ok(r, "ip")["ip"] == "127.0.0.1"
    assert ok(r, "countries")["countries"] == [{"value": "CA", "description": "Canada"}]
    assert ok(r, "languages")["status"] == "success"
    assert ok(r, "create")["account"] == "100000_viapython"
    assert ok(r, "read")["accounts"][0]["nat"] == "yes"
    assert ok(r, "update")["status"] == "success"
    (after,) = ok(r, "read_after_update")["accounts"]
    assert (after["nat"], after["device_type"], after["international_route"]) == ("route", "1", "2")
    assert (after["allowed_codecs"], after["max_expiry"]) == ("ulaw;gsm", "600")
    # voipms-python raises VoipException(status) for every non-success status.
    assert r["update_invalid"]["code"] == "invalid_max_expiry"
    assert r["create_weak_password"]["code"] == "invalid_password_lessthan_8characters_long"
    assert ok(r, "registration")["registered"] == "no"
    assert ok(r, "delete")["status"] == "success"
    assert r["read_after_delete"]["code"] == "no_subaccount"
    assert r["bad_credentials"]["code"] == "invalid_credentials"
    assert ok(r, "balance")["balance"]["current_balance"].startswith("25.00")
    assert ok(r, "balance_advanced")["balance"]["time_total"]
    assert ok(r, "did_routing") == {"status": "success"}
    assert r["did_routing_invalid"]["code"] == "invalid_did"  # another account's DID
    assert ok(r, "did_pop") == {"status": "success"}
    assert r["did_pop_missing"]["code"] == "missing_serverpop"
    (did,) = ok(r, "dids_info")["dids"]
    assert (did["did"], did["routing"], did["pop"]) == (DID, "sys:hangup", "5")
    fwd_id = ok(r, "forwarding_add")["forwarding"]
    (entry,) = ok(r, "forwardings")["forwardings"]
    assert (entry["forwarding"], entry["callerid_override"]) == (fwd_id, "4385550111")
    assert r["forwarding_other"]["code"] == "invalid_forwarding"
    assert ok(r, "forwarding_delete") == {"status": "success"}
    assert r["forwardings_after_delete"]["code"] == "no_forwarding"
