"""A real Dialgate for the SIP end-to-end tests: a fresh database (SQLite file or PostgreSQL),
migrated, with the demo data and a switch token, served by uvicorn (``create_app``) in a
subprocess on 127.0.0.1, so tests can stop it and start it again like an operator would."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dialgate.adapters.db import migrate
from dialgate.adapters.rate_data import demo_rates
from dialgate.domain.rating import Rate
from dialgate.services import accounts, apikeys, demo, rates
from dialgate.services.uow import Database
from tests.support.server import start_server, stop_server

from .sip.sipclient import free_port

# evapi sockets one Dialgate serves: each Kamailio started against it takes one (the server
# connects to all of them and retries those where nothing listens yet).
EVAPI_POOL = 12


@dataclass
class DialgateServer:
    db_url: str
    log: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None
    evapi_ports: list[int] = field(default_factory=lambda: [free_port()
                                                           for _ in range(EVAPI_POOL)])
    evapi_live: set[int] = field(default_factory=set)  # ports a running Kamailio listens on
    _evapi_next: int = 0

    def take_evapi_port(self) -> int:
        """A port of the pool for a new Kamailio (``evapi_listen``); released by
        ``release_evapi_port`` when that Kamailio stops."""
        free = [p for p in self.evapi_ports if p not in self.evapi_live]
        if not free:
            raise RuntimeError("every evapi port of this Dialgate is in use")
        self.evapi_live.add(free[0])
        return free[0]

    def release_evapi_port(self, port: int) -> None:
        self.evapi_live.discard(port)

    def evapi_links(self, port: int) -> int:
        """How many times this server connected to the evapi socket on ``port`` so far."""
        return self.log.read_text(errors="replace").count(f"evapi: connected to 127.0.0.1:{port}")

    def wait_evapi(self, port: int, links_before: int, timeout: float = 10.0) -> None:
        """Wait until the server connected to ``port`` once more than ``links_before``."""
        deadline = time.monotonic() + timeout
        while self.evapi_links(port) <= links_before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"dialgate did not connect to evapi on port {port}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self, *, extra_rates: Mapping[str, Sequence[Rate]] | None = None) -> Database:
        """Migrate, load the demo (plus ``extra_rates`` per route), create the switch token;
        returns a Database on it."""
        migrate.upgrade(self.db_url)
        db = Database(self.db_url)
        if db.dialect == "sqlite":
            # Kamailio reads the subscriber table while Dialgate and the tests write.
            with db.uow() as uow:
                uow.session.execute(text("PRAGMA journal_mode=WAL"))
                uow.commit()
        with db.uow() as uow:
            demo.load_demo(uow)
            for route, extra in (extra_rates or {}).items():
                rates.replace_deck(uow, route, [*demo_rates(route), *extra])
            _info, self.token = apikeys.create_switch_token(uow, name="e2e-montreal1")
            uow.commit()
        return db

    def start(self, *, workers: int = 1, extra: tuple[str, ...] = ()) -> None:
        """Start the server; it is ready once /healthz answers and it has connected to the
        evapi socket of every Kamailio running against it."""
        before = {port: self.evapi_links(port) for port in self.evapi_live} \
            if self.log.exists() else {}
        evapi = ",".join(f"127.0.0.1:{p}" for p in self.evapi_ports)
        self.proc = start_server(self.db_url, self.port, self.log, workers=workers, extra=extra,
                                 env_extra={"DIALGATE_SWITCH_EVAPI": evapi})
        for port, links in before.items():
            self.wait_evapi(port, links)

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_server(self.proc)
        self.proc = None
        # The port must really be free before a restart on it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)


@dataclass
class TestAccounts:
    """Dialgate accounts made through the services, as the portal or the API would."""

    db: Database
    prefix: str
    seq: int = 0

    def create(self, *, balance: str = "10.00", **settings: Any) -> tuple[str, str]:
        self.seq += 1
        number = f"{self.prefix}{self.seq:04d}"
        password = f"Sip{number}pass"
        with self.db.uow() as uow:
            accounts.create_account(uow, number=number, email=f"u{number}@example.com",
                                    password=password, balance=Decimal(balance), actor="e2e")
            uow.commit()
        if settings:
            self.set(number, **settings)
        return number, password

    def set_enabled(self, number: str, enabled: bool, *, reason: str | None = None) -> None:
        """Disable or enable an account (and its sub accounts) as an operator does."""
        with self.db.uow() as uow:
            accounts.set_account_enabled(uow, number, enabled, reason=reason, actor="e2e")
            uow.commit()

    def set(self, subject: str, **settings: Any) -> None:
        with self.db.uow() as uow:
            accounts.update_settings(uow, subject, {k: _text(v) for k, v in settings.items()},
                                     actor="e2e")
            uow.commit()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
