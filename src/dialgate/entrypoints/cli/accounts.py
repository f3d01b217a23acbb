"""``dialgate account ...`` and ``dialgate subaccount ...``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.cli.common import console, database, parse_pairs, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.services import accounts, lookups
else:
    accounts = lazy_import("dialgate.services.accounts")
    lookups = lazy_import("dialgate.services.lookups")


def account_json(row: Any) -> dict[str, Any]:
    return {
        "account": row.number,
        "email": row.email,
        "enabled": row.enabled,
        "language": row.language,
        "balance": str(row.balance),
        "created_at": row.created_at.isoformat(),
    }


def register(app: typer.Typer) -> None:
    account_app = typer.Typer(help="Main accounts.", no_args_is_help=True)
    sub_app = typer.Typer(help="Sub accounts.", no_args_is_help=True)

    @account_app.command("create")
    def create(
        number: str,
        email: str = typer.Option(..., "--email", help="Login and notification address."),
        password: str = typer.Option(..., "--password", help="Portal (and initial SIP) password."),
        balance: str | None = typer.Option(None, "--balance", help="Opening balance in USD."),
        language: str = typer.Option("en", "--language", help="en, fr or es."),
    ) -> None:
        """Create a main account with default settings."""
        amount = None
        if balance is not None:
            try:
                amount = Decimal(balance)
            except InvalidOperation:
                raise ValidationFailed.single(
                    "balance", "invalid_decimal", f"must be a number; got {balance!r}"
                ) from None
        with database() as db:
            row = accounts.create_account(
                db,
                number=number,
                email=email,
                password=password,
                balance=amount,
                language=language,
                actor="cli",
            )
        console.print(f"account {row.number} created", markup=False)

    @account_app.command("show")
    def show(number: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """Show a main account."""
        with uow(write=False) as unit:
            data = account_json(lookups.get_account(unit, number))
            data["subaccounts"] = [
                sub.name
                for sub in lookups.list_subaccounts(unit, lookups.get_account(unit, number))
            ]
        if as_json:
            print_json(data)
            return
        table = Table(show_header=False)
        for key, value in data.items():
            table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
        console.print(table)

    @account_app.command("disable")
    def disable(
        number: str,
        reason: str | None = typer.Option(
            None, "--reason", help="Why (fraud, non-payment, ...); kept in the history."
        ),
    ) -> None:
        """Suspend a main account and its sub accounts: no calls, no SIP registration."""
        with database() as db:
            changed = accounts.set_account_enabled(db, number, False, reason=reason, actor="cli")
        state = "disabled" if changed else "already disabled; nothing changed"
        console.print(f"account {number} {state}", markup=False)

    @account_app.command("enable")
    def enable(number: str) -> None:
        """Restore a disabled main account and its sub accounts."""
        with database() as db:
            changed = accounts.set_account_enabled(db, number, True, reason=None, actor="cli")
        state = "enabled" if changed else "already enabled; nothing changed"
        console.print(f"account {number} {state}", markup=False)

    @sub_app.command("create")
    def sub_create(
        number: str,
        username: str,
        password: str = typer.Option(..., "--password", help="The sub account's SIP password."),
        pairs: list[str] = typer.Argument(None, help="Settings as key=value."),
    ) -> None:
        """Create a sub account <number>_<username>."""
        with database() as db:
            row = accounts.create_subaccount(
                db,
                number,
                username,
                password=password,
                changes=parse_pairs(pairs or []),
                actor="cli",
            )
        console.print(f"sub account {row.name} created", markup=False)

    @sub_app.command("list")
    def sub_list(number: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """List the sub accounts of a main account."""
        with uow(write=False) as unit:
            account = lookups.get_account(unit, number)
            rows = [
                {
                    "account": sub.name,
                    "username": sub.username,
                    "description": (sub.settings or {}).get("description", ""),
                    "created_at": sub.created_at.isoformat(),
                }
                for sub in lookups.list_subaccounts(unit, account)
            ]
        if as_json:
            print_json(rows)
            return
        table = Table("account", "description", "created")
        for r in rows:
            table.add_row(r["account"], r["description"], r["created_at"][:19])
        console.print(table)

    @sub_app.command("delete")
    def sub_delete(name: str) -> None:
        """Delete a sub account (refused while a DID routes to it)."""
        with database() as db:
            accounts.delete_subaccount(db, name, actor="cli")
        console.print(f"sub account {name} deleted", markup=False)

    app.add_typer(account_app, name="account")
    app.add_typer(sub_app, name="subaccount")
