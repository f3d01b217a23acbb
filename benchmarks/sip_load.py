"""SIP load through Kamailio with sipp: what asking Dialgate costs against honest baselines.

One run, one Kamailio template, the same accounts, dialed mix, carrier stand-in and sipp
scenario for every mode:

- ``answer``: Kamailio authenticates and answers every INVITE itself (404/403), no relay (the
  old ``bare`` mode: the least SIP work there is);
- ``relay``: the production config (auth, dialog, relay to the carrier, failure route, call
  records posted to Dialgate) with ``decision="fixed"``: the decision is read from a table in
  Kamailio holding the answers the real Dialgate gave for each account and number (asked once
  before the run), so it allows, refuses and relays exactly the same calls, without asking;
- ``dialgate``: production: every INVITE asks a real Dialgate (uvicorn + httptools/uvloop) on a
  fresh database with the demo and a few accounts whose settings make a realistic mix of
  allowed and denied calls;
- ``dialgate-nometrics`` (not by default): ``dialgate`` against a second Dialgate started with
  ``DIALGATE_METRICS_ENABLED=false`` (#17: what the per-call instrumentation costs, paired with
  ``dialgate`` in the same run; the summary gives ``nometrics/dialgate``);
- ``rtpengine`` (not by default): ``dialgate`` with an SDP offer in every INVITE and a real
  rtpengine anchoring each allowed call (offer on the INVITE, answer on the carrier's 183,
  delete when the carrier's 486 fails the call; no media packets).

sipp places authenticated INVITEs at increasing rates: INVITE -> 407 -> ACK -> INVITE with
digest -> final (the decision's code for denied calls; allowed calls are relayed to a carrier
that answers 486 at once, so each is one round of policy, dialog, relay and CDR work without
media). The most calls/s reached by a step with < 1 % failed calls is the capacity; one more
step at 80 % of it gives the latency there. p50/p99 are INVITE(with credentials) -> final
response, from sipp's RTD trace (whole milliseconds). Each step reports the cores and the CPU
milliseconds per call used by Kamailio, Dialgate, sipp (the caller), the carrier stand-in (also
a sipp) and rtpengine (its mode only). ``--pin`` runs both sipps on core 0 and Kamailio plus
Dialgate on core 1 (taskset), with two Kamailio SIP workers instead of four.

    python benchmarks/sip_load.py --modes answer relay dialgate          # the default
    python benchmarks/sip_load.py --pin
    python benchmarks/sip_load.py --rates 500 1000 --workers 1 --async-workers 8
    python benchmarks/sip_load.py --db-url postgresql+psycopg://postgres@127.0.0.1:25432/x
    python benchmarks/sip_load.py --modes rtpengine dialgate --rates 300 500 750
    python benchmarks/sip_load.py --modes dialgate dialgate-nometrics   # metrics cost, paired
    python benchmarks/sip_load.py --modes dialgate dialgate-nometrics --fixed-rate 800

Call records go to a Dialgate of their own (``serve --role records`` at nice 10, as
deploy/systemd runs it: ``records`` in the CPU columns) unless ``--records shared`` sends them
to the deciding Dialgate, as before round 3.

``--fixed-rate CPS`` skips the capacity search: every mode's Kamailio runs at once and the
modes take turns at that one rate for ``--rounds`` rounds; it prints each mode's medians and,
for every mode against the first, the median per-round ratio of CPU per call (Dialgate,
Kamailio, both). Paired like this, a busy moment slows both sides of a round alike.

Prints one line per step, a table, the ratios dialgate/relay and dialgate/answer, and a JSON
summary (``--json`` for only the JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dialgate.entrypoints.switch.kamailio import (
    DEFAULT_TRANSPORT,
    TRANSPORTS,
    write_kamailio_files,
)

try:
    from benchmarks._sip import REALM, free_port, stop, wait_sip
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from _sip import REALM, free_port, stop, wait_sip  # type: ignore[no-redef]
P99_TARGET_MS = 20
HOLDS = 0.9  # a refining step holds its rate when it completes 90 % of it per second
# Allowed for some accounts, denied for others (international, 411, NPA-555-1212, balance).
DIALED = ["5145551234", "01144201234567", "8005551234", "4165550000", "5145551212", "411"]

UAC_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="dialgate-uac">
  <send><![CDATA[
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
  <send start_rtd="1"><![CDATA[
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
  <recv response="402" optional="true" rtd="1" next="ack"/>
  <recv response="403" optional="true" rtd="1" next="ack"/>
  <recv response="404" optional="true" rtd="1" next="ack"/>
  <recv response="484" optional="true" rtd="1" next="ack"/>
  <recv response="486" rtd="1"/>
  <label id="ack"/>
  <send><![CDATA[
ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-7]
From: <sip:[field1]@{realm}>;tag=[pid]T[call_number]
To: <sip:[field0]@{realm}>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
Max-Forwards: 70
Content-Length: 0

  ]]></send>
</scenario>
"""

# The rtpengine mode's INVITE carries an SDP offer (sipp fills in its own media address).
SDP_BODY = """v=0
o=- 1 1 IN IP[media_ip_type] [media_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
"""


