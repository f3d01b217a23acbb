"""What Kamailio's call-record batches cost a running Dialgate, per batch and per record.

Kamailio posts what ended in the last 100 ms to ``POST /switch/v1/cdrs`` (``route[CDR_FLUSH]``),
so a busy POP sends about ten batches a second whatever its call rate: a fixed cost per batch
weighs on every call. This starts a real Dialgate (uvicorn, 2 workers, a fresh SQLite database
with the SIP benchmark's accounts), posts batches of ``size`` busy-call records at ``rate``
batches/s for ``--seconds`` each, and prints the Dialgate processes' CPU (user + system, from
/proc) per second, per batch and per record. Idle CPU (no posts) is measured first.

    python benchmarks/cdr_batches.py                      # 20x10/s, 50x4/s, 200x1/s, twice
    python benchmarks/cdr_batches.py --shapes 1x40 20x10 --seconds 5
    python benchmarks/cdr_batches.py --answered     # answered calls: each record is charged

``--answered`` posts answered one-minute calls instead, so every record also writes a ledger
row and moves its account's balance (three accounts share each batch).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import tempfile
import time
import urllib.request
from pathlib import Path

try:
    from benchmarks._sip import free_port, stop
    from benchmarks.sip_load import prepare_dialgate, session_cpu, start_dialgate
except ModuleNotFoundError:  # run as a script: benchmarks/ itself is on sys.path
    from _sip import free_port, stop  # type: ignore[no-redef]
    from sip_load import (  # type: ignore[no-redef]
        prepare_dialgate,
        session_cpu,
        start_dialgate,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", nargs="*", default=["20x10", "50x4", "200x1"],
                   help="SIZExRATE: records per batch x batches per second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--answered", action="store_true",
                   help="answered calls (each one charged) instead of busy ones")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cdr-bench-"))
    db_url = f"sqlite:///{work / 'dialgate.db'}"
    token, numbers = prepare_dialgate(db_url, "Bench-Pass-1")
    auth = base64.b64encode(f"kamailio:{token}".encode()).decode()
    # No Kamailio here: the evapi client retries an unused port (part of the idle figure).
    proc, url = start_dialgate(db_url, args.workers, work / "dialgate.log",
                               evapi=f"127.0.0.1:{free_port()}")
    seq = itertools.count()

    def post(size: int) -> None:
        # What failure_route[OUTBOUND_FAILED] queues for a busy call, or the dialog's end for
        # an answered one (61 s: two minutes at 0.01, charged 0.02).
        outcome = ({"answered_at": "2026-12-03T09:00:01Z", "ended_at": "2026-12-03T09:01:02Z",
                    "disposition": "answered"} if args.answered else
                   {"answered_at": None, "ended_at": "2026-12-03T09:00:01Z",
                    "disposition": "busy"})
        records = [{"call_id": f"{next(seq)}-bench@127.0.0.1", "account": numbers[i % 3],
                    "dialed": "5145551234", "started_at": "2026-12-03T09:00:00Z", **outcome,
                    "route": "value", "rate_per_minute": "0.0100",
                    "increment_s": 60, "flat_fee": "0"} for i in range(size)]
        request = urllib.request.Request(
            url + "/switch/v1/cdrs", data=json.dumps(records).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        if answer["recorded"] != size:
            raise SystemExit(f"batch not recorded: {answer}")

    def measure(size: int, rate: float) -> tuple[float, float, int]:
        """CPU seconds used, wall seconds and batches posted."""
        before, start, posts = session_cpu(proc.pid), time.monotonic(), 0
        while time.monotonic() - start < args.seconds:
            if rate:
                post(size)
                posts += 1
            time.sleep(1 / rate if rate else 0.5)
        return session_cpu(proc.pid) - before, time.monotonic() - start, posts

    try:
        for _ in range(args.workers * 2):
            post(5)  # every worker checks the token and opens its connections
        idle, wall, _posts = measure(0, 0)
        print(f"idle: {1000 * idle / wall:.1f} ms CPU per second", flush=True)
        for _ in range(args.repeat):
            for shape in args.shapes:
                size, rate = (int(x) for x in shape.split("x"))
                used, wall, posts = measure(size, rate)
                per_batch = 1000 * used / max(posts, 1)
                print(f"{size:4} records x {rate:3}/s: {1000 * used / wall:6.1f} ms CPU/s, "
                      f"{per_batch:6.2f} ms per batch, {per_batch / size:.3f} ms per record",
                      flush=True)
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
