"""Floods on what strangers can reach, while calls are authorized and a customer saves settings.

``python benchmarks/abuse_flood.py [--seconds 20] [--mode split|all] [--login-threads 24]
[--api-threads 24]``

On a fresh SQLite database (demo account, a switch token, a customer API key, the VoIP.ms API
on for 127.0.0.1), it starts Dialgate as deployed (``split``: ``dialgate serve --role switch``
and ``dialgate serve --role web`` as two processes; ``all``: one process for everything), then:

- baseline: ``POST /switch/v1/authorize`` and the customer's PATCH (below) for a few seconds,
  nothing else;
- flood: ``--login-threads`` threads post wrong portal logins and ``--api-threads`` threads call
  the VoIP.ms API with wrong passwords, as fast as they can, while one process measures
  ``/switch/v1/authorize`` and another ``PATCH /v1/account/settings`` (every 0.25 s, by another
  customer than the caller unless ``--patch-same-account``).

The measuring clients run in processes (and sessions, so scheduling groups) of their own so
that the flood threads' GIL and CPU turns do not show up in their figures. Everything targets
127.0.0.1 and stops by itself. It prints latencies (p50, p99, max, in ms), every status seen,
and for each process the CPU it used and how long its threads waited for a core during the
phase (the starvation the figures are about). The targets are authorize p99 < 20 ms,
PATCH < 1 s and no 500.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from dialgate.adapters.db import migrate
from dialgate.services import accounts, apikeys, demo, pops
from dialgate.services.uow import Database

API_PASSWORD = "ApiPass123"
AUTHORIZE = {
    "account": demo.DEMO_ACCOUNT,
    "dialed": "5145551234",
    "source_ip": "203.0.113.10",
    "pop": "montreal1",
    "trace": False,
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


OTHER_ACCOUNT = "200000"


# --- where the CPU went -------------------------------------------------------------------
# Linux keeps, per thread, the time it ran and the time it waited runnable for a core
# (/proc/<pid>/task/<tid>/schedstat: ns on a CPU, ns waiting on a run queue). The waiting time
# is the starvation this benchmark is about: a switch request that waits for a core is late
# even if the switch itself does nothing wrong.


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes with ``--workers``)."""
    found = [pid]
    for tid in _tasks(pid):
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            for child in children:
                found += process_tree(int(child))
    return found


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def sched_times(pids: list[int]) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting for one), summed over every thread of ``pids``."""
    running = waiting = 0
    for pid in pids:
        for tid in _tasks(pid):
            with contextlib.suppress(OSError, ValueError):
                stat = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
                on_cpu, queued, _slices = stat.split()
                running += int(on_cpu)
                waiting += int(queued)
    return running / 1e9, waiting / 1e9


def lower_priority(nice: int, cpus: set[int] | None) -> None:
    """Model an attacker on another host: this process at ``nice`` in a scheduling group of
    its own (with autogroup on, nice only counts inside one's session), and/or on ``cpus``."""
    if nice:
        with contextlib.suppress(OSError):
            os.setsid()
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(nice))
        os.nice(nice)
    if cpus:
        os.sched_setaffinity(0, cpus)


def prepare(url: str, *, patch_same_account: bool) -> tuple[str, str]:
    """Migrate and seed; returns (switch token, the PATCHing customer's API key). The customer
    is another account than the one whose calls are authorized, unless ``patch_same_account``
    (then every PATCH also makes the switch rebuild the caller's policy snapshot)."""
    migrate.upgrade(url)
    db = Database(url)
    with db.uow() as uow:
        pops.sync_pops(uow)
        demo.load_demo(uow)
        _info, switch = apikeys.create_switch_token(uow, name="bench")
        accounts.create_account(
            uow, number=OTHER_ACCOUNT, email="other@example.com", password="Other123x"
        )
        customer = demo.DEMO_ACCOUNT if patch_same_account else OTHER_ACCOUNT
        _info, key = apikeys.create_api_key(uow, customer, name="bench")
        apikeys.enable_voipms_api(
            uow, demo.DEMO_ACCOUNT, password=API_PASSWORD, allowed_ips=["127.0.0.1"]
        )
        uow.commit()
    db.dispose()
    return switch, key


def serve(
    url: str, role: str, port: int, log: Path, nice: int | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DIALGATE_DATABASE_URL": url,
        "DIALGATE_ENVIRONMENT": "test",
        "DIALGATE_SECRET_KEY": "bench-secret-key-0123456789abcdef",
    }
    with log.open("ab") as out:
        command = [sys.executable, "-m", "dialgate", "serve", "--role", role, "--port", str(port)]
        if nice is not None:
            command += ["--nice", str(nice)]
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dialgate ({role}) exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"dialgate ({role}) not ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- measuring clients (each in its own process) ------------------------------------------


