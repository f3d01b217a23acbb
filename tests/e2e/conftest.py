"""End-to-end fixtures for the SIP layer: a real Kamailio, a switch backend, carrier UASes.

Parameters the lead can swap without touching tests:
- ``switch_backend``: the HTTP service Kamailio asks. It is the stand-in from ``standin.py``
  by default; with ``DIALGATE_E2E_SWITCH_URL`` (+ ``DIALGATE_E2E_SWITCH_TOKEN``) set, or by
  overriding the fixture, Kamailio talks to a real Dialgate instead.
- ``kamailio_db_url``: a SQLAlchemy URL of the database holding ``subscriber``; a fresh
  SQLite file by default, ``DIALGATE_E2E_DATABASE_URL`` (PostgreSQL) otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, event, insert
from sqlalchemy.engine import Engine

from dialgate.adapters.db.models import Base, KamailioVersionRow, SubscriberRow
from dialgate.entrypoints.switch.kamailio import write_kamailio_files

from .sip.sipclient import SipAgent, answer, free_port
from .standin import StandInSwitch

REALM = "sip.dialgate.test"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.path.exists(KAMAILIO):
        return
    skip = pytest.mark.skip(reason="kamailio is not installed (see .ci/run)")
    for item in items:
        if "e2e/test_kamailio" in str(item.fspath):
            item.add_marker(skip)


# -- database -------------------------------------------------------------------------------


@dataclass
class SubscriberDb:
    url: str
    engine: Engine

    def add(self, username: str, password: str, *, max_expiry: int = 3600,
            encrypted_sip: bool = False, nat: str = "yes") -> None:
        ha1 = hashlib.md5(f"{username}:{REALM}:{password}".encode()).hexdigest()
        ha1b = hashlib.md5(
            f"{username}@{REALM}:{REALM}:{password}".encode()).hexdigest()
        with self.engine.begin() as conn:
            conn.execute(delete(SubscriberRow).where(SubscriberRow.username == username))
            conn.execute(insert(SubscriberRow).values(
                username=username, domain=REALM, password="", ha1=ha1, ha1b=ha1b,
                max_expiry=max_expiry, encrypted_sip=int(encrypted_sip), nat=nat))


def _make_db(url: str) -> SubscriberDb:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _wal(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")  # Kamailio reads while we write

    tables = [SubscriberRow.__table__, KamailioVersionRow.__table__]
    Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    with engine.begin() as conn:
        conn.execute(delete(KamailioVersionRow).where(
            KamailioVersionRow.table_name == "subscriber"))
        conn.execute(insert(KamailioVersionRow).values(table_name="subscriber", table_version=7))
    return SubscriberDb(url, engine)


@pytest.fixture(scope="session")
def kamailio_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("DIALGATE_E2E_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'dialgate.db'}")


@pytest.fixture(scope="session")
def subscribers(kamailio_db_url: str) -> Iterator[SubscriberDb]:
    db = _make_db(kamailio_db_url)
    yield db
    db.engine.dispose()


# -- switch backend -------------------------------------------------------------------------


@dataclass
class SwitchBackend:
    url: str
    token: str
    standin: StandInSwitch | None = None


@pytest.fixture(scope="session")
def switch_backend() -> Iterator[SwitchBackend]:
    url = os.environ.get("DIALGATE_E2E_SWITCH_URL")
    if url:
        yield SwitchBackend(url, os.environ["DIALGATE_E2E_SWITCH_TOKEN"])
        return
    standin = StandInSwitch(token="e2e-switch-token-0123456789")
    url = standin.start(free_port())
    yield SwitchBackend(url, standin.token, standin)
    standin.stop()


@pytest.fixture
def standin(switch_backend: SwitchBackend) -> Iterator[StandInSwitch]:
    """The stand-in, reset for one test (tests using it are stand-in specific)."""
    if switch_backend.standin is None:
        pytest.skip("programs the stand-in switch backend")
    s = switch_backend.standin
    saved = (s.authorize, s.inbound)
    s.requests.clear()
    s.delay_s = 0.0
    yield s
    s.authorize, s.inbound = saved
    s.delay_s = 0.0


# -- Kamailio ---------------------------------------------------------------------------------


@dataclass
class Kamailio:
    port: int
    tls_port: int | None
    ctl: str
    log: Path
    proc: subprocess.Popen[bytes]
    carriers: dict[str, SipAgent] = field(default_factory=dict)
    media: SipAgent | None = None

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def rpc(self, *args: str) -> str:
        out = subprocess.run([KAMCMD, "-s", f"unix:{self.ctl}", *args], capture_output=True,
                             text=True, timeout=5, check=True)
        return out.stdout

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        _stop_group(self.proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(3)
    # children that outlive the main process would keep the ports (pitfall 10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    probe = SipAgent(("127.0.0.1", port))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("kamailio exited:\n" + log.read_text()[-4000:])
            try:
                if probe.options(timeout=0.2).code == 200:
                    return
            except TimeoutError:
                continue
        raise RuntimeError("kamailio not answering OPTIONS:\n" + log.read_text()[-4000:])
    finally:
        probe.close()


StartKamailio = Callable[..., Kamailio]


@pytest.fixture(scope="session")
def start_kamailio(
    subscribers: SubscriberDb, switch_backend: SwitchBackend
) -> Iterator[StartKamailio]:
    """Factory: start a Kamailio rendered by ``render_kamailio_config``; keyword options
    override the defaults (e.g. ``pike_density=5``, ``bare=True``, ``tls=True``)."""
    started: list[Kamailio] = []
    agents: list[SipAgent] = []
    # Not tmp_path: pytest's base dir is 0700 and Kamailio may drop privileges in production
    # layouts; a private mkdtemp is enough and is removed at the end.
    base = Path(tempfile.mkdtemp(prefix="kam-e2e-"))

    def start(*, tls: bool = False, **options: Any) -> Kamailio:
        work = Path(tempfile.mkdtemp(dir=base))
        port, tls_port = free_port(), free_port()
        carriers: dict[str, SipAgent] = {}
        for name in ("value", "premium", "tollfree_us", "tollfree_ca", "emergency"):
            carriers[name] = SipAgent(("127.0.0.1", port), uas=answer())
            agents.append(carriers[name])
        media = SipAgent(("127.0.0.1", port), uas=answer())
        agents.append(media)
        opts: dict[str, Any] = {
            "pop": "montreal1", "listen": "127.0.0.1", "port": port,
            "db_url": subscribers.url, "switch_url": switch_backend.url,
            "switch_token": switch_backend.token, "realm": REALM,
            "carriers": {k: f"sip:127.0.0.1:{a.port}" for k, a in carriers.items()},
            "media_server": f"sip:127.0.0.1:{media.port}",
            "ctl_socket": str(work / "kamailio_ctl"), "rundir": str(work),
            "async_workers": 4, "http_timeout_s": 1, "pike_density": 2000,
            "children": 4, "fr_timer_ms": 2000,
        }
        if tls:
            cert, key = work / "cert.pem", work / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", str(key), "-out", str(cert), "-days", "1",
                            "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            opts.update(tls_cert=str(cert), tls_key=str(key), tls_port=tls_port)
        opts.update(options)
        cfg = write_kamailio_files(work, **opts)
        log = work / "kamailio.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [KAMAILIO, "-DD", "-E", "-m", "128", "-f", str(cfg), "-Y", str(work)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        kam = Kamailio(port, tls_port if tls else None, str(work / "kamailio_ctl"), log, proc,
                       carriers, media)
        started.append(kam)
        _wait_ready(port, proc, log)
        return kam

    yield start
    for kam in started:
        kam.stop()
    for agent in agents:
        agent.close()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def kamailio(start_kamailio: StartKamailio) -> Kamailio:
    """The shared POP under test."""
    return start_kamailio()


@pytest.fixture
def ua(kamailio: Kamailio) -> Iterator[SipAgent]:
    agent = SipAgent(kamailio.addr, domain=REALM)
    yield agent
    agent.close()


_ACCOUNT_SEQ = itertools.count(1)


@pytest.fixture
def account(subscribers: SubscriberDb) -> Callable[..., tuple[str, str]]:
    """Create a subscriber with a unique name; returns (username, password)."""
    def make(**kw: Any) -> tuple[str, str]:
        name = f"2{os.getpid() % 10000:04d}{next(_ACCOUNT_SEQ):04d}"
        password = "Secret-" + name
        subscribers.add(name, password, **kw)
        return name, password

    return make


@pytest.fixture
def carriers(kamailio: Kamailio) -> Iterator[dict[str, SipAgent]]:
    """The shared POP's carrier UASes, answering 200 and with empty inboxes."""
    agents = dict(kamailio.carriers)
    if kamailio.media is not None:
        agents["media"] = kamailio.media
    for a in agents.values():
        a.uas = answer()
        a.received.clear()
        while not a.requests.empty():
            a.requests.get_nowait()
    yield agents
    for a in agents.values():
        a.uas = answer()


@pytest.fixture
def registered(ua: SipAgent, account: Callable[..., tuple[str, str]]) -> tuple[str, str]:
    user, password = account()
    assert ua.register(user, password)[-1].code == 200
    return user, password
