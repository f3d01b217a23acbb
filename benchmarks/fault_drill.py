"""Fault drill under load: sipp calls through Kamailio + Dialgate on PostgreSQL while, one at a
time, a part of the stack fails; after each fault the books are reconciled.

The stack: a throwaway PostgreSQL 15 cluster (its own data directory, so it can be restarted), a
real Dialgate (uvicorn, 2 workers), a real Kamailio rendered by ``write_kamailio_files`` on that
database, and a sipp carrier that answers every call. Each phase runs one sipp UAC at ``--rate``
calls/s for ``--seconds``: every call authenticates, is decided by Dialgate, is answered by the
carrier, talks briefly and hangs up; sipp logs each call's outcome with its Call-ID. A third of
the way into the phase the fault is injected (and, for outages, lifted ``--outage`` seconds
later). Faults:

- ``kill-worker``: ``kill -9`` of one uvicorn worker (the supervisor starts a new one);
- ``restart-postgres``: ``pg_ctl restart -m fast`` (every connection is dropped);
- ``restart-kamailio``: SIGTERM and a new Kamailio on the same port and database;
- ``read-only``: ``ALTER DATABASE ... SET default_transaction_read_only = on`` and every
  session ended, so no write succeeds, for ``--outage`` seconds;
- ``smtp-outage``: the mail server (an aiosmtpd sink) stops for ``--smtp-outage`` seconds
  (default 60) while every caller's balance threshold is set just under its balance, so calls
  queue balance alerts (and the threshold change its notice) that ``dialgate worker`` cannot
  send; once the sink is back every queued email must arrive exactly once (``emails missing``,
  ``emails twice``, by Message-ID), the calls unaffected.

After each phase, once the switch has had time to flush (polled, with a deadline), it checks:
every call sipp saw answered has exactly one call record and one charge (``records missing``,
``duplicates``); balance == ledger sum for every account; every refused call was refused with
503 (``calls refused``; any other failure is reported as ``other failures``) and never answered
without a decision (an answered call with no record is counted as missing); and how long after
the fault service was back (``recovery s``: from the fault to the first answered call after
the last refused one; ``fault s`` is how long the fault itself took: a restart, an outage).

Kamailio runs with ``dialogs="database"``: the calls in progress, the record queue and the
batch being posted are kept in the database, so ``restart-kamailio`` loses no record (calls
up at the restart are recorded when their BYE reaches the new process). The caller retransmits
its INVITEs and BYE as a phone does (``retrans="500"``): a BYE sent while Kamailio is down
arrives once it is back.

- ``full-disk`` (root only): the ``cdrs`` table is moved to a tablespace on an 8 MB tmpfs,
  which a filler file then fills for ``--outage`` seconds: call records cannot be written
  (PostgreSQL "could not extend file ... No space left on device"), Kamailio keeps and retries
  its batches, authorizations (reads) go on; the filler is removed and every record must land.

    python benchmarks/fault_drill.py                       # 40 calls/s, 12 s per fault
    python benchmarks/fault_drill.py --rate 100 --seconds 20 --faults kill-worker read-only

Prints one line per fault and a table; ``--json`` for a JSON summary only. The machine is shared:
rates here are far below the measured capacity (about 1,300 calls/s idle) on purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from email import message_from_bytes
from pathlib import Path
from typing import Any

from dialgate.entrypoints.switch.kamailio import write_kamailio_files

try:
    from benchmarks._sip import REALM, answers_options, free_port, stop_group
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from _sip import REALM, answers_options, free_port, stop_group  # type: ignore[no-redef]
PGBIN = Path(os.environ.get("DIALGATE_PGBIN", "/usr/lib/postgresql/15/bin"))
PASSWORD = "Drill-Pass-1"
FAULTS = ("kill-worker", "restart-postgres", "restart-kamailio", "read-only", "smtp-outage",
          "full-disk")
RECOVERY_LIMIT_S = 10.0

# The caller hangs up itself after a short talk; every outcome is logged with its Call-ID and
# sipp's clock (ms since sipp started).
UAC_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="drill-uac">
  <send retrans="500"><![CDATA[
INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[field1]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[
ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>
Call-ID: [call_id]
CSeq: 2 INVITE
Contact: <sip:[field1]@[local_ip]:[local_port]>
[field2]
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="503" optional="true" next="refused">
    <action><log message="REFUSED [call_id] [clock_tick] 503"/></action>
  </recv>
  <recv response="200" rrs="true">
    <action><log message="ANSWERED [call_id] [clock_tick]"/></action>
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <pause milliseconds="1100"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

  ]]></send>
  <recv response="200" optional="true" next="end"/>
  <recv response="481" optional="true" next="end"/>
  <recv response="408" next="end"/>
  <label id="refused"/>
  <nop/>
  <label id="end"/>
  <nop/>
</scenario>
"""

