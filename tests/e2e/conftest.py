"""End-to-end fixtures for the SIP layer: a real Kamailio in front of a real Dialgate.

- ``dialgate``: a fresh SQLite database, migrated, with the demo and a switch token, served by
  uvicorn (``create_app``) in a subprocess; Kamailio reads the same database (subscriber).
- ``kamailio``: the shared POP (montreal1; UDP, TCP and TLS) rendered by
  ``render_kamailio_config`` pointing at that Dialgate, with carrier and media-server UASes.
- ``accounts_``/``account``: Dialgate accounts created through the services.
- ``standin_pop``: a second Kamailio in front of the programmable stand-in backend, only for
  what the real Dialgate cannot be made to do on purpose (hang, answer nonsense, record
  requests).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from dialgate.adapters import passwords
from dialgate.adapters.moh_audio import shipped_moh_dir
from dialgate.domain.rating import Rate
from dialgate.entrypoints.switch.kamailio import DEFAULT_TRANSPORT, write_kamailio_files
from dialgate.services.uow import Database

from .dialgate_server import DialgateServer, TestAccounts
from .media import RtpengineProcess
from .sip.sipclient import SipAgent, answer, free_port
from .standin import StandInSwitch

REALM = "sip.dialgate.test"
# Added to the demo's value deck: a Montreal exchange billed per second, so a small balance
# makes the real policy decide a call of a few seconds (the max-duration test).
TEST_RATES = (Rate("1514556", "Canada - Montreal (per second test)", Decimal("0.60"), 1),)
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"

pytestmark = pytest.mark.e2e


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed SIP test shows the end of each Kamailio log it used: CI keeps no files."""
    report = yield
    if report.failed and call.when == "call":
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, Kamailio):
                tail = "\n".join(value.log_text().splitlines()[-80:])
                report.sections.append((f"kamailio log (port {value.port}), last lines", tail))
    return report


# -- Dialgate --------------------------------------------------------------------------------


@pytest.fixture(scope="package", autouse=True)
def _cheap_argon2() -> Iterator[None]:
    """argon2id at production cost is ~0.4 s per account; these tests are about SIP.

    Package scope: the tests that run after tests/e2e (the portal's login timing among them)
    must get the production parameters back."""
    saved = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = saved


@dataclass
class RealDialgate:
    server: DialgateServer
    db: Database
    accounts: TestAccounts

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    def wait_decision(self, account: str, dialed: str, *, reason: str,
                      timeout: float = 10.0) -> None:
        """Wait until the running server decides ``dialed`` for ``account`` with ``reason``.

        A change written to the database reaches the server's policy cache through the feed,
        on the feed's time: a test waits for the server to say so, not for a fixed delay.
        """
        request = {"account": account, "dialed": dialed, "source_ip": "127.0.0.1",
                   "pop": "montreal1", "trace": False}
        deadline = time.monotonic() + timeout
        seen = None
        while True:
            with httpx.Client(timeout=5) as client:
                seen = client.post(f"{self.url}/switch/v1/authorize", json=request,
                                   headers={"Authorization": f"Bearer {self.token}"}).json()
            if seen.get("reason") == reason:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the server still decides {seen} for {account} "
                                     f"calling {dialed}, not {reason!r}")
            time.sleep(0.05)


@contextlib.contextmanager
def real_dialgate(db_url: str, workdir: Path, prefix: str) -> Iterator[RealDialgate]:
    server = DialgateServer(db_url, workdir / "dialgate.log")
    db = server.prepare(extra_rates={"value": TEST_RATES})
    server.start()
    try:
        yield RealDialgate(server, db, TestAccounts(db, prefix))
    finally:
        server.stop()
        db.dispose()


@pytest.fixture(scope="session")
def dialgate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealDialgate]:
    work = tmp_path_factory.mktemp("dialgate")
    with real_dialgate(f"sqlite:///{work / 'dialgate.db'}", work, "3") as dg:
        yield dg


@dataclass
class SwitchBackend:
    url: str
    token: str
    standin: StandInSwitch | None = None


@pytest.fixture(scope="session")
def switch_backend(dialgate: RealDialgate) -> SwitchBackend:
    return SwitchBackend(dialgate.url, dialgate.token)


@pytest.fixture(scope="session")
def standin_backend() -> Iterator[SwitchBackend]:
    standin = StandInSwitch(token="e2e-switch-token-0123456789")
    url = standin.start(free_port())
    yield SwitchBackend(url, standin.token, standin)
    standin.stop()