def uac_with_sdp(uac_xml: str) -> str:
    """The UAC scenario with an SDP offer in both INVITEs (the 407 one and the real one), and
    the carrier's 183 (relayed to the caller) expected before the final answer."""
    uac_xml = uac_xml.replace(
        '<recv response="402" optional="true" rtd="1" next="ack"/>',
        '<recv response="183" optional="true"/>\n'
        '  <recv response="402" optional="true" rtd="1" next="ack"/>')
    return uac_xml.replace(
        "Max-Forwards: 70\nContent-Length: 0\n\n  ]]></send>\n  <recv response=\"100\"",
        "Max-Forwards: 70\nContent-Type: application/sdp\nContent-Length: [len]\n\n"
        + SDP_BODY + "\n  ]]></send>\n  <recv response=\"100\"")


# rtpengine mode: the carrier answers the offer in a 183 (rtpengine answer), then is busy (the
# call fails: rtpengine delete).
CARRIER_SDP_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="early-media-busy-carrier">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 183 Session Progress
[last_Via:]
[last_From:]
[last_To:];tag=[pid]C[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP[media_ip_type] [media_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv

  ]]></send>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]C[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""

CARRIER_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="busy-carrier">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]C[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


# (account, settings): allowed and denied calls for several accounts.
ACCOUNTS: list[tuple[str, dict[str, str], str]] = [
    ("500001", {}, "10.00"),
    ("500002", {"allow_international": "true", "allowed_countries": "GB"}, "10.00"),
    ("500003", {"canada_route": "premium", "allowed_codecs": "ulaw,g729"}, "10.00"),
    ("500004", {}, "0"),  # insufficient balance for everything billable
]


def prepare_dialgate(db_url: str, password: str) -> tuple[str, list[str]]:
    """Migrate, load the demo, create the bench accounts and a switch token."""
    from decimal import Decimal

    from sqlalchemy import text

    from dialgate.adapters.db import migrate
    from dialgate.services import accounts, apikeys, demo
    from dialgate.services.uow import Database

    migrate.upgrade(db_url)
    db = Database(db_url)
    try:
        if db.dialect == "sqlite":
            # Readers (Kamailio's auth_db, the policy feed) must not wait for CDR writers.
            with db.uow() as uow:
                uow.session.execute(text("PRAGMA journal_mode=WAL"))
                uow.commit()
        with db.uow() as uow:
            demo.load_demo(uow)
            for number, settings, balance in ACCOUNTS:
                accounts.create_account(uow, number=number, email=f"b{number}@example.com",
                                        password=password, balance=Decimal(balance))
                if settings:
                    uow.session.flush()
                    accounts.update_settings(uow, number, settings, actor="bench")
            _info, token = apikeys.create_switch_token(uow, name="bench")
            uow.commit()
    finally:
        db.dispose()
    return token, [number for number, _s, _b in ACCOUNTS]


def start_dialgate(db_url: str, workers: int, log: Path, metrics: bool = True,
                   core: int | None = None, evapi: str = "",
                   nice: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    """The deciding Dialgate, in a session of its own at ``nice`` (``--switch-nice``; the
    deploy/systemd switch unit runs it at Nice=-5, ahead of Kamailio and the records)."""
    port = free_port()
    # Metrics as in production (several workers: one shared multiprocess directory), or off
    # (--no-metrics) to measure what they cost.
    extra = ({"PROMETHEUS_MULTIPROC_DIR": str(log.parent / "metrics")} if metrics
             else {"DIALGATE_METRICS_ENABLED": "false"})
    with log.open("wb") as out:
        proc = subprocess.Popen(pinned(
            [sys.executable, "-m", "uvicorn", "--factory", "dialgate.entrypoints.web:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             "--http", "httptools", "--loop", "uvloop", "--no-access-log",
             "--log-level", "warning", "--backlog", "1024"], core),
            env=server_env(db_url, {**extra, "DIALGATE_SWITCH_EVAPI": evapi}),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_niced(nice))
    url = wait_healthy(proc, port, log, "dialgate")
    time.sleep(1.0 if workers > 1 else 0.0)  # healthz came from one worker: the others warm up
    return proc, url


def _niced(nice: int) -> Callable[[], None] | None:
    """Run in the child after its ``setsid``: the process and its session's scheduling group at
    ``nice`` (``adapters.priority``, what ``dialgate serve --nice`` does)."""
    if not nice:
        return None

    def apply() -> None:
        from dialgate.adapters import priority

        priority.set_process_nice(nice)

    return apply


def start_records(db_url: str, log: Path, core: int | None) -> tuple[subprocess.Popen[bytes], str]:
    """``--records split``: the call records' Dialgate, as deploy/systemd runs it
    (``serve --role records``, one worker, a tenth of the switch's CPU weight: nice 10 on its
    own session's scheduling group)."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(pinned(
            [sys.executable, "-m", "dialgate", "serve", "--role", "records", "--port", str(port),
             "--workers", "1", "--nice", "10"], core),
            env=server_env(db_url,
                           {"PROMETHEUS_MULTIPROC_DIR": str(log.parent / "records-metrics")}),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, wait_healthy(proc, port, log, "records dialgate")


def server_env(db_url: str, extra: dict[str, str]) -> dict[str, str]:
    """A benchmark Dialgate's environment: this one, the database, ``extra``."""
    return {**os.environ, **extra, "DIALGATE_DATABASE_URL": db_url,
            "DIALGATE_ENVIRONMENT": os.environ.get("DIALGATE_ENVIRONMENT", "test"),
            "DIALGATE_SECRET_KEY": os.environ.get("DIALGATE_SECRET_KEY",
                                                  "bench-secret-key-0123456789")}


def wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path, what: str) -> str:
    """The server's URL once /healthz answers (after its start-up: policy cache warmed)."""
    import urllib.request

    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"{what} exited:\n" + log.read_text()[-3000:])
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz",
                                                                  timeout=2) as r:
            if r.status == 200:
                return url
        time.sleep(0.1)
    sys.exit(f"{what} not ready:\n" + log.read_text()[-3000:])


