"""Fixtures for the HTTP contract tests: an app on a fresh database, two tenants with keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.adapters import passwords
from dialgate.config import get_settings
from dialgate.entrypoints.web import create_app
from dialgate.services import accounts, apikeys, mailboxes
from dialgate.services.uow import Database


@dataclass(frozen=True)
class Tenant:
    number: str
    email: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(db: Database, number: str, email: str, *, subs: tuple[str, ...] = ()) -> Tenant:
    with db.uow() as uow:
        accounts.create_account(uow, number=number, email=email, password="Portal123x")
        for sub in subs:
            accounts.create_subaccount(uow, number, sub, password="SipPass123", actor="test")
        mailboxes.add_mailbox(uow, number, "1001", name="Main box")
        _info, key = apikeys.create_api_key(uow, number, name="tests")
        uow.commit()
    return Tenant(number, email, key)


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at production cost takes ~0.4 s here; these tests are about HTTP, not hashing."""
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def app(app_env: str) -> Iterator[FastAPI]:
    application = create_app(get_settings())
    yield application
    application.state.db.dispose()


@pytest.fixture
def api_db(app: FastAPI) -> Database:
    db: Database = app.state.db
    return db


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def alice(api_db: Database) -> Tenant:
    return make_tenant(api_db, "100000", "alice@example.com", subs=("office",))


@pytest.fixture
def bob(api_db: Database) -> Tenant:
    return make_tenant(api_db, "200000", "bob@example.com", subs=("desk",))
