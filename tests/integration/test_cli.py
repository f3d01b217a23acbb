"""The ``dialgate`` command line against a real SQLite file, in process through Typer's runner
(``tests/support/cli.run``); ``test_cli_smoke.py`` runs each command group as a real process."""

from __future__ import annotations

import json

from dialgate.domain import settings as s
from tests.support.cli import run


def test_demo_then_settings_show_json_lists_every_key(sqlite_url: str) -> None:
    assert run(sqlite_url, "demo").returncode == 0
    again = run(sqlite_url, "demo")
    assert again.returncode == 0 and "already present" in again.stdout
    out = run(sqlite_url, "settings", "show", "100000", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["settings"]) == set(s.STORED_MAIN_KEYS)
    assert data["settings"]["voicemail"] == "1001"


def test_settings_set_and_history(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "settings", "set", "100000", "allow_411=yes", "nat=no")
    assert out.returncode == 0, out.stderr
    history = json.loads(run(sqlite_url, "settings", "history", "100000", "--json").stdout)
    assert {"key": "allow_411", "old": "false", "new": "true"}.items() <= history[0].items() or {
        "key": "allow_411",
        "old": "false",
        "new": "true",
    }.items() <= history[1].items()


def test_invalid_value_exits_2_naming_field_and_rule_and_changes_nothing(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    before = run(sqlite_url, "settings", "show", "100000", "--json").stdout
    out = run(sqlite_url, "settings", "set", "100000", "canada_route=premium", "max_expiry=5")
    assert out.returncode == 2
    assert "max_expiry" in out.stderr and "between 60 and 3600" in out.stderr
    assert run(sqlite_url, "settings", "show", "100000", "--json").stdout == before


def test_unknown_key_and_malformed_argument_exit_2(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "settings", "set", "100000", "colour=red")
    assert out.returncode == 2 and "colour" in out.stderr
    out = run(sqlite_url, "settings", "set", "100000", "canada_route")
    assert out.returncode == 2 and "key=value" in out.stderr


def test_account_and_subaccount_commands(sqlite_url: str) -> None:
    run(sqlite_url, "db", "upgrade")
    out = run(
        sqlite_url,
        "account",
        "create",
        "200000",
        "--email",
        "b@example.com",
        "--password",
        "Secret123",
        "--balance",
        "12.50",
    )
    assert out.returncode == 0, out.stderr
    shown = json.loads(run(sqlite_url, "account", "show", "200000", "--json").stdout)
    assert shown["balance"] == "12.500000" and shown["email"] == "b@example.com"
    out = run(
        sqlite_url,
        "subaccount",
        "create",
        "200000",
        "desk",
        "--password",
        "Desk12345",
        "nat=no",
        "description=Front desk",
    )
    assert out.returncode == 0, out.stderr
    subs = json.loads(run(sqlite_url, "subaccount", "list", "200000", "--json").stdout)
    assert [(x["account"], x["description"]) for x in subs] == [("200000_desk", "Front desk")]
    view = json.loads(run(sqlite_url, "settings", "show", "200000_desk", "--json").stdout)
    assert view["settings"]["nat"] == "no" and view["sources"]["nat"] == "override"
    missing = run(sqlite_url, "account", "show", "999999")
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_catalogs(sqlite_url: str) -> None:
    pops = json.loads(run(sqlite_url, "catalog", "pops", "--json").stdout)
    assert {"montreal1", "houston1", "london1", "amsterdam1"} <= {p["name"] for p in pops}
    assert next(p for p in pops if p["name"] == "houston1")["id"] == 1
    countries = json.loads(
        run(sqlite_url, "catalog", "countries", "--language", "fr", "--json").stdout
    )
    by_code = {c["code"]: c for c in countries}
    assert by_code["JM"]["region"] == "Americas" and by_code["JM"]["name"] == "Jamaïque"
    assert "US" not in by_code and "CA" not in by_code
    assert {c["region"] for c in countries} == {"Africa", "Americas", "Asia", "Europe", "Oceania"}
    moh = json.loads(run(sqlite_url, "catalog", "moh", "--json").stdout)
    assert {m["test_code"] for m in moh} == {f"***{n}" for n in range(89, 101)}


def test_account_disable_and_enable(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    out = run(sqlite_url, "account", "disable", "100000", "--reason", "unpaid invoice")
    assert (out.returncode, out.stdout.strip()) == (0, "account 100000 disabled"), out.stderr
    shown = json.loads(run(sqlite_url, "account", "show", "100000", "--json").stdout)
    assert shown["enabled"] is False
    table = run(sqlite_url, "account", "show", "100000").stdout
    assert [line.split()[-2] for line in table.splitlines() if " enabled " in line] == ["False"]
    # A fresh decision (each run builds its own policy cache): the account and its sub accounts
    # are refused.
    for subject in ("100000", "100000_office"):
        decision = json.loads(
            run(sqlite_url, "authorize", subject, "5145551234", "--json").stdout
        )
        assert (decision["reason"], decision["sip_code"]) == ("account_disabled", 403)
    history = json.loads(run(sqlite_url, "settings", "history", "100000", "--json").stdout)
    assert {
        "key": "account_enabled",
        "old": "true",
        "new": "false; reason: unpaid invoice",
        "actor": "cli",
    }.items() <= history[0].items()

    again = run(sqlite_url, "account", "disable", "100000")
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "account 100000 already disabled; nothing changed",
    )
    out = run(sqlite_url, "account", "enable", "100000")
    assert (out.returncode, out.stdout.strip()) == (0, "account 100000 enabled"), out.stderr
    assert (
        json.loads(run(sqlite_url, "account", "show", "100000", "--json").stdout)["enabled"]
        is True
    )
    decision = json.loads(
        run(sqlite_url, "authorize", "100000", "5145551234", "--json").stdout
    )
    assert decision["allow"] is True
    again = run(sqlite_url, "account", "enable", "100000")
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "account 100000 already enabled; nothing changed",
    )
    history = json.loads(run(sqlite_url, "settings", "history", "100000", "--json").stdout)
    assert [(e["old"], e["new"]) for e in history if e["key"] == "account_enabled"] == [
        ("false", "true"),
        ("true", "false; reason: unpaid invoice"),
    ]


def test_account_disable_and_enable_of_an_unknown_account_exit_2(sqlite_url: str) -> None:
    run(sqlite_url, "demo")
    for command in ("disable", "enable"):
        out = run(sqlite_url, "account", command, "999999")
        assert out.returncode == 2 and out.stdout == ""
        assert "999999" in out.stderr and "not found" in out.stderr
    out = run(sqlite_url, "account", "disable", "100000", "--reason", "x" * 201)
    assert out.returncode == 2 and "reason" in out.stderr
    assert (
        json.loads(run(sqlite_url, "account", "show", "100000", "--json").stdout)["enabled"]
        is True
    )
