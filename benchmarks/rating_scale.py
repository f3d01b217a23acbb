"""Rating at provider scale: a generated 1,000,000-row deck, imported, loaded and replaced live.

    python benchmarks/rating_scale.py [--rows 1000000] [--db sqlite|postgres] [--database-url URL]
                                      [--no-stall]

Prints, for a deck of ``--rows`` random international prefixes (3 to 10 digits) plus the demo
rows, in a fresh database: SQLite in a temporary folder (``--db sqlite``, the default), a
database in a throwaway PostgreSQL 15 cluster started for the run and removed after it
(``--db postgres``, as the tests start one: ``tests/support/pg.py``), or the empty database
``--database-url`` names:

- ``rates import``: rows/s end to end (the real command, interpreter start-up included);
- the deck load in a fresh worker process: seconds and the memory it adds (RSS), for the first
  worker on the host (it reads the database and writes the deck files) and the next (it maps
  them);
- ``rates show`` and a single ``authorize``: wall seconds, median of 5;
- decisions/s in process with the demo decks and with decks of ``--rows`` rows, and their
  ratio from paired rounds in turn (the median; see ``benchmarks/authorize.py``);
- the stall: a server answers ``/switch/v1/authorize`` for a poller every 20 ms while the deck is
  replaced by another ``--rows`` deck; the slowest answer, errors, and how long after the
  import's commit the answers carry the new rate.

The deck files are generated in a temporary folder and removed; nothing is committed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

PROBE = {"account": "100000", "dialed": "5145551234", "source_ip": "127.0.0.1"}
PROBE_PREFIX = "1514"  # the probe's prefix; the replacement deck gives it MARKER
MARKER = Decimal("0.123456")


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DIALGATE_DATABASE_URL": url, "DIALGATE_ENVIRONMENT": "development"}


def _dialgate(url: str, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "dialgate", *args], env=_env(url),
                         capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"dialgate {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return took, out.stdout


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child_load(url: str) -> None:
    """In a fresh process: what loading the live decks costs a worker."""
    from dialgate.services import rates
    from dialgate.services.uow import Database

    db = Database(url)
    with db.uow(write=False) as uow:  # connect and warm SQLAlchemy first: not the deck's cost
        rates.live_version_ids(uow)
    before = _rss_kib()
    start = time.perf_counter()
    with db.uow(write=False) as uow:
        decks = rates.load_decks(uow)
    seconds = time.perf_counter() - start
    rss_added = (_rss_kib() - before) / 1024
    rows = sum(len(d) for d in decks.values())
    start = time.perf_counter()
    found = decks["value"].lookup("4420123")  # the first walk down a mapped trie pages it in
    lookup_us = (time.perf_counter() - start) * 1e6
    print(json.dumps({"seconds": seconds, "rss_added_mib": rss_added, "rows": rows,
                      "lookup": str(found), "lookup_us": lookup_us}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _median_wall(url: str, args: tuple[str, ...], runs: int = 5) -> float:
    return statistics.median(_dialgate(url, *args)[0] for _ in range(runs))


class Poller(threading.Thread):
    """Asks /switch/v1/authorize every 20 ms and keeps (time, latency, rate or error)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.samples: list[tuple[float, float, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    answer = client.post("/switch/v1/authorize", json=PROBE)
                    outcome = (str(answer.json().get("rate_per_minute"))
                               if answer.status_code == 200 else f"HTTP {answer.status_code}")
                except httpx.HTTPError as exc:
                    outcome = f"error {exc!r}"
                end = time.perf_counter()
                self.samples.append((end, end - start, outcome))
                self.stop.wait(max(0.0, 0.02 - (end - start)))


def stall(url: str, folder: Path, rows: int) -> dict[str, float | int | str]:
    from dialgate.bench.decks import write_deck_csv

    _took, out = _dialgate(url, "switch", "token", "create", "--name", "bench")
    token = out.strip().splitlines()[-1]
    port = _free_port()
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "dialgate.entrypoints.web:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env={**_env(url), "DIALGATE_SECRET_KEY": "bench-secret-key-0123456789abcdef"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                first = httpx.post(base + "/switch/v1/authorize", json=PROBE, timeout=5,
                                   headers={"Authorization": f"Bearer {token}"})
                if first.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start; see " + str(folder / "server.log"))
            time.sleep(0.1)
        route = first.json()["route"]
        replacement = folder / "replacement.csv"
        write_deck_csv(replacement, route, rows, seed=8, override={PROBE_PREFIX: MARKER})
        poller = Poller(base, token)
        poller.start()
        time.sleep(3.0)  # answers before the import, to compare with
        started = time.perf_counter()
        _dialgate(url, "rates", "import", route, str(replacement))
        committed = time.perf_counter()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(o == str(MARKER) and t > committed for t, _l, o in poller.samples[-5:]):
                break
            time.sleep(0.02)
        time.sleep(1.0)  # and a second after
        poller.stop.set()
        poller.join()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    during = [(t, lat, o) for t, lat, o in poller.samples if t >= started]
    # The same poller before the import: how slow answers are anyway on this machine now.
    before = [lat for t, lat, _o in poller.samples if t < started]
    errors = [o for _t, _l, o in poller.samples if o not in (str(MARKER),) and
              not o.replace(".", "").isdigit()]
    arrived = next((t for t, _l, o in during if o == str(MARKER)), None)
    slowest_at = max(during, key=lambda sample: sample[1])[0]
    # The swap itself: the answers within a second of the first one with the new rate (the
    # server loaded the new deck just before it).
    around = [lat for t, lat, _o in during if arrived is not None and abs(t - arrived) <= 1.0]
    return {
        "answers": len(poller.samples),
        "slowest_ms": round(max(lat for _t, lat, _o in during) * 1000, 1),
        "slowest_before_ms": round(max(before) * 1000, 1),
        "p99_ms": round(statistics.quantiles([lat for _t, lat, _o in during], n=100)[98] * 1000,
                        1),
        "errors": len(errors),
        "import_s": round(committed - started, 2),
        # When the slowest answer came, from the import's start: during the parse (the import
        # process competing for the CPU) or after the commit (the server loading the new deck).
        "slowest_at_s": round(slowest_at - started, 2),
        "slowest_around_swap_ms": round(max(around) * 1000, 1) if around else "n/a",
        "new_rate_after_commit_s": (round(arrived - committed, 2) if arrived else "never"),
    }


@contextmanager
def _postgres_database() -> Iterator[str]:
    """An empty database in a throwaway PostgreSQL cluster (the tests' own helper)."""
    sys.path.insert(0, str(ROOT))
    import psycopg
    from tests.support.pg import throwaway_cluster

    with throwaway_cluster() as server:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE dialgate_rating_bench")
        yield server.replace("postgresql://", "postgresql+psycopg://") + "/dialgate_rating_bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="where to run when no --database-url is given (default sqlite)")
    parser.add_argument("--database-url", help="an empty database (default: see --db)")
    parser.add_argument("--no-stall", action="store_true", help="skip the live replacement")
    parser.add_argument("--child-load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_load:
        child_load(args.child_load)
        return 0

    from dialgate.bench import authorize as bench
    from dialgate.bench.decks import write_deck_csv

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dialgate-rating-")))
        # The host's deck files (``adapters.deck_files``) start empty, as on a fresh host.
        os.environ["DIALGATE_CACHE_DIR"] = str(folder / "cache")
        if args.database_url:
            url = args.database_url
        elif args.db == "postgres":
            url = stack.enter_context(_postgres_database())
        else:
            url = f"sqlite:///{folder / 'bench.db'}"
        print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        _dialgate(url, "db", "upgrade")
        _dialgate(url, "demo")
        deck = folder / "deck.csv"
        rows = write_deck_csv(deck, "value", args.rows)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        took, _out = _dialgate(url, "rates", "import", "value", str(deck))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"deck: {rows:,} rows, {deck.stat().st_size / 1e6:.0f} MB, database "
              f"{url.split(':')[0]}")
        # The CPU seconds are the import process's own (the database server's are not in
        # them): on a shared machine, wall time is CPU time plus the wait for a core.
        print(f"rates import:      {took:6.2f} s   {rows / took:10,.0f} rows/s (end to end); "
              f"{cpu:.2f} s CPU ({rows / cpu:,.0f} rows per CPU-second)")
        # The first worker on the host reads the database and writes the deck files; the
        # next ones map those files.
        for who in ("first worker", "next worker "):
            load = json.loads(subprocess.run(
                [sys.executable, __file__, "--child-load", url], capture_output=True, text=True,
                check=True).stdout)
            print(f"deck load, {who}: {load['seconds']:6.3f} s {load['rss_added_mib']:6.1f} MiB "
                  f"added ({load['rows']:,} rows in both routes; a lookup "
                  f"{load['lookup_us']:.0f} us)")
        show = _median_wall(url, ("rates", "show", "value", "4420123"))
        auth = _median_wall(url, ("authorize", "100000", "011442079460123"))
        print(f"rates show:        {show:6.2f} s wall   authorize: {auth:.2f} s wall "
              "(median of 5, interpreter start-up included)")
        demo = bench.run(2.0)
        decks = bench.big_decks(args.rows)
        big = bench.run(2.0, decks)
        ratios = bench.paired_ratios(4.0, decks)
        print(f"decisions/s:       {demo['dialgate_per_s']:,} with the demo decks, "
              f"{big['dialgate_per_s']:,} with {args.rows:,}-row decks "
              f"({big['dialgate_per_s'] / demo['dialgate_per_s']:.0%}); paired rounds in turn: "
              f"median {statistics.median(ratios):.1%} ({ratios[0]:.1%}-{ratios[-1]:.1%})")
        del decks
        if not args.no_stall:
            result = stall(url, folder, args.rows)
            print(f"live replacement:  slowest answer {result['slowest_ms']} ms (before the "
                  f"import: {result['slowest_before_ms']} ms), p99 {result['p99_ms']} ms, "
                  f"{result['errors']} errors in {result['answers']} answers; import "
                  f"{result['import_s']} s, slowest answer {result['slowest_at_s']} s after its "
                  f"start; slowest within 1 s of the swap {result['slowest_around_swap_ms']} ms; "
                  f"new rate {result['new_rate_after_commit_s']} s after "
                  "the import command returned (negative: before it had exited)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
