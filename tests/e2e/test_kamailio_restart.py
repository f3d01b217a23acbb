"""A Kamailio restart in the middle of a call loses no call record (``dialogs="database"``).

Each test runs its own Dialgate (SQLite or PostgreSQL, its own database) and its own Kamailio,
stopped (SIGTERM) and started again on the same port and database while a call is up. The call
then ends after the restart, by the caller's BYE or by the dialog timer (its maximum duration),
and Dialgate must hold exactly one charged record of it. Kamailio keeps nothing of the call
behind once it is recorded (no dialog, no queued record), so no later restart can record it
again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text

from dialgate.adapters.db.models import CdrRow, TransactionRow
from dialgate.entrypoints.switch.kamailio import write_kamailio_files

from .conftest import KAMAILIO, KAMCMD, REALM, RealDialgate, _stop_group, _wait_ready, real_dialgate
from .dialgate_server import DialgateServer
from .sip.sipclient import SipAgent, answer, free_port

pytestmark = pytest.mark.e2e

TIMED_NUMBER = "5145560123"  # conftest.TEST_RATES: $0.60/min billed by the second


@dataclass
class RestartablePop:
    """One Kamailio that can be stopped and started again on the same port and files."""

    work: Path
    cfg: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    carrier: SipAgent = field(init=False)
    # The Dialgate that answers this POP over evapi (the default transport) and the port it
    # connects to: each start is ready once that Dialgate has connected again.
    server: DialgateServer | None = None
    evapi_port: int | None = None

    def start(self) -> None:
        links = (self.server.evapi_links(self.evapi_port)
                 if self.server is not None and self.evapi_port is not None else None)
        self.starts += 1
        log = self.work / f"kamailio-{self.starts}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [KAMAILIO, "-DD", "-E", "-m", "64", "-x", "tlsf", "-f", str(self.cfg),
                 "-Y", str(self.work)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_ready(self.port, self.proc, log)
        if self.server is not None and self.evapi_port is not None and links is not None:
            self.server.wait_evapi(self.evapi_port, links)

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc)
            self.proc = None

    def dialogs(self) -> str:
        out = subprocess.run([KAMCMD, "-s", f"unix:{self.work / 'kamailio_ctl'}", "dlg.list"],
                             capture_output=True, text=True, timeout=5, check=True)
        return out.stdout

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.work.glob("*.log")))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dialgate.db'}"
        return
    server: str = request.getfixturevalue("pg_server")
    name = f"dialgate_restart_{os.getpid()}_{tmp_path.name[-10:].replace('-', '_')}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{server.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(db_url: str, tmp_path: Path) -> Iterator[tuple[RealDialgate, RestartablePop]]:
    # Not tmp_path for Kamailio's files: its Unix sockets need a short path.
    work = Path(tempfile.mkdtemp(prefix="kam-restart-"))
    carrier = SipAgent(("127.0.0.1", 9), uas=answer())  # the proxy is set once it is known
    try:
        with real_dialgate(db_url, tmp_path, "5") as dg:
            port = free_port()
            carrier.proxy = ("127.0.0.1", port)
            options: dict[str, Any] = {
                "pop": "montreal1", "listen": "127.0.0.1", "port": port,
                "db_url": dg.server.db_url, "switch_url": dg.url, "switch_token": dg.token,
                "realm": REALM,
                "carriers": {k: f"sip:127.0.0.1:{carrier.port}"
                             for k in ("value", "premium", "tollfree_us", "tollfree_ca")},
                "ctl_socket": str(work / "kamailio_ctl"), "rundir": str(work),
                "async_workers": 2, "children": 2, "http_timeout_s": 1, "pike_density": None,
                "dialogs": "database",
            }
            evapi_port = dg.server.take_evapi_port()
            options["evapi_listen"] = f"127.0.0.1:{evapi_port}"
            pop = RestartablePop(work, write_kamailio_files(work, **options), port,
                                 server=dg.server, evapi_port=evapi_port)
            pop.carrier = carrier
            pop.start()
            try:
                yield dg, pop
            finally:
                pop.stop()
    finally:
        carrier.close()
        if not os.environ.get("DIALGATE_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


def _wait(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def _records(dg: RealDialgate, call_id: str) -> tuple[list[CdrRow], list[TransactionRow]]:
    with dg.db.uow(write=False) as uow:
        cdrs = list(uow.session.scalars(select(CdrRow).where(CdrRow.call_id == call_id)))
        charges = list(uow.session.scalars(select(TransactionRow).where(
            TransactionRow.call_id == call_id, TransactionRow.kind == "call")))
        uow.session.expunge_all()
    return cdrs, charges


def _kamailio_rows(dg: RealDialgate) -> dict[str, int]:
    """Rows Kamailio keeps in the database: dialogs, their variables, queued records."""
    with dg.db.uow(write=False) as uow:
        return {t: int(uow.session.scalar(select(func.count()).select_from(text(t))) or 0)
                for t in ("dialog", "dialog_vars", "cdr", "cdrsending")}


def _confirmed(pop: RestartablePop, call_id: str) -> bool:
    """The call is up in Kamailio: its dialog is confirmed (state 4: answered and ACKed)."""
    listing = pop.dialogs()
    start = listing.find(call_id)
    if start < 0:
        return False
    block = listing[listing.rfind("{", 0, start):listing.find("}", start)]
    return "state: 4" in block


def _restart_with_the_call_up(pop: RestartablePop, call_id: str) -> None:
    _wait(lambda: _confirmed(pop, call_id), "the call up in Kamailio's dialogs")
    pop.stop()
    pop.start()
    # The new process knows the call from the database, without any message of it.
    assert call_id in pop.dialogs()


def test_a_call_hung_up_after_a_restart_is_charged_once(
    stack: tuple[RealDialgate, RestartablePop],
) -> None:
    dg, pop = stack
    user, password = dg.accounts.create(balance="5.00")
    ua = SipAgent(("127.0.0.1", pop.port), domain=REALM)
    try:
        dlg = ua.invite("5145551234", user=user, password=password)
        assert dlg.final is not None and dlg.final.code == 200
        answered = int(time.time())
        _restart_with_the_call_up(pop, dlg.call_id)
        # Kamailio stamps whole seconds: a call hung up in the second it was answered lasts
        # 0 s and costs nothing. Talk into the next second at least (a fast restart is quick).
        _wait(lambda: int(time.time()) > answered + 1, "a call of at least one second")
        assert ua.bye(dlg).code == 200
        assert pop.carrier.wait_request("BYE").call_id == dlg.call_id
    finally:
        ua.close()
    _wait(lambda: bool(_records(dg, dlg.call_id)[1]), "the call's charge")
    _wait(lambda: "call-id" not in pop.dialogs().lower(), "the dialog gone")
    pop.stop()  # what Kamailio keeps is written at shutdown: nothing of the call may remain
    cdrs, charges = _records(dg, dlg.call_id)
    assert [(c.disposition, c.end_reason) for c in cdrs] == [("answered", "hangup")]
    assert len(charges) == 1 and charges[0].amount == -cdrs[0].cost < 0
    assert _kamailio_rows(dg) == {"dialog": 0, "dialog_vars": 0, "cdr": 0, "cdrsending": 0}
    assert "CDR_LOST" not in pop.log_text()


def test_a_call_ended_by_its_time_limit_after_a_restart_is_charged_once(
    stack: tuple[RealDialgate, RestartablePop],
) -> None:
    dg, pop = stack
    # $0.12 at $0.60/min by the second: a 12 s call, ended by the restarted Kamailio's timer.
    user, password = dg.accounts.create(balance="0.12")
    ua = SipAgent(("127.0.0.1", pop.port), domain=REALM)
    try:
        dlg = ua.invite(TIMED_NUMBER, user=user, password=password)
        assert dlg.final is not None and dlg.final.code == 200
        _restart_with_the_call_up(pop, dlg.call_id)
        assert ua.wait_request("BYE", timeout=20).call_id == dlg.call_id
        assert pop.carrier.wait_request("BYE", timeout=5).call_id == dlg.call_id
    finally:
        ua.close()
    _wait(lambda: bool(_records(dg, dlg.call_id)[1]), "the call's charge")
    _wait(lambda: "call-id" not in pop.dialogs().lower(), "the dialog gone")
    pop.stop()
    cdrs, charges = _records(dg, dlg.call_id)
    assert [(c.disposition, c.end_reason) for c in cdrs] == [("answered", "max_duration")]
    assert len(charges) == 1 and Decimal("-0.13") <= charges[0].amount < 0
    assert _kamailio_rows(dg) == {"dialog": 0, "dialog_vars": 0, "cdr": 0, "cdrsending": 0}
    assert "CDR_LOST" not in pop.log_text()
