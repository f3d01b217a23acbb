"""What the per-call metrics cost the decision: ``python benchmarks/metrics_cost.py``.

The same workload as ``benchmarks/authorize.py`` (request validation + decision, through
``decide_counted``, the production path), decided in rounds that alternate metrics on and off
in one process, so both sides see the same machine at nearly the same moment; the ratio is
taken round by round and its median printed (a busy, shared machine moves single rounds a lot,
but rarely one side of a pair more than the other), and the ratio of each side's fastest round
(the least disturbed). CPU time of this process, GC off. On a busy machine prefer many short
rounds (``--rounds 200 --calls 60``): a pair's two halves are then closer in time.

    python benchmarks/metrics_cost.py [--rounds 40] [--calls 300]
    python benchmarks/metrics_cost.py --tally

``--tally`` times the counting alone, which the paired rounds cannot resolve on a busy machine:
the real ``decide_counted`` with ``decide`` replaced by one returning decisions made
beforehand (the workload's own), metrics on minus metrics off, against the real check and
decision; each figure is the fastest of many repeats, the run least disturbed by other work.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
import timeit

from dialgate.adapters import metrics
from dialgate.bench.authorize import WORKLOAD, dialgate_snapshots
from dialgate.domain.policy import AuthorizeRequest, decide
from dialgate.services import authorize
from dialgate.services.authorize import decide_counted


def tally_cost(repeats: int) -> dict[str, float]:
    """Nanoseconds per decision: the tally (on minus off) and check + decide, fastest runs."""
    snapshots = dialgate_snapshots()
    check = AuthorizeRequest.checked
    work = [(snapshots[a], a, d, ip, p) for a, d, ip, p in WORKLOAD]
    made = [decide(s, check(a, d, source_ip=ip, pop=p)) for s, a, d, ip, p in work] * 20

    def decisions() -> None:
        for snapshot, account, dialed, ip, pop in work:
            decide(snapshot, check(account, dialed, source_ip=ip, pop=pop))

    def counted() -> None:
        for decision in made:
            decide_counted(None, decision)  # type: ignore[arg-type]

    original = authorize.decide
    authorize.decide = lambda _snapshot, decision: decision  # type: ignore[assignment,return-value]
    best = {"on": float("inf"), "off": float("inf"), "decision": float("inf")}
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for side in ("on", "off"):
                metrics.enable() if side == "on" else metrics.disable()
                best[side] = min(best[side], timeit.timeit(counted, number=50) / (50 * len(made)))
            run = timeit.timeit(decisions, number=10) / (10 * len(work))
            best["decision"] = min(best["decision"], run)
    finally:
        authorize.decide = original
        metrics.enable()
        gc.enable()
    tally = (best["on"] - best["off"]) * 1e9
    decision = best["decision"] * 1e9
    return {"tally_ns": round(tally, 1), "decision_ns": round(decision),
            "cost_pct": round(tally / decision * 100, 2), "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=300, help="workload passes per round")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tally", action="store_true", help="time the counting alone")
    parser.add_argument("--repeats", type=int, default=60, help="with --tally")
    args = parser.parse_args()
    if args.tally:
        figures = tally_cost(args.repeats)
        print(json.dumps(figures) if args.json else
              f"tally {figures['tally_ns']} ns per decision, check + decide "
              f"{figures['decision_ns']} ns: {figures['cost_pct']} % (fastest of "
              f"{args.repeats} repeats)")
        return
    snapshots = dialgate_snapshots()
    check = AuthorizeRequest.checked
    calls = [(snapshots[a], a, d, ip, p) for a, d, ip, p in WORKLOAD]

    def one_round() -> float:
        start = time.process_time()
        for _ in range(args.calls):
            for snapshot, account, dialed, ip, pop in calls:
                decide_counted(snapshot, check(account, dialed, source_ip=ip, pop=pop))
        return time.process_time() - start

    gc.collect()
    gc.disable()
    on: list[float] = []
    off: list[float] = []
    for i in range(args.rounds):
        for enabled in ((True, False) if i % 2 == 0 else (False, True)):
            if enabled:
                metrics.enable()
                on.append(one_round())
            else:
                metrics.disable()
                off.append(one_round())
    gc.enable()
    per_round = args.calls * len(calls)
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    quartiles = statistics.quantiles(ratios, n=4)
    result = {
        "on_per_s": round(per_round / statistics.median(on)),
        "off_per_s": round(per_round / statistics.median(off)),
        "cost_pct_median": round((statistics.median(ratios) - 1) * 100, 2),
        "cost_pct_quartiles": [round((q - 1) * 100, 2) for q in (quartiles[0], quartiles[2])],
        # The fastest round of each side: the least disturbed by other work on a shared box.
        "cost_pct_fastest": round((min(on) / min(off) - 1) * 100, 2),
        "rounds": args.rounds,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"metrics on:  {result['on_per_s']:>9,} decisions/s (median round)")
    print(f"metrics off: {result['off_per_s']:>9,} decisions/s")
    print(f"cost: {result['cost_pct_median']} % of the decision time (median of {args.rounds} "
          f"paired rounds; quartiles {result['cost_pct_quartiles'][0]} to "
          f"{result['cost_pct_quartiles'][1]} %)")
    print(f"cost, fastest round of each side: {result['cost_pct_fastest']} %")


if __name__ == "__main__":
    main()