CARRIER_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="answering-carrier">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]C[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Length: 0

  ]]></send>
  <recv request="ACK" optional="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>
"""


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> float:
    """Poll ``check`` until true; returns the seconds it took (raises after ``timeout``)."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - t0


# --- the parts of the stack -------------------------------------------------------------------


class MailSink:
    """A real SMTP server (aiosmtpd) the drill can stop and start on the same port; it counts
    every message it accepts by Message-ID (the outbox's ``<outbox-ID@dialgate>``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: Counter[str] = Counter()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content)
        self.received[str(msg["Message-ID"])] += 1
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None




class Postgres:
    """A throwaway cluster the drill can restart and make read-only."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.root = os.geteuid() == 0

    def _run(self, args: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.root else []
        subprocess.run(prefix + args, check=True, capture_output=True, text=True)

    def _ctl(self, *args: str) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
                "-c synchronous_commit=off -c max_connections=200")
        self._run([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.base / "server.log"), "-w", "-t", "30", "-o", opts, *args])

    def start(self) -> None:
        self.base.chmod(0o755)
        if self.root:
            shutil.chown(self.base, "postgres", "postgres")
        self._run([str(PGBIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                   "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"])
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "restart")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([str(PGBIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                       "stop"])
        self.unmount_small_disk()

    @property
    def server(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def small_disk(self, name: str, table: str, size_mb: int = 8) -> Path:
        """Move ``table`` onto a tablespace of its own on a ``size_mb`` tmpfs (root only:
        ``mount``); returns the mount point, where a filler file can make the disk full."""
        import pwd

        if not self.root:
            raise SystemExit("full-disk needs root (it mounts a small tmpfs for a tablespace)")
        mnt = self.base / "small-disk"
        mnt.mkdir(exist_ok=True)
        owner = pwd.getpwnam("postgres")
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        f"size={size_mb}m,uid={owner.pw_uid},gid={owner.pw_gid},mode=0700",
                        "drill-small-disk", str(mnt)], check=True, capture_output=True)
        (mnt / "ts").mkdir()
        shutil.chown(mnt / "ts", "postgres", "postgres")
        self.sql(f"CREATE TABLESPACE small_disk LOCATION '{mnt / 'ts'}'")
        self.sql(f"ALTER TABLE {table} SET TABLESPACE small_disk", name)
        return mnt

    def unmount_small_disk(self) -> None:
        mnt = self.base / "small-disk"
        if mnt.is_mount():
            subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(f"{self.server}/{database}", autocommit=True) as conn:
            cur = conn.execute(statement)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def read_only(self, name: str, on: bool) -> None:
        """Refuse every write to database ``name``: new sessions start read-only, and the
        current ones are ended so the pools reconnect into read-only sessions."""
        value = "on" if on else "off"
        self.sql(f"ALTER DATABASE {name} SET default_transaction_read_only = {value}")
        self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")


