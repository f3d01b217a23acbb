"""CLI start-up: wall time of light ``dialgate`` commands with a 1,000,000-row value deck live.

    python benchmarks/cli_startup.py [--rows 1000000] [--runs 10] [--database-url URL]

Prints the median (and min-max) wall seconds of ``--runs`` runs of each command, interpreter
start-up included, the commands taken in turn (A B C D A B C D ...) so a busy moment slows them
all alike:

- ``dialgate --help`` (target 0.35 s), ``dialgate balance 100000`` (target 0.8 s);
- ``dialgate rates show value 4420123`` and ``dialgate authorize 100000 011442079460123``, and
  their sum (target: under 1.5 s in total).

Each is measured twice:

- ``source``: as this checkout runs when ``PYTHONDONTWRITEBYTECODE`` is set (an editable
  install with no ``.pyc`` for Dialgate's own modules: every run compiles them again);
- ``bytecode``: with every module's ``.pyc`` present, as after ``pip install`` of the package
  (pip compiles what it installs). The ``.pyc`` files go to a temporary ``PYTHONPYCACHEPREFIX``,
  written by one unmeasured run of each command; the checkout is not touched.

The database (SQLite in a temporary folder unless ``--database-url`` names one that already has
the demo data and a big deck) gets the demo data and a generated deck of ``--rows`` rows.
Load averages are printed before and after: on a shared machine, quote them with the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: dict[str, tuple[str, ...]] = {
    "--help": ("--help",),
    "balance": ("balance", "100000"),
    "rates show": ("rates", "show", "value", "4420123"),
    "authorize": ("authorize", "100000", "011442079460123"),
}


def _run(env: dict[str, str], args: tuple[str, ...]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "dialgate", *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"dialgate {' '.join(args)} failed:\n{out.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def _prepare(env: dict[str, str], folder: Path, rows: int) -> None:
    from dialgate.bench.decks import write_deck_csv

    for args in (("db", "upgrade"), ("demo",)):
        _run(env, args)
    deck = folder / "deck.csv"
    written = write_deck_csv(deck, "value", rows)
    took, _cpu = _run(env, ("rates", "import", "value", str(deck)))
    deck.unlink()
    print(f"value deck: {written:,} rows imported in {took:.1f} s")


Runs = dict[str, list[tuple[float, float]]]


def _measure(env: dict[str, str], runs: int) -> Runs:
    for args in COMMANDS.values():  # warm the page cache, the numbering plan cache, the .pyc
        _run(env, args)
    times: Runs = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, args in COMMANDS.items():
            times[name].append(_run(env, args))
    return times


def _line(name: str, runs: list[tuple[float, float]]) -> str:
    wall = [w for w, _c in runs]
    cpu = [c for _w, c in runs]
    return (f"  {name:<22} wall {statistics.median(wall):6.3f} s "
            f"({min(wall):.3f}-{max(wall):.3f})   CPU {statistics.median(cpu):6.3f} s "
            f"({min(cpu):.3f}-{max(cpu):.3f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--database-url",
                        help="a database with the demo data and a big deck already loaded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dialgate-cli-") as tmp:
        folder = Path(tmp)
        base = {**os.environ, "DIALGATE_ENVIRONMENT": "development",
                "DIALGATE_CACHE_DIR": str(folder / "cache"),
                "DIALGATE_DATABASE_URL": args.database_url or f"sqlite:///{folder / 'cli.db'}"}
        if not args.database_url:
            _prepare(base, folder, args.rows)
        modes = {
            "source": {**base, "PYTHONDONTWRITEBYTECODE": "1"},
            "bytecode": {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
            | {"PYTHONPYCACHEPREFIX": str(folder / "pyc")},
        }
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{os.cpu_count()} CPUs; median (min-max) of {args.runs} runs; CPU is the "
              "process's user + system time (on a busy machine, wall = CPU + the wait for a "
              "core)")
        for mode, env in modes.items():
            times = _measure(env, args.runs)
            pairs = [(a[0] + b[0], a[1] + b[1])
                     for a, b in zip(times["rates show"], times["authorize"], strict=True)]
            print(f"{mode}:")
            for name, values in times.items():
                print(_line(name, values))
            print(_line("rates show + authorize", pairs))
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
