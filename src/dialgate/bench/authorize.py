"""Benchmark call authorization: Dialgate's compiled snapshot vs the obvious baseline.

Both sides decide the same mixed workload (domestic, toll-free, international, denied), in
process, on one core. Dialgate builds its snapshots through the production compile path
(settings registry -> effective settings -> ``compile_snapshot`` with the numbering plan compiled
from phonenumbers and the demo rate decks). The baseline makes the same kind of decision the
obvious way: ``phonenumbers.parse`` + ``number_type`` + ``region_code_for_number`` per call, and
reads the raw settings per call, with no compilation.

    python benchmarks/authorize.py [--seconds 2] [--json] [--deck-rows 1000000]

With ``--deck-rows N`` it runs twice, with the demo decks and with N-row decks (the demo rows
plus random international prefixes, compiled like an imported deck), and prints both: a big
deck must not slow decisions down. The two are then compared in pairs (``--pairs``, default 9):
a round with the demo decks, a round with the big decks, in turn, in the same process, each
pair giving one ratio; the median of the ratios is what to quote, since a busy moment on a
shared machine slows both rounds of a pair alike.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from dialgate.adapters import geo, metrics
from dialgate.adapters.numbering_cache import numbering_plan
from dialgate.adapters.rate_data import demo_decks, demo_rates
from dialgate.bench.decks import big_deck_rates
from dialgate.domain import catalogs
from dialgate.domain import settings as registry
from dialgate.domain.deck import RateDeck
from dialgate.domain.policy import AuthorizeRequest, decide
from dialgate.domain.snapshot import PolicySnapshot, compile_snapshot
from dialgate.domain.values import ValidationContext
from dialgate.services.authorize import decide_counted

MAIN, SUB = "100000", "100000_office"

# (account, dialed, source_ip, pop): the mix a busy PBX customer sends.
WORKLOAD: tuple[tuple[str, str, str, str], ...] = (
    (MAIN, "2125551234", "203.0.113.10", "newyork1"),  # us48
    (MAIN, "5145550199", "203.0.113.10", "montreal1"),  # canada
    (MAIN, "4165550123", "203.0.113.10", "toronto1"),  # canada
    (MAIN, "9075550123", "203.0.113.10", "seattle1"),  # us_other (Alaska)
    (MAIN, "18005550199", "203.0.113.10", "montreal1"),  # toll-free
    (MAIN, "8885550123", "203.0.113.10", "chicago1"),  # toll-free
    (MAIN, "011442079460123", "203.0.113.10", "newyork1"),  # UK landline
    (MAIN, "011447911123456", "203.0.113.10", "newyork1"),  # UK mobile
    (MAIN, "011447012345678", "203.0.113.10", "newyork1"),  # UK 4470: above the max rate
    (MAIN, "0033612345678", "203.0.113.10", "montreal1"),  # France mobile
    (MAIN, "+525512345678", "203.0.113.10", "dallas1"),  # Mexico
    (MAIN, "0118613812345678", "203.0.113.10", "newyork1"),  # China: country not allowed
    (MAIN, "5145551212", "203.0.113.10", "montreal1"),  # NPA-555-1212: blocked
    (MAIN, "123", "203.0.113.10", "montreal1"),  # invalid
    (MAIN, "2125551234", "198.51.100.7", "newyork1"),  # IP not allowed
    (SUB, "6135550123", "192.0.2.44", "toronto1"),  # canada
    (SUB, "011442079460123", "192.0.2.44", "toronto1"),  # international disabled
    (SUB, "8765550123", "192.0.2.44", "toronto1"),  # Jamaica: international disabled
    (SUB, "3125550123", "192.0.2.44", "chicago1"),  # us48
    (SUB, "911", "192.0.2.44", "toronto1"),  # emergency
)


def _account_settings() -> tuple[dict[str, Any], dict[str, Any]]:
    """The demo customer's settings, set through the registry's own validation."""
    countries = frozenset(c.code for c in geo.countries())
    ctx = ValidationContext(
        account=MAIN, email="demo@dialgate.test", subaccounts=frozenset({SUB}),
        countries=countries,
    )
    main = registry.apply_changes(
        current=registry.defaults(ctx), ctx=ctx,
        changes={
            "allow_international": "yes", "international_route": "premium",
            "canada_route": "premium", "international_max_rate": "0.150",
            "allowed_countries": "GB,FR,MX,JM,DE", "ip_restriction_enabled": "yes",
            "ip_restriction": "203.0.113.0/24, 192.0.2.0/24", "e911_callerid": "5145550100",
        },
    ).values
    sub = registry.apply_changes(
        current=registry.sub_defaults(), ctx=ctx, sub=True, inherited=main,
        changes={"description": "Office", "canada_route": "value"},
    ).values
    return main, sub


def _e164(dialed: str) -> str:
    for exit_code in ("011", "00", "+"):
        if dialed.startswith(exit_code):
            return dialed[len(exit_code):]
    return dialed if dialed.startswith("1") else "1" + dialed


def big_decks(rows: int) -> dict[str, RateDeck]:
    """Both routes' decks with ``rows`` random prefixes added to the demo rows; no prefix of a
    workload number is added, so every call keeps its demo outcome."""
    avoid = [_e164(d) for _a, d, _ip, _p in WORKLOAD]
    return {route: RateDeck.compile(route, big_deck_rates(route, rows, avoid=avoid))
            for route in ("value", "premium")}


def dialgate_snapshots(decks: Mapping[str, RateDeck] | None = None) -> dict[str, PolicySnapshot]:
    plan = numbering_plan()
    decks = decks if decks is not None else demo_decks()
    pops = {p.name: p.country for p in catalogs.DEFAULT_POPS}
    main, sub = _account_settings()
    common: dict[str, Any] = {"balance": Decimal("25.00"), "pop_countries": pops,
                              "decks": decks, "plan": plan, "e911_dids": ("5145550100",)}
    return {
        MAIN: compile_snapshot(account=MAIN, enabled=True,
                               settings=registry.effective_settings(main).values, **common),
        SUB: compile_snapshot(account=SUB, enabled=True,
                              settings=registry.effective_settings(main, sub).values, **common),
    }


class Baseline:
    """The obvious implementation: parse the number with phonenumbers and read the settings on
    every call. It decides the same things, minus the trace."""

    def __init__(self) -> None:
        main, sub = _account_settings()
        self.settings = {
            MAIN: registry.effective_settings(main).values,
            SUB: registry.effective_settings(main, sub).values,
        }
        self.rates = {r: {x.prefix: x for x in demo_rates(r)} for r in ("value", "premium")}

    def decide(self, account: str, dialed: str, source_ip: str, pop: str) -> dict[str, Any]:
        s = self.settings[account]
        if s["ip_restriction_enabled"]:
            ip = ipaddress.ip_address(source_ip)
            if not any(ip in ipaddress.ip_network(n, strict=False) for n in s["ip_restriction"]):
                return {"allow": False, "reason": "ip_not_allowed"}
        if dialed == "911":
            return {"allow": True, "reason": "ok", "caller_id": s["e911_callerid"]}
        text = "+" + dialed[3:] if dialed.startswith("011") else (
            "+" + dialed[2:] if dialed.startswith("00") else dialed)
        try:
            number = phonenumbers.parse(text, "US")
        except phonenumbers.NumberParseException:
            return {"allow": False, "reason": "invalid_number"}
        if not phonenumbers.is_valid_number(number):
            return {"allow": False, "reason": "invalid_number"}
        kind = phonenumbers.number_type(number)
        region = phonenumbers.region_code_for_number(number)
        national = str(number.national_number)
        if number.country_code == 1 and national[3:] == "5551212":
            return {"allow": False, "reason": "blocked_number"}
        digits = f"{number.country_code}{national}"
        if kind == PhoneNumberType.TOLL_FREE:
            return {"allow": True, "reason": "ok", "route": s["tollfree_route"]}
        if region == "US":
            return {"allow": True, "reason": "ok", "route": "premium"}
        if region == "CA":
            route = s["canada_route"]
        else:
            if not s["allow_international"]:
                return {"allow": False, "reason": "international_disabled"}
            allowed = s["allowed_countries"]
            if "ALL" not in allowed and region not in allowed:
                return {"allow": False, "reason": "country_not_allowed"}
            route = s["international_route"]
        deck = self.rates[route]
        rate = next((deck[digits[:n]] for n in range(len(digits), 0, -1) if digits[:n] in deck),
                    None)
        if rate is None:
            return {"allow": False, "reason": "no_rate"}
        limit = s["international_max_rate"]
        if region != "CA" and limit is not None and rate.per_minute > Decimal(limit):
            return {"allow": False, "reason": "rate_above_limit"}
        return {"allow": True, "reason": "ok", "route": route, "rate": str(rate.per_minute)}


def _throughput(calls: Sequence[Callable[[], object]], seconds: float, rounds: int = 5) -> float:
    """Decisions per second of this process's CPU time ("on one core": wall-clock time would
    count the time other processes had the core), best of ``rounds`` equal rounds, as timeit
    does, since interference only ever slows a round down."""
    best = 0.0
    for _ in range(rounds):
        done = 0
        start = time.process_time()
        deadline = start + seconds / rounds
        while True:
            for call in calls:
                call()
            done += len(calls)
            now = time.process_time()
            if now >= deadline:
                break
        best = max(best, done / (now - start))
    return best


def _latencies_us(calls: Sequence[Callable[[], object]], rounds: int) -> list[float]:
    clock = time.perf_counter_ns
    out: list[float] = []
    for _ in range(rounds):
        for call in calls:
            t0 = clock()
            call()
            out.append((clock() - t0) / 1000)
    return out


def _dialgate_calls(
    decks: Mapping[str, RateDeck] | None, baseline: Baseline
) -> Sequence[Callable[..., object]]:
    """One call per workload entry, on snapshots compiled with ``decks``."""
    snapshots = dialgate_snapshots(decks)
    requests = [(snapshots[a], AuthorizeRequest.checked(a, d, source_ip=ip, pop=p))
                for a, d, ip, p in WORKLOAD]
    # Both sides must agree on the outcome of every call, or the comparison means nothing.
    for (snap, req), args in zip(requests, WORKLOAD, strict=True):
        ours, theirs = decide(snap, req), baseline.decide(*args)
        if (ours.allow, ours.reason) != (theirs["allow"], theirs["reason"]):
            raise SystemExit(f"disagreement on {args}: {ours.reason} vs {theirs['reason']}")
    # The request is validated inside the timed call too: a real server builds one per call.
    # ``decide_counted`` is the production hot path: the decision plus its metrics (counted
    # and timed), or the bare decision once ``metrics.disable()`` ran (``--no-metrics``).
    check = AuthorizeRequest.checked
    calls = [
        lambda s=snapshots[a], a=a, d=d, ip=ip, p=p: decide_counted(
            s, check(a, d, source_ip=ip, pop=p))
        for a, d, ip, p in WORKLOAD
    ]
    return calls


def paired_ratios(
    seconds: float, decks: Mapping[str, RateDeck], pairs: int = 9
) -> list[float]:
    """Decisions/s with ``decks`` over decisions/s with the demo decks, one ratio per pair of
    rounds run back to back, sorted."""
    baseline = Baseline()
    demo_calls = _dialgate_calls(None, baseline)
    big_calls = _dialgate_calls(decks, baseline)
    ratios: list[float] = []
    gc.collect()
    gc.disable()
    try:
        for pair in range(pairs):
            # Every other pair in the other order: neither side always runs second.
            if pair % 2:
                big = _throughput(big_calls, seconds / pairs, rounds=1)
                demo = _throughput(demo_calls, seconds / pairs, rounds=1)
            else:
                demo = _throughput(demo_calls, seconds / pairs, rounds=1)
                big = _throughput(big_calls, seconds / pairs, rounds=1)
            ratios.append(big / demo)
    finally:
        gc.enable()
    return sorted(ratios)


def run(
    seconds: float = 2.0, decks: Mapping[str, RateDeck] | None = None
) -> dict[str, float | bool]:
    baseline = Baseline()
    ours_calls = _dialgate_calls(decks, baseline)
    base_calls = [lambda a=a: baseline.decide(*a) for a in WORKLOAD]
    gc.collect()
    gc.disable()  # measure the code, not when a collection happens to run
    try:
        ours_per_s = _throughput(ours_calls, seconds)
        base_per_s = _throughput(base_calls, seconds)
        lat = _latencies_us(ours_calls, max(1, int(ours_per_s * seconds / 4) // len(WORKLOAD)))
    finally:
        gc.enable()
    q = statistics.quantiles(lat, n=100)
    return {
        "dialgate_per_s": round(ours_per_s),
        "baseline_per_s": round(base_per_s),
        "ratio": round(ours_per_s / base_per_s, 2),
        "p50_us": round(q[49], 2),
        "p99_us": round(q[98], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per side (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-metrics", action="store_true",
                        help="decide without counting (measures what the metrics cost)")
    parser.add_argument("--deck-rows", type=int, default=0,
                        help="also run with decks of this many rows (default: demo decks only)")
    parser.add_argument("--pairs", type=int, default=9,
                        help="demo/big round pairs for the paired ratio (default 9)")
    args = parser.parse_args(argv)
    if args.no_metrics:
        metrics.disable()
    result = run(args.seconds)
    result["metrics"] = metrics.enabled()
    big: dict[str, float | bool] | None = None
    ratios: list[float] = []
    if args.deck_rows:
        decks = big_decks(args.deck_rows)
        big = run(args.seconds, decks)
        ratios = paired_ratios(args.seconds * 2, decks, args.pairs)
    if args.json:
        print(json.dumps(result if big is None else {
            "demo": result, f"deck_{args.deck_rows}": big,
            "paired_ratio_median": round(statistics.median(ratios), 3),
            "paired_ratios": [round(r, 3) for r in ratios]}))
        return 0
    print(f"workload: {len(WORKLOAD)} calls (domestic, toll-free, international, denied), "
          "one core, in process")
    print(f"dialgate: {result['dialgate_per_s']:>10,} decisions/s   "
          f"(metrics {'on' if result['metrics'] else 'off'})   "
          f"p50 {result['p50_us']} us   p99 {result['p99_us']} us")
    print(f"baseline: {result['baseline_per_s']:>10,} decisions/s   "
          "(phonenumbers.parse + type + region per call)")
    print(f"ratio:    {result['ratio']}x")
    print("(throughput: best of 5 rounds, per CPU-second of this process; latency: wall clock "
          "per decision, request validation included)")
    if big is not None:
        print(f"with {args.deck_rows:,}-row decks: {big['dialgate_per_s']:>10,} decisions/s   "
              f"p50 {big['p50_us']} us   p99 {big['p99_us']} us   "
              f"({big['dialgate_per_s'] / result['dialgate_per_s']:.0%} of the demo decks' figure)")
        print(f"paired: {args.deck_rows:,}-row decks / demo decks, {len(ratios)} pairs of rounds "
              f"in turn: median {statistics.median(ratios):.1%} "
              f"(min {ratios[0]:.1%}, max {ratios[-1]:.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