@dataclass
class Dialgate:
    db_url: str
    log: Path
    smtp_port: int
    workers: int = 2
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # Kamailio's evapi socket (the default switch transport): the workers connect to it.
    evapi_port: int = field(default_factory=free_port)
    worker: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DIALGATE_DATABASE_URL": self.db_url,
                "DIALGATE_SWITCH_EVAPI": f"127.0.0.1:{self.evapi_port}",
                "DIALGATE_ENVIRONMENT": "test", "DIALGATE_SMTP_HOST": "127.0.0.1",
                "DIALGATE_SMTP_PORT": str(self.smtp_port),
                "DIALGATE_SECRET_KEY": "drill-secret-key-0123456789abcdef"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def evapi_links(self) -> int:
        """How many times a worker connected to Kamailio's evapi socket so far."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.count(f"evapi: connected to 127.0.0.1:{self.evapi_port}")

    def start(self) -> None:
        env = self.env
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory",
                 "dialgate.entrypoints.web:create_app", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers), "--no-access-log",
                 "--log-level", "warning"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: len(self.worker_pids()) == self.workers and self.healthy(), 60,
                 "dialgate ready")
        # The outbox worker (notification emails), as deployed: its own process.
        with self.log.with_name("worker.log").open("ab") as out:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "dialgate", "worker", "--interval", "0.5"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = []
        with contextlib.suppress(OSError):
            for pid in children.read_text().split():
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                if b"resource_tracker" not in cmdline:  # multiprocessing's helper, no worker
                    pids.append(int(pid))
        return pids

    def stop(self) -> None:
        if self.worker is not None:
            stop_group(self.worker)
        if self.proc is not None:
            stop_group(self.proc)


@dataclass
class Kamailio:
    work: Path
    options: dict[str, Any]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cfg = write_kamailio_files(self.work, port=self.port, **self.options)
        with (self.work / "kamailio.log").open("ab") as out:
            self.proc = subprocess.Popen(
                ["kamailio", "-DD", "-E", "-m", "256", "-x", "tlsf", "-f", str(cfg),
                 "-Y", str(self.work)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.answers_options, 15, "kamailio ready")

    def answers_options(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError("kamailio exited: " + self.log_tail())
        return answers_options(self.port)

    def log_tail(self) -> str:
        return (self.work / "kamailio.log").read_text(errors="replace")[-3000:]

    def lost_records(self) -> int:
        return (self.work / "kamailio.log").read_text(errors="replace").count("CDR_LOST")

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)


# --- the drill --------------------------------------------------------------------------------


@dataclass
class Outcome:
    fault: str
    calls: int
    answered: int
    refused: int
    other_failures: int
    outage_s: float
    recovery_s: float
    missing: int
    duplicates: int
    ledger_mismatches: int
    lost_in_kamailio: int
    # Notification emails queued during the phase, those the SMTP sink never got, and those
    # it got more than once.
    emails: int = 0
    emails_missing: int = 0
    emails_twice: int = 0

    @property
    def ok(self) -> bool:
        return (self.missing == 0 and self.duplicates == 0 and self.ledger_mismatches == 0
                and self.recovery_s <= RECOVERY_LIMIT_S and self.emails_missing == 0
                and self.emails_twice == 0)


@dataclass
class Stack:
    work: Path
    pg: Postgres
    db_name: str
    dialgate: Dialgate
    kamailio: Kamailio
    carrier: subprocess.Popen[bytes]
    numbers: list[str]
    mail: MailSink

    @property
    def db_url(self) -> str:
        return f"{self.pg.server.replace('postgresql://', 'postgresql+psycopg://')}/{self.db_name}"


ACCOUNT_PREFIX = "7700"


def prepare_database(db_url: str, accounts_n: int) -> tuple[str, list[str]]:
    """Migrate, load the demo, create the callers and a switch token. Each caller has
    $150: enough for every phase, and under the highest balance threshold ($200), so the SMTP
    phase can make calls cross thresholds."""
    from dialgate.adapters.db import migrate
    from dialgate.services import accounts, apikeys, demo
    from dialgate.services.uow import Database

    migrate.upgrade(db_url)
    db = Database(db_url)
    numbers = [f"{ACCOUNT_PREFIX}{n:02d}" for n in range(accounts_n)]
    try:
        with db.uow() as uow:
            demo.load_demo(uow)
            for number in numbers:
                accounts.create_account(uow, number=number, email=f"d{number}@example.com",
                                        password=PASSWORD, balance=Decimal("150.00"))
            _info, token = apikeys.create_switch_token(uow, name="drill")
            uow.commit()
    finally:
        db.dispose()
    return token, numbers


@contextlib.contextmanager
def running_stack(work: Path, *, accounts_n: int = 4, workers: int = 2) -> Iterator[Stack]:
    """Start PostgreSQL, Dialgate, a carrier and Kamailio; stop them all on exit."""
    pg = Postgres(Path(tempfile.mkdtemp(prefix="drill-pg-")))
    dialgate: Dialgate | None = None
    kamailio: Kamailio | None = None
    carrier: subprocess.Popen[bytes] | None = None
    mail = MailSink()
    try:
        mail.start()
        pg.start()
        name = "dialgate_drill"
        pg.sql(f"CREATE DATABASE {name}")
        db_url = f"{pg.server.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
        token, numbers = prepare_database(db_url, accounts_n)
        dialgate = Dialgate(db_url, work / "dialgate.log", mail.port, workers=workers)
        dialgate.start()
        carrier_port = free_port()
        (work / "carrier.xml").write_text(CARRIER_XML)
        carrier = subprocess.Popen(
            ["sipp", "-sf", str(work / "carrier.xml"), "-i", "127.0.0.1", "-p",
             str(carrier_port), "-nostdin", "-nd"],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        kam_dir = work / "kamailio"
        kam_dir.mkdir()
        kamailio = Kamailio(kam_dir, {
            "pop": "montreal1", "listen": "127.0.0.1", "db_url": db_url,
            "switch_url": dialgate.url, "switch_token": token, "realm": REALM,
            "carriers": {k: f"sip:127.0.0.1:{carrier_port}"
                         for k in ("value", "premium", "tollfree_us", "tollfree_ca",
                                   "emergency")},
            "carrier_sources": [f"127.0.0.1:{carrier_port}"],
            "ctl_socket": str(kam_dir / "ctl"), "rundir": str(kam_dir),
            "async_workers": 4, "children": 4, "http_timeout_s": 1, "pike_density": None,
            "debug": 1,
            # Calls in progress and undelivered records survive a Kamailio restart.
            "dialogs": "database",
            # A batch that cannot be delivered is retried for 15 s (30 x 0.5 s) before it is
            # logged as lost: longer than any outage drilled here.
            "cdr_retries": 30, "cdr_retry_delay_ms": 500,
            "evapi_listen": f"127.0.0.1:{dialgate.evapi_port}",
        })
        links = dialgate.evapi_links()
        kamailio.start()
        wait_for(lambda: dialgate.evapi_links() >= links + workers, 30,
                 "dialgate connected to kamailio's evapi socket")
        yield Stack(work, pg, name, dialgate, kamailio, carrier, numbers, mail)
    finally:
        if kamailio is not None:
            kamailio.stop()
        if carrier is not None:
            stop_group(carrier)
        if dialgate is not None:
            dialgate.stop()
        pg.stop()
        mail.stop()
        shutil.rmtree(pg.base, ignore_errors=True)


def inject(stack: Stack, fault: str, outage_s: float) -> tuple[float, float]:
    """Cause ``fault``; returns (when it started, when it ended) in time.monotonic()."""
    start = time.monotonic()
    if fault == "none":  # the warm-up: the same calls, nothing breaks
        pass
    elif fault == "kill-worker":
        pids = stack.dialgate.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
    elif fault == "restart-postgres":
        stack.pg.restart()
    elif fault == "restart-kamailio":
        stack.kamailio.stop()
        stack.kamailio.start()
    elif fault == "smtp-outage":
        # The mail server goes away, then every caller's balance threshold is set just under
        # its balance: the next call of each crosses it and queues an alert while SMTP is down.
        stack.mail.stop()
        arm_balance_alerts(stack)
        time.sleep(outage_s)
        stack.mail.start()
    elif fault == "full-disk":
        # The call records' table lives on a small disk (a tmpfs tablespace) that a filler
        # file fills: every new record fails to be written, authorizations only read.
        mnt = stack.pg.small_disk(stack.db_name, "cdrs")
        start = time.monotonic()
        fill(mnt / "filler")
        time.sleep(outage_s)
        (mnt / "filler").unlink()
    elif fault == "read-only":
        stack.pg.read_only(stack.db_name, True)
        time.sleep(outage_s)  # the outage itself: how long the database refuses writes
        stack.pg.read_only(stack.db_name, False)
    else:
        raise ValueError(f"unknown fault {fault}")
    return start, time.monotonic()


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as f:
        with contextlib.suppress(OSError):  # ENOSPC: full
            while True:
                f.write(chunk)
        with contextlib.suppress(OSError):
            while True:  # the last bytes of the last block too
                f.write(b"\0" * 512)


def arm_balance_alerts(stack: Stack) -> None:
    from dialgate.services import accounts, lookups
    from dialgate.services.uow import Database

    db = Database(stack.db_url)
    try:
        for number in stack.numbers:
            with db.uow() as uow:
                balance = lookups.get_account(uow, number).balance
                threshold = balance.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
                accounts.update_settings(uow, number, {"balance_threshold": str(threshold)},
                                         actor="drill")
                uow.commit()
    finally:
        db.dispose()


def _emails(stack: Stack, since_id: int) -> tuple[int, int, int]:
    """(queued, missing, sent twice) for the outbox rows after ``since_id``: every row must
    be marked sent and reach the sink exactly once (by its Message-ID)."""
    rows = stack.pg.sql(f"SELECT id, sent_at FROM outbox WHERE id > {since_id}", stack.db_name)
    received = stack.mail.received
    missing = sum(1 for i, sent in rows if sent is None or received[f"<outbox-{i}@dialgate>"] == 0)
    twice = sum(1 for i, _s in rows if received[f"<outbox-{i}@dialgate>"] > 1)
    return len(rows), missing, twice


def _sipp_log(step: Path) -> list[tuple[str, str, float, str]]:
    """(ANSWERED|REFUSED, call id, sipp clock ms, status line) per logged call."""
    rows = []
    for path in step.glob("*_logs.log"):
        for line in path.read_text(errors="replace").splitlines():
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] in ("ANSWERED", "REFUSED"):
                rows.append((parts[0], parts[1], float(parts[2]),
                             parts[3] if len(parts) > 3 else ""))
    return rows


def _books(stack: Stack, call_ids: set[str]) -> tuple[dict[str, int], dict[str, int], int]:
    """Call records and call charges per answered call id, and how many accounts' balance
    differs from their ledger's sum."""
    rows = stack.pg.sql("SELECT call_id, count(*) FROM cdrs GROUP BY call_id", stack.db_name)
    records = {c: n for c, n in rows if c in call_ids}
    rows = stack.pg.sql("SELECT call_id, count(*) FROM transactions WHERE kind = 'call' "
                        "GROUP BY call_id", stack.db_name)
    charges = {c: n for c, n in rows if c in call_ids}
    mismatched = stack.pg.sql(
        "SELECT a.number FROM accounts a LEFT JOIN transactions t ON t.account_id = a.id "
        "GROUP BY a.id, a.number, a.balance_micros "
        "HAVING a.balance_micros <> COALESCE(SUM(t.amount_micros), 0)", stack.db_name)
    return records, charges, len(mismatched)


