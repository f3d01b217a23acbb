"""What one authorize request costs Dialgate's side of the evapi transport, in process.

``sip_load.py`` measures the whole switch path (Kamailio, sipp, Dialgate) and its figures move
with whatever else the machine runs. This one isolates Dialgate's per-request CPU on the evapi
path: a fresh SQLite database with the SIP benchmark's accounts, the real ``PolicyCache``,
``SwitchTokenCache`` and ``Authorizer``, and an ``EvapiProtocol`` on a real loopback TCP
connection fed with the netstrings Kamailio's ``route[AUTHORIZE]`` writes (the same account x
dialed mix), in reads of ``--batch`` requests. It reports CPU microseconds per request (process
time, so other processes' load moves it little), and with ``--profile`` the top of a cProfile.

    python benchmarks/evapi_path.py                    # 20,000 requests, reads of 8
    python benchmarks/evapi_path.py --batch 1 --profile
    python benchmarks/evapi_path.py --no-metrics       # per-call tallies off (#17's cost)
    python benchmarks/evapi_path.py --log-flush-ms 0   # a write per log line, as before round 6
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.sip_load import DIALED, prepare_dialgate
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from sip_load import DIALED, prepare_dialgate  # type: ignore[no-redef]


def requests(token: str, numbers: list[str]) -> list[bytes]:
    """The evapi messages Kamailio sends for the benchmark's call mix (one per account x
    dialed number), with a transaction index and label as Kamailio numbers them."""
    out = []
    for i, (number, dialed) in enumerate((n, d) for n in numbers for d in DIALED):
        body = json.dumps({"account": number, "dialed": dialed, "source_ip": "127.0.0.1",
                           "pop": "montreal1", "caller_id": number, "transport": "udp",
                           "call_id": f"{i}-bench@127.0.0.1", "trace": False,
                           "srtp": False}, separators=(",", ":")).encode()
        out.append(b"%d:%d:%s:%s" % (i, 1000 + i, token.encode(), body))
    return out


async def run(args: argparse.Namespace, db_url: str, token: str, numbers: list[str]) -> None:
    from dialgate.adapters import metrics
    from dialgate.entrypoints.switch.evapi import (
        Authorizer,
        EvapiProtocol,
        netstring,
        split_netstrings,
    )
    from dialgate.services.apikeys import SwitchTokenCache
    from dialgate.services.authorize import PolicyCache
    from dialgate.services.uow import Database

    if args.no_metrics:
        metrics.disable()
    # Logging as `dialgate serve` sets it up (JSON lines at info: a refused call logs one;
    # info lines held up to DIALGATE_LOG_FLUSH_MS), to a file as a journal would take it.
    from dialgate import logs

    log_file = (Path(db_url.removeprefix("sqlite:///")).parent / "dialgate.log").open("w")
    stderr, sys.stderr = sys.stderr, log_file
    try:
        logs.configure("info", flush_ms=args.log_flush_ms)
    finally:
        sys.stderr = stderr
    db = Database(db_url)
    cache = PolicyCache(db)
    cache.warm()
    tokens = SwitchTokenCache(db, ttl=3600)
    tokens.check(token)
    authorizer = Authorizer(cache, tokens)
    messages = requests(token, numbers)
    for message in messages:  # build every snapshot before measuring
        authorizer.decide(message.split(b":", 3)[3])

    # Kamailio's side: a plain socket this process writes batches to and reads answers from.
    server = socket.create_server(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    accepted = loop.run_in_executor(None, server.accept)
    transport, _protocol = await loop.create_connection(
        lambda: EvapiProtocol(authorizer), *server.getsockname())
    kamailio, _addr = await accepted
    kamailio.setblocking(False)

    frames = [netstring(m) for m in messages]
    batches = [b"".join(frames[i:i + args.batch]) for i in range(0, len(frames), args.batch)]
    answers_per_round = len(frames)

    async def one_round() -> None:
        expected = answers_per_round
        for chunk in batches:
            await loop.sock_sendall(kamailio, chunk)
        seen = 0
        pending = bytearray()
        while seen < expected:
            data = await loop.sock_recv(kamailio, 1 << 20)
            if not data:
                raise SystemExit("evapi connection closed")
            pending += data
            seen += len(split_netstrings(pending))
    rounds = max(1, args.requests // answers_per_round)
    profile = cProfile.Profile() if args.profile else None
    figures = []
    for _repeat in range(args.repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profile:
            profile.enable()
        for _ in range(rounds):
            await one_round()
        if profile:
            profile.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        figures.append(1e6 * cpu / (rounds * answers_per_round))
        print(f"  {rounds * answers_per_round} requests, reads of {args.batch}: "
              f"{figures[-1]:.1f} us CPU each ({wall:.2f} s wall)", flush=True)
    transport.close()
    kamailio.close()
    server.close()
    db.dispose()
    logging.shutdown()  # writes what the log handler holds, before its file is closed
    log_file.close()
    print(f"median {statistics.median(figures):.1f} us CPU per request "
          f"(this process: Dialgate's handler plus the stand-in Kamailio's socket calls; "
          f"load average {os.getloadavg()[0]:.2f}, metrics {'off' if args.no_metrics else 'on'})")
    if profile:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.profile_top)
        print(out.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=8, help="requests per read")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-metrics", action="store_true")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument("--log-flush-ms", type=int, default=100,
                   help="DIALGATE_LOG_FLUSH_MS (default: serve's; 0 writes each line at once)")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="evapi-bench-"))
    os.environ.setdefault("DIALGATE_SECRET_KEY", "bench-secret-key-0123456789")
    db_url = f"sqlite:///{work / 'dialgate.db'}"
    token, numbers = prepare_dialgate(db_url, "Bench-Pass-1")
    try:
        import uvloop
        uvloop.run(run(args, db_url, token, numbers))
    except ImportError:
        asyncio.run(run(args, db_url, token, numbers))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