def session_cpu(sid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of one session."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # state ppid pgrp session ... utime stime
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


DRAIN_WINDOW_S = 0.1
SERVER_PARTS = ("kamailio", "dialgate", "records")


def drain(sessions: dict[str, int], limit_s: float = 60.0) -> float:
    """Seconds the server side stays busy after the last call: work a step left behind
    (mostly call records queued in Kamailio, or waiting behind the decisions at the records
    Dialgate's lower priority). Counted in the step's wall time and CPU, so a mode cannot
    look faster by leaving its records for later; a rate it cannot record as fast as it
    places is not sustainable. Busy: more than a tenth of a core in a 100 ms window."""
    parts = [sid for name, sid in sessions.items() if name in SERVER_PARTS]
    if not parts:
        return 0.0
    busy = 0.0
    last = sum(map(session_cpu, parts))
    while busy < limit_s:
        time.sleep(DRAIN_WINDOW_S)
        now = sum(map(session_cpu, parts))
        if now - last < 0.1 * DRAIN_WINDOW_S:
            break
        busy += DRAIN_WINDOW_S
        last = now
    return busy


def run_step(work: Path, port: int, rate: int, calls: int,
             sessions: dict[str, int], scenario: str = "uac.xml",
             core: int | None = None) -> dict[str, Any]:
    """One sipp run at ``rate``; also the CPU each part used (cores = CPU seconds / wall)."""
    step = Path(tempfile.mkdtemp(prefix=f"step-{port}-{rate}-", dir=work))
    stat, rtt_glob = step / "stat.csv", "uac_*_rtt.csv"
    cmd = ["sipp", "-sf", str(work / scenario), "-inf", str(work / "calls.csv"),
           "-i", "127.0.0.1", "-p", str(free_port()), "-r", str(rate), "-m", str(calls),
           "-l", str(max(200, rate)), "-nostdin", "-timeout", "60", "-timeout_error",
           "-recv_timeout", "5000", "-trace_stat", "-stf", str(stat), "-fd", "1",
           "-trace_rtt", "-rtt_freq", "1", f"127.0.0.1:{port}"]
    before = {name: session_cpu(sid) for name, sid in sessions.items()}
    t0 = time.monotonic()
    uac = subprocess.Popen(pinned(cmd, core), cwd=step, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    _pid, _status, usage = os.wait4(uac.pid, 0)
    uac.returncode = 0  # reaped by wait4
    wall = time.monotonic() - t0 + drain(sessions)
    cpu = {name: session_cpu(sid) - before[name] for name, sid in sessions.items()}
    cpu["sipp"] = cpu.get("sipp", 0.0) + usage.ru_utime + usage.ru_stime
    ok = failed = 0
    with stat.open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    if rows:
        ok = int(rows[-1]["SuccessfulCall(C)"])
        failed = int(rows[-1]["FailedCall(C)"])
    lat: list[float] = []
    for path in step.glob(rtt_glob):
        with path.open() as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) >= 2 and row[1].replace(".", "").isdigit():
                    lat.append(float(row[1]))
    lat.sort()

    def pct(p: float) -> float | None:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else None

    return {"rate": rate, "calls": calls, "ok": ok, "failed": failed,
            "fail_pct": round(100 * (calls - ok) / calls, 2), "cps": round(ok / wall, 1),
            "p50_ms": pct(50), "p99_ms": pct(99),
            "cores": {name: round(used / wall, 2) for name, used in cpu.items()},
            "cpu_ms_per_call": {name: round(1000 * used / max(ok, 1), 3)
                                for name, used in cpu.items()}}


def start_rtpengine(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A userspace rtpengine on 127.0.0.1 (config from ``dialgate switch rtpengine-config``)."""
    from dialgate.adapters.rtpengine_ng import NgClient, RtpengineError
    from dialgate.entrypoints.switch.rtpengine import render_rtpengine_config

    ng_port = free_port()
    conf = work / "rtpengine.conf"
    conf.write_text(render_rtpengine_config(
        interfaces=["127.0.0.1"], listen_ng=f"127.0.0.1:{ng_port}", port_min=40000,
        port_max=60000, log_level=3))
    log = work / "rtpengine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["rtpengine", f"--config-file={conf}", "--foreground",
                                 "--log-stderr", f"--pidfile={work / 'rtpengine.pid'}"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    sock = f"udp:127.0.0.1:{ng_port}"
    with NgClient(sock, timeout=0.2) as ng:
        for _ in range(100):
            if proc.poll() is not None:
                sys.exit("rtpengine exited:\n" + log.read_text()[-3000:])
            with contextlib.suppress(RtpengineError):
                if ng.request("ping").get("result") == "pong":
                    return proc, sock
            time.sleep(0.1)
    sys.exit("rtpengine not ready:\n" + log.read_text()[-3000:])


def fixed_answers(switch_url: str, token: str, numbers: list[str],
                  dialed: list[str]) -> dict[str, str]:
    """The real Dialgate's answer for every account and dialed number of the mix (asked once,
    over HTTP): the ``relay`` mode's Kamailio reads them from a table, so it allows, refuses
    and relays exactly the calls Dialgate would."""
    import base64
    import urllib.error
    import urllib.request

    auth = base64.b64encode(f"kamailio:{token}".encode()).decode()
    answers: dict[str, str] = {}
    for number in numbers:
        for d in dialed:
            body = json.dumps({"account": number, "dialed": d, "source_ip": "127.0.0.1",
                               "pop": "montreal1", "transport": "udp", "srtp": False,
                               "trace": False}).encode()
            req = urllib.request.Request(
                switch_url + "/switch/v1/authorize", data=body, method="POST",
                headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                answers[f"{number}_{d}"] = r.read().decode()
    return answers


def pinned(cmd: list[str], core: int | None) -> list[str]:
    """``cmd`` run on one CPU core (``--pin``), or as is."""
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


@contextlib.contextmanager
def running_mode(args: argparse.Namespace, work: Path, *, mode: str, switch_url: str,
                 token: str, db_url: str, carrier_port: int,
                 rtpengine: str | None = None, answers: dict[str, str] | None = None,
                 evapi_port: int | None = None, records_url: str | None = None,
                 dialgate_log: Path | None = None) -> Iterator[tuple[int, int, str]]:
    """A Kamailio configured for ``mode``, warmed up: yields its SIP port, its pid and the
    sipp scenario to place calls with; stopped on exit."""
    port = free_port()
    mode_dir = work / mode
    evapi_port = evapi_port or args.evapi_port
    cfg = write_kamailio_files(
        mode_dir, pop=args.pop, listen="127.0.0.1", port=port, db_url=db_url,
        switch_url=switch_url, switch_token=token, realm=REALM,
        carriers={k: f"sip:127.0.0.1:{carrier_port}"
                  for k in ("value", "premium", "tollfree_us", "tollfree_ca", "emergency")},
        carrier_sources=[f"127.0.0.1:{carrier_port}"],
        ctl_socket=str(mode_dir / "ctl"), rundir=str(mode_dir),
        async_workers=args.async_workers, children=args.children, http_timeout_s=1,
        pike_density=None, bare=mode == "answer", debug=1,
        decision="fixed" if mode == "relay" else "dialgate",
        transport=mode.removeprefix("dialgate-") if mode.removeprefix("dialgate-") in TRANSPORTS
        else DEFAULT_TRANSPORT,
        evapi_listen=f"127.0.0.1:{evapi_port}",
        fixed_answers=answers if mode == "relay" else None,
        rtpengines=[rtpengine] if rtpengine else [], records_url=records_url)
    log = mode_dir / "kamailio.log"
    dialgate_log = dialgate_log or work / "dialgate.log"
    connected = f"evapi: connected to 127.0.0.1:{evapi_port}"
    links_before = dialgate_log.read_text().count(connected)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            pinned(["kamailio", "-DD", "-E", "-m", "512", "-x", "tlsf", "-f", str(cfg),
                    "-Y", str(mode_dir)], args.server_core),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_sip(port, proc, log)
        if 'loadmodule "evapi.so"' in cfg.read_text():
            # Every Dialgate worker connects to Kamailio's evapi socket (retrying every second
            # at most); calls are placed once they all have.
            deadline = time.monotonic() + 15
            while dialgate_log.read_text().count(connected) < links_before + args.workers:
                if time.monotonic() > deadline:
                    sys.exit("dialgate did not connect to kamailio's evapi socket")
                time.sleep(0.05)
        # Warm-up, not reported: first calls check the switch token, build the accounts'
        # policy snapshots and open Kamailio's HTTP and database connections.
        scenario = "uac_sdp.xml" if rtpengine else "uac.xml"
        run_step(work, port, 100, 300, {}, scenario, core=args.sipp_core)
        time.sleep(1)
        with capture(args.capture, mode, evapi_port):
            yield port, proc.pid, scenario
    finally:
        stop(proc)


@contextlib.contextmanager
def capture(folder: Path | None, mode: str, evapi_port: int) -> Iterator[None]:
    """``--capture``: tcpdump the mode's evapi connection into ``folder/<mode>.pcap`` while it
    runs (``benchmarks/evapi_latency.py`` reads it: Dialgate's answer times on the wire)."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    pcap = folder / f"{mode}.pcap"
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "0", "-B", "16384", "-U", "-w", str(pcap),
         f"tcp port {evapi_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert dump.stderr is not None
    dump.stderr.readline()  # "listening on lo ...": capturing from here on
    try:
        yield
    finally:
        dump.terminate()
        dump.wait(10)
        print(f"{mode}: evapi capture in {pcap} (port {evapi_port}): "
              f"python benchmarks/evapi_latency.py {pcap} --port {evapi_port}", flush=True)


def bench_mode(args: argparse.Namespace, work: Path, *, mode: str,
               sessions: dict[str, int], **kamailio: Any) -> dict[str, Any]:
    """Capacity (the best step under 1 % failures) and the latency at 80 % of it."""
    with running_mode(args, work, mode=mode, **kamailio) as (port, pid, scenario):
        steps: list[dict[str, Any]] = []
        best = fast = None
        parts = {"kamailio": pid, **sessions}

        def step_at(rate: int, label: str = "") -> dict[str, Any]:
            step = run_step(work, port, rate, max(args.min_calls, rate * args.seconds),
                            parts, scenario, core=args.sipp_core)
            steps.append(step)
            if not args.json:
                print(f"{mode:9} {label}{json.dumps(step)}", flush=True)
            return step

        def keep(step: dict[str, Any]) -> None:
            nonlocal best, fast
            # The best step by calls/s: a few calls that time out stretch a step's wall time,
            # so a higher rate with a handful of failures can show fewer calls/s.
            if best is None or step["cps"] > best["cps"]:
                best = step
            fast_enough = step["p99_ms"] is not None and step["p99_ms"] < P99_TARGET_MS
            if fast_enough and (fast is None or step["cps"] > fast["cps"]):
                fast = step

        passed = failed = None
        for rate in args.rates:
            step = step_at(rate)
            if step["fail_pct"] >= 1.0:
                failed = rate
                break
            passed = rate
            keep(step)
            time.sleep(1)  # let tm's wait timers drain before the next step
        # The steps are 250-1,000 calls/s apart where modes reach capacity, more than the
        # difference being measured: halve the gap between the last rate that held and the
        # first that failed --refine times (the same for every mode).
        if passed is not None and failed is not None:
            for _ in range(args.refine):
                rate = (passed + failed) // 2
                if not passed < rate < failed:
                    break
                time.sleep(5)  # what the failed step left (retransmissions, timers) ends first
                step = step_at(rate, "refine ")
                if step["fail_pct"] < 1.0:
                    keep(step)
                # A rate holds when its calls were placed at that rate: past capacity, sipp's
                # retransmissions can still complete 99 % of the calls, but more slowly.
                if step["fail_pct"] < 1.0 and step["cps"] >= HOLDS * rate:
                    passed = rate
                else:
                    failed = rate
        at80 = None
        if best is not None:
            # The latency bar is judged at 80 % of the capacity just found.
            rate80 = max(1, int(best["cps"] * 0.8))
            time.sleep(1)
            at80 = step_at(rate80, "at80 ")
        return {"steps": steps, "best": best, "fast": fast, "at80": at80}


def paired_rounds(args: argparse.Namespace, work: Path,
                  modes: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``--fixed-rate``: every mode's Kamailio runs at once and the modes take turns, one step
    at the same rate each, for ``--rounds`` rounds. A busy moment then slows both sides of a
    round alike, so per-round ratios of CPU per call hold where a capacity search (one mode
    after the other, minutes apart) moves by 20 %."""
    rounds: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    calls = max(args.min_calls, args.fixed_rate * args.seconds)
    with contextlib.ExitStack() as stack:
        running = {}
        for mode, spec in modes.items():
            sessions = spec.pop("sessions")
            port, pid, scenario = stack.enter_context(
                running_mode(args, work, mode=mode, **spec))
            running[mode] = (port, {"kamailio": pid, **sessions}, scenario)
        for number in range(args.rounds):
            order = list(running) if number % 2 == 0 else list(running)[::-1]
            for mode in order:
                port, parts, scenario = running[mode]
                step = run_step(work, port, args.fixed_rate, calls, parts, scenario,
                                core=args.sipp_core)
                rounds[mode].append(step)
                if not args.json:
                    print(f"{mode:9} round {number + 1} {json.dumps(step)}", flush=True)
                time.sleep(1)  # tm's wait timers drain before the next step
    return rounds


def summarize_rounds(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per mode: median calls/s, p50, p99 and CPU ms per call of each part; per pair of modes
    (each against the first): the median over rounds of the per-round ratio of Dialgate's,
    Kamailio's and the whole server side's CPU per call."""
    def median_of(steps: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> Any:
        values = [v for v in map(get, steps) if v is not None]
        return round(statistics.median(values), 3) if values else None

    def server(step: dict[str, Any]) -> float:
        cpu = step["cpu_ms_per_call"]
        return float(cpu.get("kamailio", 0.0) + cpu.get("dialgate", 0.0)
                     + cpu.get("records", 0.0))

    out: dict[str, Any] = {"modes": {}, "ratios": {}}
    for mode, steps in rounds.items():
        parts = steps[0]["cpu_ms_per_call"] if steps else {}
        out["modes"][mode] = {
            "rounds": len(steps),
            "failed_pct": median_of(steps, lambda s: s["fail_pct"]),
            "cps": median_of(steps, lambda s: s["cps"]),
            "p50_ms": median_of(steps, lambda s: s["p50_ms"]),
            "p99_ms": median_of(steps, lambda s: s["p99_ms"]),
            "p99_ms_worst": max((s["p99_ms"] or 0.0 for s in steps), default=None),
            "cpu_ms_per_call": {part: median_of(steps, lambda s, p=part: s["cpu_ms_per_call"][p])
                                for part in parts},
        }
    base, *others = list(rounds)
    for mode in others:
        pairs = list(zip(rounds[mode], rounds[base], strict=True))
        out["ratios"][f"{mode}/{base}"] = {
            what: round(statistics.median(get(a) / get(b) for a, b in pairs if get(b)), 3)
            for what, get in (
                ("dialgate_cpu", lambda s: s["cpu_ms_per_call"].get("dialgate", 0.0)),
                ("kamailio_cpu", lambda s: s["cpu_ms_per_call"].get("kamailio", 0.0)),
                ("server_cpu", server),
            )
        }
    return out


# dialgate: kamailio-config's default transport; dialgate-<transport>: that one.
MODES = ["answer", "relay", "dialgate", *(f"dialgate-{t}" for t in TRANSPORTS),
         "dialgate-nometrics", "rtpengine"]


def summarize(mode: str, result: dict[str, Any]) -> dict[str, Any]:
    best, fast, at80 = result["best"] or {}, result["fast"] or {}, result["at80"] or {}
    return {"cps": best.get("cps"), "p50_ms": best.get("p50_ms"), "p99_ms": best.get("p99_ms"),
            "cpu_ms_per_call": best.get("cpu_ms_per_call"), "cores": best.get("cores"),
            f"cps_p99_under_{P99_TARGET_MS}ms": fast.get("cps"),
            "at80": {k: at80.get(k) for k in ("rate", "cps", "fail_pct", "p50_ms", "p99_ms")}
            if at80 else None}


def median_or_none(values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_table(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each mode's figures as the median over the repetitions, figure by figure (one
    repetition: its own figures)."""
    if len(runs) == 1:
        return runs[0]
    table: dict[str, dict[str, Any]] = {}
    for mode in runs[0]:
        rows = [run[mode] for run in runs]
        cpu_parts = {part for row in rows for part in (row["cpu_ms_per_call"] or {})}
        at80s = [row["at80"] or {} for row in rows]
        table[mode] = {
            **{key: None if (m := median_or_none([row[key] for row in rows])) is None
               else round(m, 1)
               for key in ("cps", "p50_ms", "p99_ms", f"cps_p99_under_{P99_TARGET_MS}ms")},
            "cpu_ms_per_call": {part: round(median_or_none(
                [(row["cpu_ms_per_call"] or {}).get(part) for row in rows]) or 0, 3)
                for part in sorted(cpu_parts)},
            "cores": None,
            "at80": {key: median_or_none([at80.get(key) for at80 in at80s])
                     for key in ("rate", "cps", "fail_pct", "p50_ms", "p99_ms")},
        }
    return table


def print_table(modes: dict[str, dict[str, Any]]) -> None:
    parts = ["kamailio", "dialgate", "records", "sipp", "standin", "rtpengine"]
    print(f"{'mode':19}{'calls/s':>9}{'p50':>6}{'p99':>6}{'p99@80%':>9}  CPU ms/call "
          + " ".join(f"{p:>9}" for p in parts))
    for mode, row in modes.items():
        cpu = row["cpu_ms_per_call"] or {}
        at80 = (row["at80"] or {}).get("p99_ms")
        print(f"{mode:19}{row['cps'] or 0:>9}{_ms(row['p50_ms']):>6}{_ms(row['p99_ms']):>6}"
              f"{at80 if at80 is not None else '-':>9}             "
              + " ".join(f"{cpu.get(p, '-'):>9}" for p in parts))


def print_rounds(summary: dict[str, Any]) -> None:
    parts = ["kamailio", "dialgate", "records", "sipp", "standin", "rtpengine"]
    print(f"{summary['rate']} calls/s offered, medians of the rounds (pinned={summary['pinned']},"
          f" load average {summary['loadavg']:.2f})")
    print(f"{'mode':19}{'calls/s':>9}{'p50':>6}{'p99':>6}{'worst p99':>10}  CPU ms/call "
          + " ".join(f"{p:>9}" for p in parts))
    for mode, row in summary["modes"].items():
        cpu = row["cpu_ms_per_call"]
        print(f"{mode:19}{row['cps']:>9}{_ms(row['p50_ms']):>6}{_ms(row['p99_ms']):>6}"
              f"{_ms(row['p99_ms_worst']):>10}             "
              + " ".join(f"{cpu.get(p, '-'):>9}" for p in parts))
    for pair, ratios in summary["ratios"].items():
        print(f"{pair}: median per-round ratio of CPU per call: "
              + ", ".join(f"{what} {value}" for what, value in ratios.items()))


def _ms(value: float | None) -> str:
    """sipp's RTD rows carry fractions of a millisecond (36.001): one decimal is plenty."""
    return "-" if value is None else f"{round(value, 1):g}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db-url", help="SQLAlchemy URL of an empty database (default: temp SQLite)")
    p.add_argument("--password", default="Bench-Pass-1")
    p.add_argument("--dialed", nargs="*", default=DIALED)
    p.add_argument("--rates", type=int, nargs="*",
                   default=[500, 750, 1000, 1100, 1200, 1300, 1400, 1500, 1750, 2000, 2500,
                            3000, 3500, 4000, 4500, 5000, 6000])
    p.add_argument("--seconds", type=int, default=3, help="calls per step = rate x seconds")
    p.add_argument("--min-calls", type=int, default=500)
    p.add_argument("--children", type=int, default=None,
                   help="Kamailio's SIP worker processes (default 4; 2 with --pin: on one core "
                        "more only queue behind each other and behind evapi's one dispatcher, "
                        "which resumes every call)")
    p.add_argument("--async-workers", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--pop", default="montreal1")
    p.add_argument("--modes", nargs="*", default=["answer", "relay", "dialgate"],
                   choices=[*MODES, "bare"], help="bare is the old name of answer")
    p.add_argument("--switch-nice", type=int, default=0,
                   help="nice of the deciding Dialgate and its session group (default 0, as in "
                        "earlier rounds; deploy/systemd/dialgate-switch.service uses -5, which "
                        "needs root here)")
    p.add_argument("--pin", action="store_true",
                   help="sipp (caller and carrier) on core 0, Kamailio and Dialgate on core 1")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-bare", action="store_true", help="skip the answer mode")
    p.add_argument("--fixed-rate", type=int, metavar="CPS",
                   help="no capacity search: every mode at this rate, taking turns (paired)")
    p.add_argument("--repeat", type=int, default=1,
                   help="capacity searches per mode, the modes taking turns; the summary gives "
                        "the medians and each repetition's ratios")
    p.add_argument("--refine", type=int, default=2,
                   help="after the first failed step, halve the gap to the last step that held "
                        "this many times (0: the fixed steps only, as before round 6)")
    p.add_argument("--rounds", type=int, default=6, help="with --fixed-rate: steps per mode")
    p.add_argument("--records", choices=["split", "shared"], default="split",
                   help="call records to a Dialgate of their own, as deploy/systemd runs it "
                   "(split, the default) or to the deciding Dialgate (shared)")
    p.add_argument("--capture", type=Path, metavar="DIR",
                   help="tcpdump each evapi mode's connection into DIR (needs tcpdump, root)")
    p.add_argument("--no-metrics", action="store_true",
                   help="Dialgate without per-call metrics (to measure what they cost)")
    args = p.parse_args()
    modes = list(dict.fromkeys("answer" if m == "bare" else m for m in args.modes))
    if args.no_bare and "answer" in modes:
        modes.remove("answer")
    args.sipp_core, args.server_core = (0, 1) if args.pin else (None, None)
    if args.children is None:
        args.children = 2 if args.pin else 4
    args.evapi_port = free_port()  # every evapi Kamailio listens here; Dialgate reconnects

    work = Path(tempfile.mkdtemp(prefix="sip-bench-"))
    (work / "uac.xml").write_text(UAC_XML.format(realm=REALM))
    (work / "uac_sdp.xml").write_text(uac_with_sdp(UAC_XML.format(realm=REALM)))
    (work / "carrier.xml").write_text(CARRIER_XML)
    (work / "carrier_sdp.xml").write_text(CARRIER_SDP_XML)
    db_url = args.db_url or f"sqlite:///{work / 'dialgate.db'}"
    token, numbers = prepare_dialgate(db_url, args.password)
    with (work / "calls.csv").open("w") as f:
        f.write("SEQUENTIAL\n")
        for number in numbers:
            for d in args.dialed:
                f.write(f"{d};{number};[authentication username={number} "
                        f"password={args.password}];\n")
    dialgate, switch_url = start_dialgate(db_url, args.workers, work / "dialgate.log",
                                          metrics=not args.no_metrics, core=args.server_core,
                                          evapi=f"127.0.0.1:{args.evapi_port}",
                                          nice=args.switch_nice)
    answers = fixed_answers(switch_url, token, numbers, args.dialed)
    records: subprocess.Popen[bytes] | None = None
    records_url = None
    if args.records == "split":
        records, records_url = start_records(db_url, work / "records.log", args.server_core)
    carrier_port = free_port()
    carrier = subprocess.Popen(
        pinned(["sipp", "-sf", str(work / "carrier.xml"), "-i", "127.0.0.1", "-p",
                str(carrier_port), "-nostdin", "-nd"], args.sipp_core),
        cwd=work, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    results: dict[str, list[dict[str, Any]]] = {}
    extra: list[subprocess.Popen[bytes]] = []
    if "dialgate-nometrics" in modes:
        # A second Dialgate on the same database, its per-call metrics off, connected to the
        # evapi port only that mode's Kamailio listens on.
        args.evapi_port_nm = free_port()
        bare_dg, bare_url = start_dialgate(
            db_url, args.workers, work / "dialgate-nometrics.log", metrics=False,
            core=args.server_core, evapi=f"127.0.0.1:{args.evapi_port_nm}",
            nice=args.switch_nice)
        extra.append(bare_dg)
    try:
        # Sessions whose CPU each step reports (the uac sipp is added from its own rusage).
        sessions = {"dialgate": dialgate.pid, "standin": carrier.pid}
        if records is not None:
            sessions["records"] = records.pid
        specs: dict[str, dict[str, Any]] = {}
        for mode in modes:
            if mode == "dialgate-nometrics":
                specs[mode] = {
                    "switch_url": bare_url, "token": token, "db_url": db_url,
                    "carrier_port": carrier_port,
                    "sessions": {**sessions, "dialgate": bare_dg.pid},
                    "evapi_port": args.evapi_port_nm, "records_url": records_url,
                    "dialgate_log": work / "dialgate-nometrics.log"}
            elif mode != "rtpengine":
                specs[mode] = {"switch_url": switch_url, "token": token, "db_url": db_url,
                               "answers": answers, "carrier_port": carrier_port,
                               "sessions": sessions, "records_url": records_url}
            else:
                relay, sock = start_rtpengine(work)
                sdp_port = free_port()
                sdp_carrier = subprocess.Popen(
                    pinned(["sipp", "-sf", str(work / "carrier_sdp.xml"), "-i", "127.0.0.1",
                            "-p", str(sdp_port), "-nostdin", "-nd"], args.sipp_core),
                    cwd=work, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                extra += [relay, sdp_carrier]
                specs[mode] = {"switch_url": switch_url, "token": token, "db_url": db_url,
                               "carrier_port": sdp_port, "rtpengine": sock,
                               "records_url": records_url,
                               "sessions": {**sessions, "rtpengine": relay.pid,
                                            "standin": sdp_carrier.pid}}
        if args.fixed_rate:
            rounds = paired_rounds(args, work, specs)
            summary_rounds = summarize_rounds(rounds)
            summary_rounds.update(rate=args.fixed_rate, pinned=args.pin,
                                  loadavg=os.getloadavg()[0], workdir=str(work))
            if not args.json:
                print_rounds(summary_rounds)
            print(json.dumps(summary_rounds))
            return
        # Modes take turns, repetition by repetition, so a slow hour slows both sides of a
        # ratio alike; each repetition gives its own ratios, and the summary their medians.
        for _ in range(args.repeat):
            for mode, spec in specs.items():
                results.setdefault(mode, []).append(bench_mode(args, work, mode=mode, **spec))
    finally:
        for proc in [*extra, carrier, dialgate, *([records] if records else [])]:
            stop(proc)
    runs = [{mode: summarize(mode, result[i]) for mode, result in results.items()}
            for i in range(args.repeat)]
    pairs = {"dialgate/relay": ("dialgate", "relay"), "dialgate/answer": ("dialgate", "answer"),
             "nometrics/dialgate": ("dialgate-nometrics", "dialgate")}

    def ratio(table: dict[str, dict[str, Any]], a: str, b: str) -> float | None:
        x, y = table.get(a, {}).get("cps"), table.get(b, {}).get("cps")
        return round(x / y, 3) if x and y else None

    per_run = {name: [ratio(table, a, b) for table in runs] for name, (a, b) in pairs.items()}
    table = median_table(runs)
    summary: dict[str, Any] = {
        "backend": f"dialgate ({args.workers} uvicorn workers, {db_url.split(':')[0]}, "
                   f"call records {args.records})",
        "pinned": args.pin, "metrics": not args.no_metrics, "switch_nice": args.switch_nice,
        "children": args.children, "repeat": args.repeat, "refine": args.refine,
        "loadavg": os.getloadavg()[0],
        "modes": table,
        **{name: None if (m := median_or_none(values)) is None else round(m, 3)
           for name, values in per_run.items()},
        "runs": [{"modes": run, **{name: values[i] for name, values in per_run.items()}}
                 for i, run in enumerate(runs)] if args.repeat > 1 else None,
        "workdir": str(work),
    }
    if not args.json:
        if args.repeat > 1:
            for i, run in enumerate(runs, 1):
                print(f"repetition {i}:")
                print_table(run)
                print(f"dialgate/relay {per_run['dialgate/relay'][i - 1]}  "
                      f"dialgate/answer {per_run['dialgate/answer'][i - 1]}")
            print(f"medians of {args.repeat} repetitions (each figure on its own):")
        print_table(table)
        print(f"dialgate/relay {summary['dialgate/relay']}  "
              f"dialgate/answer {summary['dialgate/answer']}  "
              f"(load average {summary['loadavg']:.2f}, pinned={args.pin}, "
              f"switch nice {args.switch_nice})")
        if args.repeat > 1:
            print("dialgate/relay by repetition: "
                  + ", ".join(str(v) for v in per_run["dialgate/relay"]))
        if "dialgate-nometrics" in table and "dialgate" in table:
            cpu = [table[m]["cpu_ms_per_call"] or {} for m in ("dialgate", "dialgate-nometrics")]
            print(f"nometrics/dialgate {summary['nometrics/dialgate']} calls/s; Dialgate CPU "
                  f"ms/call with metrics {cpu[0].get('dialgate')}, without "
                  f"{cpu[1].get('dialgate')}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
