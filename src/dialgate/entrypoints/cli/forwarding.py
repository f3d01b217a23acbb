"""``dialgate forwarding add|list|set|delete``: call forwarding entries of an account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.entrypoints.cli.common import console, database, parse_pairs, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.domain import forwarding as f
    from dialgate.services import forwardings
else:  # the numbering data loads only when a forwarding command runs
    f = lazy_import("dialgate.domain.forwarding")
    forwardings = lazy_import("dialgate.services.forwardings")

FIELDS_HELP = (
    "field=value ...: phone_number, description, callerid_override, dtmf_digits, pause "
    "(0-10 s in 0.5 steps), diversion_header"
)


def register(app: typer.Typer) -> None:
    fwd_app = typer.Typer(
        help="Call forwarding entries: numbers DIDs route or fail over to (fwd:<id>).",
        no_args_is_help=True,
    )

    @fwd_app.command("add")
    def add(
        account: str,
        phone_number: str,
        pairs: list[str] = typer.Argument(None, help=FIELDS_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Add a forwarding to PHONE_NUMBER (read with the account's dialing mode)."""
        fields: dict[str, object] = {"phone_number": phone_number, **parse_pairs(pairs or [])}
        with database() as db:
            entry = forwardings.add_forwarding(db, account, fields, actor="cli")
        if as_json:
            print_json(entry.to_json())
            return
        console.print(
            f"forwarding {entry.id} ({entry.ref}) to {entry.phone_number} added to {account}",
            markup=False,
        )

    @fwd_app.command("list")
    def list_(account: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """The forwardings of ACCOUNT."""
        with uow(write=False) as unit:
            entries = forwardings.list_forwardings(unit, account)
        if as_json:
            print_json([e.to_json() for e in entries])
            return
        table = Table("id", *f.FIELDS, title=f"Call forwarding of {account}")
        for e in entries:
            row = e.to_json()
            table.add_row(str(e.id), *(str(row[k]) for k in f.FIELDS))
        console.print(table)

    @fwd_app.command("set")
    def set_(
        account: str,
        forwarding: str,
        pairs: list[str] = typer.Argument(..., help=FIELDS_HELP),
    ) -> None:
        """Change a forwarding of ACCOUNT, all or nothing."""
        with database() as db:
            changes = forwardings.set_forwarding(
                db, account, forwarding, parse_pairs(pairs), actor="cli"
            )
        if not changes:
            console.print("nothing changed", markup=False)
        for change in changes:
            console.print(f"{change.key}: {change.old!r} -> {change.new!r}", markup=False)

    @fwd_app.command("delete")
    def delete(account: str, forwarding: str) -> None:
        """Delete a forwarding; refused while a DID routes or fails over to it."""
        with database() as db:
            forwardings.delete_forwarding(db, account, forwarding, actor="cli")
        console.print(f"forwarding {forwarding} deleted", markup=False)

    app.add_typer(fwd_app, name="forwarding")
