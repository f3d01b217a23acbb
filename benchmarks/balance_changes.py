"""What a balance change (an answered call's charge, a deposit) costs a deciding Dialgate.

Every answered call's record charges its account, and each charged account is an entry in the
policy change feed that every deciding process reads. A balance entry (since round 7 of
docs/performance.md) makes the process read the new balances of the accounts it holds, in one
query, and keep their compiled snapshots; a policy entry (what a charge wrote before) drops
them, and each account's next call compiles its snapshot again, on the call path.

In process, on a fresh SQLite database with ``--accounts`` accounts (each with a sub account,
both cached): for each round, a second connection (the records role) changes every account's
balance in one transaction, or writes a policy entry for each; the cache reads the feed as
its refresher thread does; then one call of each main account and sub account is decided.
Balance and policy rounds take turns. It prints the CPU per round of the feed read and of the
calls, per charged account, with the median of the rounds for each kind.

    python benchmarks/balance_changes.py [--accounts 200] [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--rounds", type=int, default=15, help="rounds of each kind")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from sqlalchemy import insert, text

    from dialgate.adapters import metrics
    from dialgate.adapters.db import migrate, tables
    from dialgate.domain.policy import AuthorizeRequest
    from dialgate.services import accounts, billing, demo, policy_feed
    from dialgate.services.authorize import PolicyCache, authorize_call
    from dialgate.services.uow import Database

    metrics.disable()
    workdir = Path(tempfile.mkdtemp(prefix="balance-bench-"))
    url = f"sqlite:///{workdir / 'dialgate.db'}"
    migrate.upgrade(url)
    records = Database(url)  # the records role's connection: no commit hook shared
    numbers = [str(100000 + i) for i in range(args.accounts)]
    with records.uow() as uow:
        uow.session.execute(text("PRAGMA journal_mode=WAL"))
        demo.load_demo(uow)
        for number in numbers:
            if number == "100000":  # the demo's own account
                continue
            accounts.create_account(uow, number=number, email=f"b{number}@example.com",
                                    password="Bench-Pass-1", balance=Decimal("50"))
        uow.session.flush()
        for number in numbers:
            accounts.create_subaccount(uow, number, "bench", password="Bench-Sub-1", actor="b")
        uow.commit()

    deciding = Database(url)
    cache = PolicyCache(deciding)
    cache.warm()
    calls = [AuthorizeRequest.checked(subject, "5145551234", source_ip="127.0.0.1")
             for number in numbers for subject in (number, f"{number}_bench")]

    def decide_all() -> None:
        for call in calls:
            authorize_call(cache, call)

    decide_all()  # every snapshot built

    def change(kind: str) -> None:
        with records.uow() as uow:
            if kind == policy_feed.BALANCE:
                for number in numbers:
                    billing.deposit(uow, number, "0.01", description="bench")
            else:  # what every charge wrote before: a policy entry, a rebuild
                uow.execute(insert(tables.policy_changes),
                            [{"account": number, "kind": policy_feed.POLICY}
                             for number in numbers])
            uow.commit()

    figures: dict[str, dict[str, list[float]]] = {
        kind: {"feed": [], "calls": []} for kind in (policy_feed.BALANCE, policy_feed.POLICY)}
    for _round in range(args.rounds):
        for kind, parts in figures.items():
            change(kind)
            cpu0 = time.process_time()
            cache._poll(force=True)  # what the refresher thread does every poll interval
            cpu1 = time.process_time()
            decide_all()
            cpu2 = time.process_time()
            parts["feed"].append(1e6 * (cpu1 - cpu0) / len(numbers))
            parts["calls"].append(1e6 * (cpu2 - cpu1) / len(numbers))
    records.dispose()
    deciding.dispose()

    summary = {kind: {part: round(statistics.median(values), 1) for part, values in parts.items()}
               for kind, parts in figures.items()}
    if args.json:
        print(json.dumps({"accounts": args.accounts, "rounds": args.rounds,
                          "us_cpu_per_charged_account": summary}))
        return
    print(f"{args.accounts} accounts, each with a sub account; {args.rounds} rounds of each kind;"
          " CPU us per changed account, median of the rounds:")
    print(f"{'feed entry':12} {'reading the feed':>18} {'its two next calls':>20} {'total':>8}")
    for kind, parts in summary.items():
        print(f"{kind:12} {parts['feed']:18.1f} {parts['calls']:20.1f} "
              f"{parts['feed'] + parts['calls']:8.1f}")


if __name__ == "__main__":
    main()
