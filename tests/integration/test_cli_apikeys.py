"""``dialgate apikey``, ``dialgate switch token`` and ``dialgate api``, in process (Typer's
runner)."""

from __future__ import annotations

import json

from dialgate.adapters import passwords
from dialgate.services import apikeys
from dialgate.services.uow import Database
from tests.support.cli import run


def test_api_key_is_printed_once_stored_hashed_listed_and_revocable(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "apikey", "create", "100000", "--name", "script")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("dg_") and "." in key
    db = Database(sqlite_url)
    try:
        with db.uow(write=False) as uow:
            assert apikeys.authenticate_api_key(uow, key).number == "100000"
            stored = uow.session.execute(
                __import__("sqlalchemy").text("SELECT key_hash FROM api_keys")
            ).scalar_one()
        assert stored == passwords.token_digest(key) and key not in stored
        listed = json.loads(run(sqlite_url, "apikey", "list", "100000", "--json").stdout)
        assert [(k["name"], k["revoked_at"]) for k in listed] == [("script", None)]
        revoke = run(sqlite_url, "apikey", "revoke", "100000", listed[0]["id"])
        assert revoke.returncode == 0, revoke.stderr
        assert run(sqlite_url, "apikey", "revoke", "100000", "dg_nothere").returncode == 2
        listed = json.loads(run(sqlite_url, "apikey", "list", "100000", "--json").stdout)
        assert listed[0]["revoked_at"] is not None
    finally:
        db.dispose()


def test_switch_token_and_voipms_api_commands(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "switch", "token", "create", "--name", "montreal1")
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1].startswith("sw_")
    assert (
        json.loads(run(sqlite_url, "switch", "token", "list", "--json").stdout)[0]["name"]
        == "montreal1"
    )
    bad = run(
        sqlite_url, "api", "enable", "100000", "--password", "ApiPass123", "--allow-ip", "not-an-ip"
    )
    assert bad.returncode == 2 and "allow_ip" in bad.stderr
    weak = run(sqlite_url, "api", "enable", "100000", "--password", "weak")
    assert weak.returncode == 2 and "password" in weak.stderr
    ok = run(
        sqlite_url,
        "api",
        "enable",
        "100000",
        "--password",
        "ApiPass123",
        "--allow-ip",
        "127.0.0.1",
        "--allow-ip",
        "10.0.0.0/8",
    )
    assert ok.returncode == 0 and "127.0.0.1, 10.0.0.0/8" in ok.stdout
    assert run(sqlite_url, "api", "disable", "100000").returncode == 0
