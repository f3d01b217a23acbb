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

import pytest

from tests.support.cli import run

# Runs the console script's code (``python -m dialgate``), then writes the top-level packages
# it imported to the file named by the first argument.
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
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, fh)
"""

WEB = {"fastapi", "starlette", "uvicorn", "jinja2", "alembic"}


def _imports(tmp_path: Path, url: str, *args: str) -> set[str]:
    report = tmp_path / "modules.json"
    env = {**os.environ, "DIALGATE_DATABASE_URL": url,
           "DIALGATE_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(report), *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())
    assert result["code"] in (0, None), (args, proc.stdout, proc.stderr)
    return set(result["modules"])


def test_help_imports_no_database_nor_web_nor_numbering_data(
        sqlite_url: str, tmp_path: Path) -> None:
    loaded = _imports(tmp_path, sqlite_url, "--help")
    assert "typer" in loaded  # the probe really ran the CLI
    unwanted = WEB | {"sqlalchemy", "phonenumbers", "numpy", "babel", "pydantic_settings",
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
    loaded = _imports(tmp_path, sqlite_url, *args)
    assert {"sqlalchemy", "marisa_trie"} & loaded  # the command really read the database
    assert loaded & unwanted == set()