def run_phase(stack: Stack, fault: str, *, rate: int, seconds: float,
              outage_s: float) -> Outcome:
    step = Path(tempfile.mkdtemp(prefix=f"phase-{fault}-", dir=stack.work))
    (step / "uac.xml").write_text(UAC_XML.format(realm=REALM))
    with (step / "calls.csv").open("w") as f:
        f.write("SEQUENTIAL\n")
        for number in stack.numbers:
            f.write(f"5145551234;{number};[authentication username={number} "
                    f"password={PASSWORD}];\n")
    calls = int(rate * seconds)
    lost_before = stack.kamailio.lost_records()
    outbox_before = stack.pg.sql("SELECT COALESCE(MAX(id), 0) FROM outbox", stack.db_name)[0][0]
    cmd = ["sipp", "-sf", str(step / "uac.xml"), "-inf", str(step / "calls.csv"),
           "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m", str(calls),
           "-l", str(rate * 4), "-nostdin", "-timeout", str(int(seconds) + 30),
           "-recv_timeout", "4000", "-trace_logs", "-trace_err", "-nd",
           f"127.0.0.1:{stack.kamailio.port}"]
    t0 = time.monotonic()
    uac = subprocess.Popen(cmd, cwd=step, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    window: list[tuple[float, float]] = []

    def drill() -> None:
        time.sleep(seconds / 3)  # the fault comes a third of the way in, with calls flowing
        window.append(inject(stack, fault, outage_s))

    injector = threading.Thread(target=drill)
    injector.start()
    injector.join()
    try:
        uac.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        stop_group(uac)
    log = _sipp_log(step)
    answered = {c for kind, c, _t, _s in log if kind == "ANSWERED"}
    refused = [(t, s) for kind, _c, t, s in log if kind == "REFUSED"]
    # The switch flushes its records every 100 ms: wait until every answered call has one
    # (or the deadline says some never will). Generous: on a busy machine a batch can take
    # longer than Kamailio's HTTP timeout (1 s), and each timed-out batch is sent again
    # after a pause, so records can be tens of seconds late without being lost.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: set(_books(stack, answered)[0]) >= answered, 60, "records", 0.2)
    records, charges, mismatches = _books(stack, answered)
    # Queued emails go out once SMTP is back: a failed send is retried after 30 s (the
    # outbox's first backoff), so allow the outage plus that plus a margin.
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: _emails(stack, outbox_before)[1] == 0, outage_s + 90, "emails", 0.5)
    emails, emails_missing, emails_twice = _emails(stack, outbox_before)
    fault_start, fault_end = window[0]
    # Recovery: from the fault to the first answered call after the last refusal (0 when no
    # call was refused: service never stopped).
    last_refusal = max((t0 + t / 1000 for t, _s in refused), default=None)
    recovery = 0.0
    if last_refusal is not None and last_refusal >= fault_start:
        after = [t0 + t / 1000 for kind, _c, t, _s in log
                 if kind == "ANSWERED" and t0 + t / 1000 > last_refusal]
        recovery = (min(after) if after else time.monotonic()) - fault_start
    return Outcome(
        fault=fault,
        calls=calls,
        answered=len(answered),
        refused=sum(1 for _t, s in refused if " 503 " in f" {s} "),
        other_failures=calls - len(answered) - sum(1 for _t, s in refused if " 503 " in f" {s} "),
        outage_s=round(fault_end - fault_start, 2),
        recovery_s=round(max(recovery, 0.0), 2),
        missing=sum(1 for c in answered if records.get(c, 0) == 0 or charges.get(c, 0) == 0),
        duplicates=sum(1 for c in answered if records.get(c, 0) > 1 or charges.get(c, 0) > 1),
        ledger_mismatches=mismatches,
        lost_in_kamailio=stack.kamailio.lost_records() - lost_before,
        emails=emails,
        emails_missing=emails_missing,
        emails_twice=emails_twice,
    )