@pytest.fixture
def standin(standin_backend: SwitchBackend) -> Iterator[StandInSwitch]:
    """The stand-in, reset for one test."""
    s = standin_backend.standin
    assert s is not None
    saved = (s.authorize, s.inbound)
    s.requests.clear()
    s.delay_s = 0.0
    yield s
    s.authorize, s.inbound = saved
    s.delay_s = 0.0
    s.cdrs_failures = 0


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
    on_stop: Callable[[], None] | None = None

    @property
    def addr(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def rpc(self, *args: str) -> str:
        out = subprocess.run([KAMCMD, "-s", f"unix:{self.ctl}", *args], capture_output=True,
                             text=True, timeout=5, check=True)
        return out.stdout

    @property
    def rpc_socket(self) -> str:
        return str(Path(self.ctl).parent / "kamailio_rpc.sock")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        _stop_group(self.proc)
        if self.on_stop is not None:
            self.on_stop()
            self.on_stop = None


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
def rtpengine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtpengineProcess]:
    """The media relay of the shared POPs (rtpengine on 127.0.0.1, random ports)."""
    relay = RtpengineProcess(tmp_path_factory.mktemp("rtpengine")).start()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def start_kamailio(
    dialgate: RealDialgate, switch_backend: SwitchBackend, rtpengine: RtpengineProcess
) -> Iterator[StartKamailio]:
    """Factory: start a Kamailio rendered by ``render_kamailio_config``; keyword options
    override the defaults (e.g. ``pike_density=5``, ``bare=True``, ``tls=True``).

    On the evapi transport the Dialgate serving the POP (``dialgate_server``; default: the
    session's when ``switch_url`` is its URL) gets one of its evapi ports, and the POP is
    ready once that Dialgate has connected to it."""
    if not os.path.exists(KAMAILIO):  # fail, never skip: CI must not pass without the switch
        pytest.fail(f"{KAMAILIO} is not installed: run .ci/run (apt-get install kamailio ...)")
    started: list[Kamailio] = []
    agents: list[SipAgent] = []
    # Not tmp_path: pytest's base dir is 0700 and Kamailio may drop privileges in production
    # layouts; a private mkdtemp is enough and is removed at the end.
    base = Path(tempfile.mkdtemp(prefix="kam-e2e-"))

    def start(*, tls: bool = False, dialgate_server: DialgateServer | None = None,
              **options: Any) -> Kamailio:
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
            "db_url": dialgate.server.db_url, "switch_url": switch_backend.url,
            "switch_token": switch_backend.token, "realm": REALM,
            "carriers": {k: f"sip:127.0.0.1:{a.port}" for k, a in carriers.items()},
            "media_server": f"sip:127.0.0.1:{media.port}",
            "ctl_socket": str(work / "kamailio_ctl"), "rundir": str(work),
            "async_workers": 4, "http_timeout_s": 1, "pike_density": 2000,
            "children": 4, "fr_timer_ms": 2000,
            "rtpengines": [rtpengine.socket], "moh_dir": str(shipped_moh_dir()),
        }
        if tls:
            cert, key = work / "cert.pem", work / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", str(key), "-out", str(cert), "-days", "1",
                            "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
            opts.update(tls_cert=str(cert), tls_key=str(key), tls_port=tls_port)
        opts.update(options)
        server = dialgate_server or (dialgate.server if opts["switch_url"] == dialgate.url
                                     else None)
        evapi_port = links = None
        if (opts.get("transport") or DEFAULT_TRANSPORT) == "evapi":
            if server is None:
                raise RuntimeError("an evapi POP needs the DialgateServer that serves it")
            evapi_port = server.take_evapi_port()
            links = server.evapi_links(evapi_port)
            opts["evapi_listen"] = f"127.0.0.1:{evapi_port}"
        cfg = write_kamailio_files(work, **opts)
        log = work / "kamailio.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [KAMAILIO, "-DD", "-E", "-m", "128", "-x", "tlsf", "-f", str(cfg), "-Y", str(work)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        kam = Kamailio(port, tls_port if tls else None, str(work / "kamailio_ctl"), log, proc,
                       carriers, media)
        started.append(kam)
        if server is not None and evapi_port is not None and links is not None:
            kam.on_stop = lambda: server.release_evapi_port(evapi_port)
        _wait_ready(port, proc, log)
        if server is not None and evapi_port is not None and links is not None:
            server.wait_evapi(evapi_port, links)
        return kam

    yield start
    for kam in started:
        kam.stop()
    for agent in agents:
        agent.close()
    if not os.environ.get("DIALGATE_E2E_KEEP"):  # keep logs to debug a failure
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def kamailio(start_kamailio: StartKamailio) -> Kamailio:
    """The shared POP under test (with TLS, for the encrypted-SIP accounts)."""
    return start_kamailio(tls=True)


@pytest.fixture(scope="session")
def media_watch(kamailio: Kamailio, rtpengine: RtpengineProcess) -> Iterator[Path]:
    """`dialgate switch media-watch` for the shared POP (checks every 0.25 s); yields its log."""
    log = Path(kamailio.ctl).parent / "media-watch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dialgate", "switch", "media-watch", "--kamailio-rpc",
             kamailio.rpc_socket, "--rtpengine", rtpengine.socket, "--interval", "0.25"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    # Ready once its first check went through (Kamailio and rtpengine both answered).
    deadline = time.monotonic() + 30
    while "media watch running" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop_group(proc)
            raise RuntimeError("media-watch did not start:\n" + log.read_text()[-3000:])
        time.sleep(0.05)
    yield log
    _stop_group(proc)


@pytest.fixture(scope="session")
def standin_pop(start_kamailio: StartKamailio, standin_backend: SwitchBackend) -> Kamailio:
    """A POP in front of the stand-in backend (same database, same template)."""
    # The stand-in speaks HTTP only: this POP tests the HTTP transport.
    return start_kamailio(switch_url=standin_backend.url, switch_token=standin_backend.token,
                          transport="http")


@pytest.fixture
def ua(kamailio: Kamailio) -> Iterator[SipAgent]:
    agent = SipAgent(kamailio.addr, domain=REALM)
    yield agent
    agent.close()


@pytest.fixture
def account(dialgate: RealDialgate) -> Callable[..., tuple[str, str]]:
    """Create a Dialgate account (services); keyword settings are applied after creation.
    Returns (number, password): the SIP password starts as the portal password (seed)."""
    def make(balance: str = "10.00", **settings: Any) -> tuple[str, str]:
        return dialgate.accounts.create(balance=balance, **settings)

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
