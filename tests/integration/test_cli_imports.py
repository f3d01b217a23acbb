"""What a ``dialgate`` command imports, in a real process: start-up time is mostly imports, so
light commands must not load what they never use (SQLAlchemy and the web stack for ``--help``;
numpy, phonenumbers' data, Babel, argon2 and the web stack for the read commands a script runs
in a loop). Each command runs in a fresh interpreter and reports its ``sys.modules``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dialgate.entrypoints.cli import COMMANDS
from dialgate.entrypoints.cli.common import module_commands
from tests.support.cli import run

# Runs the console script's code (``python -m dialgate``), then writes the top-level packages
# it imported, and Dialgate's modules it ran, to the file named by the first argument.
_PROBE = """
import json, runpy, sys
out = sys.argv[1]
sys.argv = ["dialgate", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("dialgate", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules}),
               # a module named by lazy_import but never used is not loaded
               "dialgate": sorted(m for m, mod in sys.modules.items() if m.startswith("dialgate.")
                                  and type(mod).__name__ != "_LazyModule"),
               "orm": "sqlalchemy.orm" in sys.modules}, fh)
"""

WEB = {"fastapi", "starlette", "uvicorn", "jinja2", "alembic"}


def _imports(tmp_path: Path, url: str, *args: str) -> set[str]:
    return set(_report(tmp_path, url, *args)["modules"])


def _cli_modules(tmp_path: Path, url: str, *args: str) -> set[str]:
    """The CLI modules (``entrypoints/cli/*``) a command imported, by short name."""
    prefix = "dialgate.entrypoints.cli."
    return {m.removeprefix(prefix) for m in _report(tmp_path, url, *args)["dialgate"]
            if m.startswith(prefix)}


def _report(tmp_path: Path, url: str, *args: str) -> dict[str, Any]:
    report = tmp_path / "modules.json"
    env = {**os.environ, "DIALGATE_DATABASE_URL": url,
           "DIALGATE_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(report), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    assert result["code"] in (0, None), (args, proc.stdout, proc.stderr)
    return result


def test_help_imports_no_database_nor_web_nor_numbering_data(
        sqlite_url: str, tmp_path: Path) -> None:
    loaded = _imports(tmp_path, sqlite_url, "--help")
    assert "typer" in loaded  # the probe really ran the CLI
    unwanted = WEB | {"sqlalchemy", "phonenumbers", "numpy", "babel", "pydantic", "asyncio",
                      "argon2", "prometheus_client", "psycopg", "marisa_trie", "smtplib"}
    assert loaded & unwanted == set()


@pytest.mark.parametrize(
    ("args", "unwanted"),
    [
        (("rates", "show", "value", "4420123"),
         WEB | {"numpy", "phonenumbers", "babel", "argon2", "prometheus_client"}),
        (("authorize", "100000", "011442079460123", "--json"),
         WEB | {"numpy", "phonenumbers", "babel", "argon2"}),
        (("balance", "100000"),
         WEB | {"numpy", "phonenumbers", "babel", "argon2", "prometheus_client", "marisa_trie"}),
    ],
    ids=["rates-show", "authorize", "balance"],
)
def test_read_commands_import_only_what_they_use(
        sqlite_url: str, tmp_path: Path, args: tuple[str, ...], unwanted: set[str]) -> None:
    assert run(sqlite_url, "demo").returncode == 0
    # The first run compiles the numbering plan from phonenumbers into the cache directory;
    # every later run reads the cache and must not touch phonenumbers.
    _imports(tmp_path, sqlite_url, *args)
    report = _report(tmp_path, sqlite_url, *args)
    loaded = set(report["modules"])
    assert {"sqlalchemy", "marisa_trie"} & loaded  # the command really read the database
    assert loaded & unwanted == set()
    # They read the call path's Core tables; the ORM and its mapped classes are not loaded.
    assert "dialgate.adapters.db.tables" in report["dialgate"]
    assert "dialgate.adapters.db.models_core" not in report["dialgate"]
    assert "dialgate.adapters.db.models" not in report["dialgate"]
    assert report["orm"] is False


@pytest.mark.parametrize(
    ("args", "modules"),
    [
        (("balance", "100000"), {"billing"}),
        (("rates", "show", "value", "4420123"), {"calls"}),
        (("authorize", "100000", "011442079460123", "--json"), {"calls"}),
        (("did", "list", "100000"), {"dids"}),
    ],
    ids=["balance", "rates-show", "authorize", "did-list"],
)
def test_a_command_imports_only_its_own_cli_module(
        sqlite_url: str, tmp_path: Path, args: tuple[str, ...], modules: set[str]) -> None:
    assert run(sqlite_url, "demo").returncode == 0
    assert _cli_modules(tmp_path, sqlite_url, *args) == {"common", *modules}


def test_help_loads_every_cli_module(sqlite_url: str, tmp_path: Path) -> None:
    # --help reads every command's help line, so it is the one run that loads them all.
    assert _cli_modules(tmp_path, sqlite_url, "--help") >= set(COMMANDS.values())


def test_the_command_table_is_what_each_module_registers() -> None:
    for module in dict.fromkeys(COMMANDS.values()):
        owned = {name for name, owner in COMMANDS.items() if owner == module}
        assert set(module_commands(module)) == owned, module
    # And every module under entrypoints/cli/ that registers commands is in the table.
    cli_dir = Path(__file__).parents[2] / "src" / "dialgate" / "entrypoints" / "cli"
    registering = {p.stem for p in cli_dir.glob("*.py")
                   if "\ndef register(" in p.read_text(encoding="utf-8")}
    # cli/switch.py registers into the `switch` group that cli/apikeys.py creates.
    assert registering - {"switch"} == set(COMMANDS.values())


def test_help_lists_every_command_with_its_help_line(sqlite_url: str) -> None:
    result = run(sqlite_url, "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    listed = [line.split()[1] for line in lines if line.startswith("│ ") and len(line.split()) > 2]
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)
    for module in dict.fromkeys(COMMANDS.values()):
        for name, command in module_commands(module).items():
            first_words = " ".join(command.get_short_help_str(limit=200).split()[:4])
            assert first_words, name
            assert any(line.startswith(f"│ {name} ") and first_words in line for line in lines), (
                name, first_words)


def test_a_mistyped_command_is_refused_with_a_suggestion(sqlite_url: str) -> None:
    result = run(sqlite_url, "balanc", "100000")
    assert result.returncode == 2
    assert "No such command 'balanc'" in result.stderr
    assert "Did you mean 'balance'?" in result.stderr