def table(outcomes: list[Outcome]) -> str:
    head = ("fault", "calls", "answered", "refused 503", "other failed", "fault s", "recovery s",
            "records missing", "duplicates", "balance != ledger", "emails", "emails missing",
            "emails twice")
    rows = [head] + [(o.fault, str(o.calls), str(o.answered), str(o.refused),
                      str(o.other_failures), f"{o.outage_s:.2f}", f"{o.recovery_s:.2f}",
                      str(o.missing),
                      str(o.duplicates), str(o.ledger_mismatches), str(o.emails),
                      str(o.emails_missing), str(o.emails_twice)) for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                     for r in rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=40, help="calls per second")
    p.add_argument("--seconds", type=float, default=12, help="length of each phase")
    p.add_argument("--outage", type=float, default=3, help="seconds a read-only outage lasts")
    p.add_argument("--smtp-outage", type=float, default=60,
                   help="seconds the mail server is down")
    p.add_argument("--faults", nargs="*", default=list(FAULTS), choices=FAULTS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault-drill-"))
    outcomes = []
    with running_stack(work) as stack:
        # Warm-up, not reported: the first calls open Kamailio's HTTP and database connections
        # and build the accounts' policy snapshots.
        run_phase(stack, "none", rate=args.rate, seconds=3, outage_s=0)
        for fault in args.faults:
            outage = args.smtp_outage if fault == "smtp-outage" else args.outage
            outcome = run_phase(stack, fault, rate=args.rate, seconds=args.seconds,
                                outage_s=outage)
            outcomes.append(outcome)
            if not args.json:
                print(json.dumps(outcome.__dict__), flush=True)
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes]))
    else:
        print(table(outcomes))
        print(f"workdir: {work}")
    sys.exit(0 if all(o.ok for o in outcomes) else 1)


if __name__ == "__main__":
    main()
