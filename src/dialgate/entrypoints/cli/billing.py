"""``dialgate balance``, ``dialgate deposit`` and ``dialgate cdr record``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.amounts import amount as money
from dialgate.entrypoints.amounts import amounts
from dialgate.entrypoints.cli.common import console, database, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.services import billing
else:
    billing = lazy_import("dialgate.services.billing")


def register(app: typer.Typer) -> None:
    @app.command("balance")
    def balance(account: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """The prepaid balance with today's and total spend, calls and talk time."""
        with uow(write=False) as unit:
            view = billing.balance(unit, account)
        if as_json:
            print_json(amounts(view.to_json(), ("current_balance", "spent_total", "spent_today")))
            return
        wire = view.to_voipms()
        console.print(f"account {account}: balance ${money(view.current_balance)}", markup=False)
        console.print(
            f"  today: spent ${money(view.spent_today)}, {wire['calls_today']} calls, "
            f"{wire['time_today']}",
            markup=False,
        )
        console.print(
            f"  total: spent ${money(view.spent_total)}, {wire['calls_total']} calls, "
            f"{wire['time_total']}",
            markup=False,
        )

    @app.command("deposit")
    def deposit(account: str, amount: str) -> None:
        """Add funds to ACCOUNT."""
        with database() as db:
            new = billing.deposit(db, account, amount)
        console.print(f"account {account}: balance ${money(new)}", markup=False)

    cdr_app = typer.Typer(help="Call detail records.", no_args_is_help=True)

    @cdr_app.command("record")
    def record(file: Path, as_json: bool = typer.Option(False, "--json")) -> None:
        """Record finished calls from FILE.json (one record or a list), each charged once
        (inbound calls to a DID are recorded, never charged)."""
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValidationFailed.single("file", "invalid_json", str(exc)) from None
        records = data if isinstance(data, list) else [data]
        results = []
        with database() as db:
            for item in records:
                if not isinstance(item, dict):
                    raise ValidationFailed.single(
                        "file", "invalid_record", "each record is an object"
                    )
                results.append(billing.record_cdr(db, item))  # one transaction per record
        if as_json:
            print_json([r.to_json() for r in results])
            return
        for r in results:
            note = " (already recorded)" if r.duplicate else ""
            kind = "inbound, " if r.direction == "inbound" else ""
            console.print(
                f"{r.call_id}: {kind}{r.disposition}, billed {r.billed_s} s, ${money(r.cost)}"
                f"{note}; balance ${money(r.balance)}",
                markup=False,
            )

    app.add_typer(cdr_app, name="cdr")
