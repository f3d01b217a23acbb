"""``dialgate did add|list|set`` and ``dialgate inbound``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.entrypoints.cli.common import console, database, parse_pairs, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.services import dids, inbound
else:
    dids = lazy_import("dialgate.services.dids")
    inbound = lazy_import("dialgate.services.inbound")


def register(app: typer.Typer) -> None:
    did_app = typer.Typer(help="DID numbers and their routing.", no_args_is_help=True)

    @did_app.command("add")
    def add(
        account: str,
        number: str,
        pairs: list[str] = typer.Argument(None, help="key=value ..."),
    ) -> None:
        """Add a DID to ACCOUNT; it takes the account's Default DID Routing, then key=value."""
        with database() as db:
            view = dids.add_did(db, account, number, parse_pairs(pairs or []), actor="cli")
        console.print(f"DID {view.number} added to {view.account}", markup=False)

    @did_app.command("list")
    def list_(account: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """The DIDs of ACCOUNT with their routing."""
        with uow(write=False) as unit:
            views = dids.list_dids(unit, account)
        if as_json:
            print_json([v.to_json() for v in views])
            return
        table = Table("number", *dids.DID_KEYS, title=f"DIDs of {account}")
        for v in views:
            table.add_row(v.number, *(str(v.values[k]) for k in dids.DID_KEYS))
        console.print(table)

    @did_app.command("set")
    def set_(number: str, pairs: list[str] = typer.Argument(..., help="key=value ...")) -> None:
        """Change a DID's settings, all or nothing."""
        with database() as db:
            owner = dids.owner_of(db, number)  # the operator may change any account's DID
            changes = dids.set_did(db, number, parse_pairs(pairs), actor="cli", account=owner)
        if not changes:
            console.print("nothing changed", markup=False)
        for change in changes:
            console.print(f"{change.key}: {change.old!r} -> {change.new!r}", markup=False)

    app.add_typer(did_app, name="did")

    @app.command("inbound")
    def inbound_(
        did: str,
        after: str | None = typer.Option(
            None, "--after", help="The previous leg ended: busy, unreachable or noanswer."
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Where a call to DID goes (or goes next, after a failed leg)."""
        with uow(write=False) as unit:
            result = inbound.route_inbound(unit, did, event=after or "new")
        data = result.to_json()
        if as_json:
            print_json(data)
            return
        t = data["target"]
        console.print(
            f"DID {data['did']} ({data['account']}) event={data['event']} "
            f"position={data['position']}: {t['kind']} {t['value']}".rstrip(),
            markup=False,
        )
        if t["kind"] == "account":
            console.print(
                f"  ring {t['sip_user']} over {t['protocol']} ({t['device_type']}) "
                f"registered on {data['pop']}, {data['dial_time_s']} s",
                markup=False,
            )
        if t["forward_number"]:
            console.print(f"  forward to {t['forward_number']}", markup=False)
        if data["loop_detected"]:
            console.print("  loop detected: the chain ends here", markup=False)
        console.print(f"  CNAM lookup: {'yes' if data['cnam_lookup'] else 'no'}", markup=False)
        for event, nxt in data["next_on"].items():
            console.print(f"  on {event}: {nxt['kind']} {nxt['value']}".rstrip(), markup=False)
