"""Fixtures of the portal's HTTP tests: the demo database and a TestClient on the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dialgate.entrypoints.web import create_app
from dialgate.services import demo, portal_auth
from dialgate.services.uow import Database


@pytest.fixture
def demo_db(app_env: str) -> Iterator[Database]:
    db = Database(app_env)
    with db.uow() as uow:
        demo.load_demo(uow)
        uow.commit()
    yield db
    db.dispose()


@pytest.fixture
def client(demo_db: Database) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture(autouse=True)
def _no_login_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal_auth, "FAILURE_DELAY", 0.01)