def own_session() -> None:
    """The measuring clients stand for Kamailio and a customer: other programs than the
    attacker, so not in its session (with autogroup, a session is a scheduling group, and 48
    flood threads would otherwise take the measuring client's turns and show up as the
    server's latency)."""
    with contextlib.suppress(OSError):
        os.setsid()


def measure_authorize(base: str, token: str, seconds: float, out: Any) -> None:
    own_session()
    times: list[float] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.perf_counter()
            try:
                status = client.post("/switch/v1/authorize", json=AUTHORIZE).status_code
            except httpx.HTTPError:
                status = 0
            times.append(time.perf_counter() - start)
            statuses[status] += 1
            time.sleep(0.005)  # about 150 calls a second: a POP's steady call setup rate
    out.put(("authorize", times, dict(statuses), sched_times([os.getpid()])))


def measure_patch(base: str, key: str, seconds: float, out: Any) -> None:
    own_session()
    times: list[float] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            n += 1
            body = {"nat": "yes" if n % 2 else "no"}
            start = time.perf_counter()
            try:
                status = client.patch("/v1/account/settings", json=body).status_code
            except httpx.HTTPError:
                status = 0
            times.append(time.perf_counter() - start)
            statuses[status] += 1
            time.sleep(0.25)
    out.put(("patch", times, dict(statuses), sched_times([os.getpid()])))


def flood(
    base: str, logins: int, api: int, nice: int, cpus: set[int] | None, seconds: float, out: Any
) -> None:
    """The attackers: threads in one process, each as fast as the server answers."""
    lower_priority(nice, cpus)
    statuses: Counter[tuple[str, int | str]] = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def portal() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            token = CSRF.search(client.get("/portal/login").text)
            assert token is not None
            data = {"login": demo.DEMO_ACCOUNT, "password": "Wrong999x", "csrf_token": token[1]}
            while time.monotonic() < end:
                try:
                    status: int | str = client.post("/portal/login", data=data).status_code
                except httpx.HTTPError as exc:
                    status = f"error {type(exc).__name__}"
                with lock:
                    statuses[("portal login", status)] += 1

    def voipms() -> None:
        params = {
            "api_username": demo.DEMO_EMAIL,
            "api_password": "Wrong999x",
            "method": "getBalance",
        }
        with httpx.Client(base_url=base, timeout=30) as client:
            while time.monotonic() < end:
                try:
                    r = client.get("/api/v1/rest.php", params=params)
                    status: int | str = f"{r.status_code} {r.json().get('status')}"
                except (httpx.HTTPError, ValueError) as exc:
                    status = f"error {type(exc).__name__}"
                with lock:
                    statuses[("voip.ms api", status)] += 1

    threads = [threading.Thread(target=portal) for _ in range(logins)]
    threads += [threading.Thread(target=voipms) for _ in range(api)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, end - time.monotonic()))
    used = sched_times([os.getpid()])  # before the threads end and take their counts along
    for t in threads:
        t.join()
    out.put(("flood", [], {f"{k[0]}: {k[1]}": v for k, v in statuses.items()}, used))


# --- report -------------------------------------------------------------------------------


def summary(times: list[float]) -> str:
    if not times:
        return "no samples"
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(ordered):6d}  p50={statistics.median(ordered) * 1000:7.1f}  "
        f"p99={p99 * 1000:7.1f}  max={ordered[-1] * 1000:7.1f}  (ms)"
    )


