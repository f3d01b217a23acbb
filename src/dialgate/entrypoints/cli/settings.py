"""``dialgate settings show|set|history``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.entrypoints.cli.common import console, database, parse_pairs, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.domain import settings as s
    from dialgate.services import accounts, audit
else:
    s = lazy_import("dialgate.domain.settings")
    accounts = lazy_import("dialgate.services.accounts")
    audit = lazy_import("dialgate.services.audit")


def register(app: typer.Typer) -> None:
    settings_app = typer.Typer(
        help="Account Settings (main account or sub account).", no_args_is_help=True
    )

    @settings_app.command("show")
    def show(account: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """Show every setting of 100000 or 100000_office (effective values and their source)."""
        with uow(write=False) as unit:
            view = accounts.show_settings(unit, account)
        if as_json:
            print_json(view.to_json())
            return
        table = Table("tab", "key", "value", "source", title=f"Settings of {account}")
        for key, value in view.values.items():
            tab = s.spec_for(key).tab
            table.add_row(s.TAB_TITLES[tab], key, s.display(key, value), view.sources[key])
        console.print(table)

    @settings_app.command("set")
    def set_(account: str, pairs: list[str] = typer.Argument(..., help="key=value ...")) -> None:
        """Change settings, all or nothing; `key=` resets a key (a sub account: inherits)."""
        with database() as db:
            outcome = accounts.update_settings(db, account, parse_pairs(pairs), actor="cli")
        if not outcome.changes:
            console.print("nothing changed", markup=False)
        for change in outcome.changes:
            console.print(f"{change.key}: {change.old!r} -> {change.new!r}", markup=False)

    @settings_app.command("history")
    def history(
        account: str,
        tab: str | None = typer.Option(None, "--tab", help="Only this tab's keys."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Who changed what and when (secrets shown as ***)."""
        with uow(write=False) as unit:
            entries = audit.settings_history(unit, account, tab=tab)
        if as_json:
            print_json([e.to_json() for e in entries])
            return
        table = Table("when (UTC)", "account", "by", "key", "old", "new")
        for e in entries:
            table.add_row(
                e.at.strftime("%Y-%m-%d %H:%M:%S"), e.subject, e.actor, e.key, e.old, e.new
            )
        console.print(table)

    app.add_typer(settings_app, name="settings")
