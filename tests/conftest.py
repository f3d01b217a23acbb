"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

``database`` is parametrized over both backends for the tests that use it. PostgreSQL is a real
throwaway cluster started once per session; it is never skipped.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

os.environ.setdefault("DIALGATE_ENVIRONMENT", "test")
os.environ.setdefault("DIALGATE_SECRET_KEY", "test-secret-key-0123456789abcdef")

from dialgate.adapters.db import migrate
from dialgate.config import get_settings
from dialgate.services import pops
from dialgate.services.uow import Database
from tests.support.pg import throwaway_cluster

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with throwaway_cluster() as url:
        yield url


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """A migrated template database; each test clones it (CREATE DATABASE ... TEMPLATE)."""
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS dialgate_template")
        conn.execute("CREATE DATABASE dialgate_template")
    migrate.upgrade(f"{pg_server}/dialgate_template")
    db = Database(f"{pg_server}/dialgate_template")
    with db.uow() as uow:
        pops.sync_pops(uow)
        uow.commit()
    db.dispose()
    return "dialgate_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    db = Database(f"sqlite:///{path}")
    with db.uow() as uow:
        pops.sync_pops(uow)
        uow.commit()
    db.dispose()
    return path


def _sqlite_database(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "dialgate.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def _pg_database(server: str, template: str) -> Iterator[str]:
    name = f"dialgate_t{os.getpid()}_{next(_counter)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE {template}')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        yield from _pg_database(
            request.getfixturevalue("pg_server"), request.getfixturevalue("pg_template")
        )


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh migrated SQLite database, for tests where the backend does not matter."""
    return _sqlite_database(sqlite_template, tmp_path)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[str]:
    """Point the process configuration (CLI, web app) at a fresh SQLite database."""
    monkeypatch.setenv("DIALGATE_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()


# Marks follow the directory a test lives in, so `-m "not e2e"` deselects every test that starts
# Kamailio or a browser without each module having to remember a `pytestmark`. The PostgreSQL
# mark goes on every test that reaches the throwaway cluster, directly or through `database_url`.
_E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)
        names = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "pg_server" in names or params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)
