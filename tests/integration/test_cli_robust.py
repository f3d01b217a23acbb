"""The CLI under contention and bad input: it waits out a busy SQLite database, and every input
problem is one clear line on stderr with exit status 2, no traceback, nothing changed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from dialgate.services import billing
from dialgate.services.uow import Database
from tests.support.cli import run


def balance(url: str) -> Decimal:
    db = Database(url)
    try:
        with db.uow(write=False) as uow:
            return billing.balance(uow, "100000").current_balance
    finally:
        db.dispose()


def rate_count(url: str) -> int:
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM rates").fetchone()
    return int(count)


@pytest.fixture
def demo_url(sqlite_url: str) -> str:
    assert run(sqlite_url, "demo").returncode == 0
    return sqlite_url


def test_deposits_wait_out_a_writer_that_holds_the_database(demo_url: str) -> None:
    """Longer than the server's 10 s busy timeout: the CLI waits, then every deposit lands."""
    before = balance(demo_url)
    holder = sqlite3.connect(demo_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, holding the one write lock
    env = {**os.environ, "DIALGATE_DATABASE_URL": demo_url}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "dialgate", "deposit", "100000", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    try:
        deadline = time.monotonic() + 12  # the writer keeps the lock past 10 s...
        while time.monotonic() < deadline:
            assert all(r.poll() is None for r in runs), "a deposit gave up while waiting"
            time.sleep(0.2)
    finally:
        holder.execute("COMMIT")  # ...then lets go
        holder.close()
    results = [(r.wait(timeout=120), *r.communicate()) for r in runs]
    assert [code for code, _out, _err in results] == [0] * 5, results
    assert balance(demo_url) == before + 5


def test_a_missing_database_is_a_clear_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "dialgate.db"
    result = run(f"sqlite:///{path}", "balance", "100000")
    assert result.returncode == 2
    assert "no database at" in result.stderr and "dialgate db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert not path.exists() and not path.parent.exists()


def test_an_empty_database_asks_for_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    result = run(f"sqlite:///{path}", "balance", "100000")
    assert result.returncode == 2 and "[database_not_migrated]" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"prefix,destination,rate\n1,Caf\xe9,0.01\n", "[invalid_encoding]"),
        (b"prefix,destination,rate\n1," + b"x" * 140_000 + b",0.01\n", "[invalid_csv]"),
    ],
    ids=["not-utf8", "field-over-128k"],
)
def test_a_bad_rate_file_is_a_clear_error_and_changes_nothing(
    demo_url: str, tmp_path: Path, content: bytes, code: str
) -> None:
    before = rate_count(demo_url)
    deck = tmp_path / "deck.csv"
    deck.write_bytes(content)
    result = run(demo_url, "rates", "import", "value", str(deck))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and code in result.stderr
    assert "Traceback" not in result.stderr
    assert rate_count(demo_url) == before


def test_bad_configuration_is_a_clear_error(demo_url: str) -> None:
    env = {**os.environ, "DIALGATE_DATABASE_URL": demo_url, "DIALGATE_TRUSTED_PROXIES": "bogus"}
    result = subprocess.run(
        [sys.executable, "-m", "dialgate", "balance", "100000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "DIALGATE_TRUSTED_PROXIES" in result.stderr
    assert "Traceback" not in result.stderr
