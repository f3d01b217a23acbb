"""What the tests of the real VoIP.ms client libraries share: a Dialgate server process on a
copy of the migrated template holding the customer the drivers log in as, and the driver runs.

Each library runs in its own virtual environment (``tests.support.client_envs``); a driver
script (``tests/api/clients/drive_*.py``) performs the calls and prints, as JSON, what the
library returned or raised.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from dialgate.services import accounts, apikeys, dids
from dialgate.services.uow import Database
from tests.support.client_envs import client_python
from tests.support.server import running_server
from tests.support.smtp import free_port

DRIVERS = Path(__file__).resolve().parents[1] / "api" / "clients"
EMAIL = "alice@example.com"
API_PASSWORD = "ApiPass123"
DID = "5145550100"


def seed_customers(db: Database) -> None:
    """Account 100000 (the drivers' login, VoIP.ms API on from 127.0.0.1, a sub account and
    DID 5145550100) and another tenant, 200000."""
    with db.uow() as uow:
        accounts.create_account(uow, number="100000", email=EMAIL, password="Portal123x")
        accounts.create_subaccount(uow, "100000", "office", password="SipPass123", actor="test")
        apikeys.enable_voipms_api(uow, "100000", password=API_PASSWORD, allowed_ips=["127.0.0.1"])
        dids.add_did(uow, "100000", DID, actor="test")
        accounts.create_account(uow, number="200000", email="bob@example.com", password="Bob12345x")
        uow.commit()


@contextmanager
def clients_server(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    more: Callable[[Database], None] = lambda db: None,
) -> Iterator[str]:
    """A uvicorn process on a fresh database (``seed_customers``, then ``more``); yields the
    VoIP.ms API URL."""
    path = tmp_path_factory.mktemp(name) / "dialgate.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    db = Database(url)
    try:
        seed_customers(db)
        more(db)
    finally:
        db.dispose()
    log = tmp_path_factory.mktemp(f"{name}-log") / "server.log"
    with running_server(url, free_port(), log) as base:
        yield f"{base}/api/v1/rest.php"


def drive(client: str, url: str, script: str | None = None) -> dict[str, Any]:
    """Run a driver (by default ``drive_<client>.py``) with the library's own Python."""
    script = script or f"drive_{client.replace('-', '_')}.py"
    out = subprocess.run(
        [str(client_python(client)), str(DRIVERS / script), url, EMAIL, API_PASSWORD],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=DRIVERS,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def ok(results: dict[str, Any], name: str) -> Any:
    """The value a driver's call returned (it must not have raised)."""
    assert "ok" in results[name], (name, results[name])
    return results[name]["ok"]