def run_phase(
    name: str,
    targets: list[tuple[Any, tuple[Any, ...]]],
    seconds: float,
    servers: dict[str, subprocess.Popen[bytes]],
) -> dict[str, tuple[list[float], dict[Any, int]]]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=fn, args=(*args, seconds, queue)) for fn, args in targets]
    trees = {role: process_tree(proc.pid) for role, proc in servers.items()}
    before = {role: sched_times(pids) for role, pids in trees.items()}
    for p in procs:
        p.start()
    results = {}
    used: dict[str, tuple[float, float]] = {}
    for _ in procs:
        kind, times, statuses, cpu = queue.get(timeout=seconds + 120)
        results[kind] = (times, statuses)
        used[f"client {kind}"] = cpu
    for role, pids in trees.items():
        after = sched_times(pids)
        used[f"server {role}"] = (after[0] - before[role][0], after[1] - before[role][1])
    for p in procs:
        p.join(30)
    print(f"\n== {name} ({seconds:.0f} s) ==")
    for kind, (times, statuses) in results.items():
        if times:
            print(f"{kind:10s} {summary(times)}  statuses {statuses}")
        else:
            for label, count in sorted(statuses.items()):
                print(f"{kind:10s} {label}: {count}")
    calls = len(results.get("authorize", ([], {}))[0]) or 1
    print(f"{'cpu':10s} {'process':18s} {'on a core':>10s} {'waited':>10s} {'waited/call':>12s}")
    for who, (on_cpu, waited) in used.items():
        per_call = f"{waited / calls * 1000:9.2f} ms" if "switch" in who or "all" in who else ""
        print(f"{'cpu':10s} {who:18s} {on_cpu:9.1f}s {waited:9.1f}s {per_call:>12s}")
    print(f"{'cpu':10s} (2 cores x {seconds:.0f} s = {2 * seconds:.0f} core-seconds; the rest "
          "went to other work on the machine)")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--mode", choices=("split", "all"), default="split")
    parser.add_argument("--login-threads", type=int, default=24)
    parser.add_argument("--api-threads", type=int, default=24)
    parser.add_argument(
        "--patch-same-account",
        action="store_true",
        help="PATCH the account whose calls are authorized (each change recompiles its policy)",
    )
    parser.add_argument(
        "--web-nice",
        type=int,
        default=None,
        help="niceness of the web process in split mode (`dialgate serve --nice`; default: "
        "DIALGATE_WEB_NICE, 0)",
    )
    parser.add_argument(
        "--switch-nice",
        type=int,
        default=-5 if os.geteuid() == 0 else None,
        help="niceness of the switch process (`dialgate serve --nice`); default -5 when run as "
        "root, as deploy/systemd/dialgate-switch.service (Nice=-5, CPUWeight=1000); "
        "0 to compare",
    )
    parser.add_argument(
        "--flood-nice",
        type=int,
        default=0,
        help="run the flood client at this niceness, in its own scheduling group: a model of "
        "an attacker on another host (not the judged figure)",
    )
    parser.add_argument(
        "--flood-cpus",
        default="",
        help="pin the flood client to these CPUs (e.g. 1): another model of a remote attacker",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dialgate-abuse-"))
    url = f"sqlite:///{workdir / 'dialgate.db'}"
    switch_token, api_key = prepare(url, patch_same_account=args.patch_same_account)
    flood_cpus = {int(c) for c in args.flood_cpus.split(",") if c.strip()} or None
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        if args.mode == "split":
            switch_port, web_port = free_port(), free_port()
            servers["switch"] = serve(
                url, "switch", switch_port, workdir / "switch.log", args.switch_nice
            )
            servers["web"] = serve(url, "web", web_port, workdir / "web.log", args.web_nice)
        else:
            switch_port = web_port = free_port()
            servers["all"] = serve(url, "all", web_port, workdir / "all.log")
        switch_base = f"http://127.0.0.1:{switch_port}"
        web_base = f"http://127.0.0.1:{web_port}"
        web_nice = "default" if args.web_nice is None else args.web_nice
        attacker = (
            f"flood client nice {args.flood_nice} cpus {args.flood_cpus or 'all'} "
            "(a model of a remote attacker)"
            if args.flood_nice or flood_cpus
            else "flood client as is (same machine, same priority)"
        )
        nices = f" (web nice {web_nice}, switch nice {args.switch_nice or 0})"
        print(
            f"mode {args.mode}: switch {switch_base}, web {web_base}"
            f"{nices if args.mode == 'split' else ''}; {attacker}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
            "(on a shared machine the figures are noisy)"
        )
        run_phase(
            "baseline",
            [
                (measure_authorize, (switch_base, switch_token)),
                (measure_patch, (web_base, api_key)),
            ],
            args.baseline_seconds,
            servers,
        )
        results = run_phase(
            f"flood: {args.login_threads} wrong-login + {args.api_threads} VoIP.ms API threads",
            [
                (
                    flood,
                    (web_base, args.login_threads, args.api_threads, args.flood_nice, flood_cpus),
                ),
                (measure_authorize, (switch_base, switch_token)),
                (measure_patch, (web_base, api_key)),
            ],
            args.seconds,
            servers,
        )
        authorize_times = sorted(results["authorize"][0])
        patch_times = results["patch"][0]
        p99 = authorize_times[min(len(authorize_times) - 1, int(len(authorize_times) * 0.99))]
        errors = sum(
            count
            for _kind, (_t, statuses) in results.items()
            for label, count in statuses.items()
            if str(label).startswith("500") or label == 500 or ": 500" in str(label)
        )
        print(
            f"\nverdict: authorize p99 {p99 * 1000:.1f} ms (target < 20), "
            f"PATCH max {max(patch_times) * 1000:.0f} ms (target < 1000), 500s: {errors}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        for proc in servers.values():
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
