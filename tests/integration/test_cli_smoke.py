"""One real ``python -m dialgate`` process per command group the CLI tests cover: the console
script, its lazy imports and its exit status, as a user runs them. Everything else about the
commands is tested in process (``tests/support/cli.run``), which is much quicker."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import dialgate, run

# group -> (arguments, a text the output must hold)
SMOKE: dict[str, tuple[tuple[str, ...], str]] = {
    "db": (("db", "upgrade"), ""),
    "demo": (("demo",), "already present"),
    "account": (("account", "show", "100000", "--json"), '"account": "100000"'),
    "subaccount": (("subaccount", "list", "100000", "--json"), '"100000_office"'),
    "settings": (("settings", "show", "100000_office", "--json"), '"sources"'),
    "catalog": (("catalog", "pops", "--json"), '"montreal1"'),
    "authorize": (("authorize", "100000", "5145551234", "--json"), '"allow": true'),
    "balance": (("balance", "100000"), "100000"),
    "rates": (("rates", "versions", "value", "--json"), '"version"'),
    "apikey": (("apikey", "list", "100000", "--json"), "["),
    "api": (("api", "disable", "100000"), "100000"),
    "operator": (("operator", "list", "--json"), "[]"),
    "switch": (("switch", "token", "list", "--json"), "[]"),
}


@pytest.mark.parametrize("group", sorted(SMOKE))
def test_each_command_group_runs_as_a_process(sqlite_url: str, group: str) -> None:
    assert run(sqlite_url, "demo").returncode == 0  # quick, in process
    args, expected = SMOKE[group]
    out = dialgate(sqlite_url, *args)
    assert out.returncode == 0, out.stderr
    assert expected in out.stdout
    assert "Traceback" not in out.stderr
    if "--json" in args:
        json.loads(out.stdout)


def test_a_refusal_exits_2_from_a_process(sqlite_url: str) -> None:
    assert run(sqlite_url, "demo").returncode == 0
    before = run(sqlite_url, "settings", "show", "100000", "--json").stdout
    out = dialgate(sqlite_url, "settings", "set", "100000", "max_expiry=5")
    assert out.returncode == 2
    assert "max_expiry" in out.stderr and "between 60 and 3600" in out.stderr
    assert run(sqlite_url, "settings", "show", "100000", "--json").stdout == before
