"""SIP load through Kamailio with sipp: the real Dialgate deciding vs bare Kamailio.

One run, same Kamailio template, three modes: ``dialgate`` (every INVITE asks a real Dialgate,
uvicorn + httptools/uvloop, on a fresh database with the demo and a few accounts whose settings
make a realistic mix of allowed and denied calls), ``rtpengine`` (the same, with an SDP offer
in every INVITE and a real rtpengine anchoring each allowed call: offer on the INVITE, answer on
the carrier's 183 with SDP, delete when the carrier's 486 fails the call; no media packets) and
``bare`` (the same config answering without HTTP). sipp places authenticated INVITEs at
increasing rates: INVITE -> 407 -> ACK ->
INVITE with digest -> final (the decision's code for denied calls; allowed calls are relayed to
a carrier that answers 486 at once, so each is one round of policy, dialog, relay and CDR work
without media). The most calls/s reached by a step with < 1 % failed calls is the capacity
(also reported: the most with p99 under 20 ms); p50/p99 are INVITE(with credentials) -> final
response, from sipp's RTD trace (whole milliseconds). Each step also reports the cores and the
CPU milliseconds per call used by Kamailio, Dialgate, rtpengine (its mode only) and sipp (both
instances), so it shows where the ceiling of the machine comes from.

    python benchmarks/sip_load.py                # fresh SQLite database, 2 Dialgate workers
    python benchmarks/sip_load.py --rates 500 1000 --workers 1 --async-workers 8
    python benchmarks/sip_load.py --db-url postgresql+psycopg://postgres@127.0.0.1:25432/x
    python benchmarks/sip_load.py --modes rtpengine dialgate --rates 300 500 750

Prints one line per step and a JSON summary (``--json`` for only the JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dialgate.entrypoints.switch.kamailio import write_kamailio_files

try:
    from benchmarks._sip import REALM, free_port, stop, wait_sip
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from _sip import REALM, free_port, stop, wait_sip  # type: ignore[no-redef]
P99_TARGET_MS = 20
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


def start_dialgate(db_url: str, workers: int, log: Path,
                   metrics: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    # Metrics as in production (several workers: one shared multiprocess directory), or off
    # (--no-metrics) to measure what they cost.
    extra = ({"PROMETHEUS_MULTIPROC_DIR": str(log.parent / "metrics")} if metrics
             else {"DIALGATE_METRICS_ENABLED": "false"})
    env = {**os.environ, **extra, "DIALGATE_DATABASE_URL": db_url,
           "DIALGATE_ENVIRONMENT": os.environ.get("DIALGATE_ENVIRONMENT", "test"),
           "DIALGATE_SECRET_KEY": os.environ.get("DIALGATE_SECRET_KEY",
                                                 "bench-secret-key-0123456789")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "dialgate.entrypoints.web:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
             "--http", "httptools", "--loop", "uvloop", "--no-access-log",
             "--log-level", "warning", "--backlog", "1024"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("dialgate exited:\n" + log.read_text()[-3000:])
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            # healthz answers only after every worker's start-up (policy cache warmed)
            import urllib.request
            with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz") as r:
                if r.status == 200:
                    time.sleep(1.0 if workers > 1 else 0.0)  # the other workers warm up too
                    return proc, url
        time.sleep(0.1)
    sys.exit("dialgate not ready:\n" + log.read_text()[-3000:])


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


def run_step(work: Path, port: int, rate: int, calls: int,
             sessions: dict[str, int], scenario: str = "uac.xml") -> dict[str, Any]:
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
    uac = subprocess.Popen(cmd, cwd=step, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, _status, usage = os.wait4(uac.pid, 0)
    uac.returncode = 0  # reaped by wait4
    wall = time.monotonic() - t0
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


def bench_mode(args: argparse.Namespace, work: Path, *, mode: str, switch_url: str,
               token: str, db_url: str, carrier_port: int,
               sessions: dict[str, int], rtpengine: str | None = None) -> dict[str, Any]:
    port = free_port()
    bare = mode == "bare"
    mode_dir = work / mode
    cfg = write_kamailio_files(
        mode_dir, pop=args.pop, listen="127.0.0.1", port=port, db_url=db_url,
        switch_url=switch_url, switch_token=token, realm=REALM,
        carriers={k: f"sip:127.0.0.1:{carrier_port}"
                  for k in ("value", "premium", "tollfree_us", "tollfree_ca", "emergency")},
        carrier_sources=[f"127.0.0.1:{carrier_port}"],
        ctl_socket=str(mode_dir / "ctl"), rundir=str(mode_dir),
        async_workers=args.async_workers, children=args.children, http_timeout_s=1,
        pike_density=None, bare=bare, debug=1,
        rtpengines=[rtpengine] if rtpengine else [])
    log = mode_dir / "kamailio.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["kamailio", "-DD", "-E", "-m", "512", "-x", "tlsf", "-f", str(cfg),
                                 "-Y", str(mode_dir)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_sip(port, proc, log)
        # Warm-up, not reported: first calls check the switch token, build the accounts'
        # policy snapshots and open Kamailio's HTTP and database connections.
        scenario = "uac_sdp.xml" if rtpengine else "uac.xml"
        run_step(work, port, 100, 300, {}, scenario)
        time.sleep(1)
        steps: list[dict[str, Any]] = []
        best = fast = None
        for rate in args.rates:
            step = run_step(work, port, rate, max(args.min_calls, rate * args.seconds),
                            {"kamailio": proc.pid, **sessions}, scenario)
            steps.append(step)
            if not args.json:
                print(f"{mode:9} {json.dumps(step)}", flush=True)
            if step["fail_pct"] >= 1.0:
                break
            # The best step by calls/s: a few calls that time out stretch a step's wall time,
            # so a higher rate with a handful of failures can show fewer calls/s.
            if best is None or step["cps"] > best["cps"]:
                best = step
            fast_enough = step["p99_ms"] is not None and step["p99_ms"] < P99_TARGET_MS
            if fast_enough and (fast is None or step["cps"] > fast["cps"]):
                fast = step
            time.sleep(1)  # let tm's wait timers drain before the next step
        return {"steps": steps, "best": best, "fast": fast}
    finally:
        stop(proc)


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
    p.add_argument("--children", type=int, default=4)
    p.add_argument("--async-workers", type=int, default=8)
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    p.add_argument("--pop", default="montreal1")
    p.add_argument("--modes", nargs="*", default=["dialgate", "rtpengine", "bare"],
                   choices=["dialgate", "rtpengine", "bare"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-bare", action="store_true",
                   help="skip the bare-Kamailio mode (comparing Dialgate with itself)")
    p.add_argument("--no-metrics", action="store_true",
                   help="Dialgate without per-call metrics (to measure what they cost)")
    args = p.parse_args()

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
                                          metrics=not args.no_metrics)
    carrier_port = free_port()
    carrier = subprocess.Popen(
        ["sipp", "-sf", str(work / "carrier.xml"), "-i", "127.0.0.1", "-p", str(carrier_port),
         "-nostdin", "-nd"], cwd=work, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    results: dict[str, dict[str, Any]] = {}
    extra: list[subprocess.Popen[bytes]] = []
    try:
        # Sessions whose CPU each step reports (the uac sipp is added from its own rusage).
        sessions = {"dialgate": dialgate.pid, "sipp": carrier.pid}
        for mode in args.modes:
            if mode == "bare" and args.no_bare:
                continue
            if mode != "rtpengine":
                results[mode] = bench_mode(args, work, mode=mode, switch_url=switch_url,
                                           token=token, db_url=db_url,
                                           carrier_port=carrier_port, sessions=sessions)
                continue
            relay, sock = start_rtpengine(work)
            sdp_port = free_port()
            sdp_carrier = subprocess.Popen(
                ["sipp", "-sf", str(work / "carrier_sdp.xml"), "-i", "127.0.0.1", "-p",
                 str(sdp_port), "-nostdin", "-nd"], cwd=work, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            extra += [relay, sdp_carrier]
            results[mode] = bench_mode(
                args, work, mode=mode, switch_url=switch_url, token=token, db_url=db_url,
                carrier_port=sdp_port, rtpengine=sock,
                sessions={"dialgate": dialgate.pid, "rtpengine": relay.pid,
                          "sipp": sdp_carrier.pid})
    finally:
        for proc in [*extra, carrier, dialgate]:
            stop(proc)
    empty: dict[str, Any] = {"best": None, "fast": None}
    with_http, bare = results.get("dialgate", empty), results.get("bare", empty)
    media = results.get("rtpengine", empty)
    best_d, best_b = with_http["best"] or {}, bare["best"] or {}
    best_r = media["best"] or {}
    summary = {
        "backend": f"dialgate ({args.workers} uvicorn workers, {db_url.split(':')[0]})",
        "metrics": not args.no_metrics,
        "dialgate_cps": best_d.get("cps"), "dialgate_p50_ms": best_d.get("p50_ms"),
        "dialgate_p99_ms": best_d.get("p99_ms"),
        "bare_cps": best_b.get("cps"), "bare_p50_ms": best_b.get("p50_ms"),
        "bare_p99_ms": best_b.get("p99_ms"),
        "ratio": round(best_d["cps"] / best_b["cps"], 3) if best_d and best_b else None,
        "rtpengine_cps": best_r.get("cps"), "rtpengine_p50_ms": best_r.get("p50_ms"),
        "rtpengine_p99_ms": best_r.get("p99_ms"),
        "rtpengine_cpu_ms_per_call": best_r.get("cpu_ms_per_call"),
        "dialgate_cpu_ms_per_call": best_d.get("cpu_ms_per_call"),
        # The highest rate that also kept p99 under the target (the latency bar).
        f"dialgate_cps_p99_under_{P99_TARGET_MS}ms": (with_http["fast"] or {}).get("cps"),
        "workdir": str(work),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
