"""``dialgate apikey ...``, ``dialgate switch token ...`` and ``dialgate api enable|disable``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.entrypoints.cli import switch as switch_cli
from dialgate.entrypoints.cli.common import console, database, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.services import apikeys
else:
    apikeys = lazy_import("dialgate.services.apikeys")


def _table(keys: list[apikeys.KeyInfo]) -> Table:
    table = Table("id", "name", "created", "revoked")
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    return table


def register(app: typer.Typer) -> None:
    key_app = typer.Typer(help="Customer API keys (REST API, Bearer).", no_args_is_help=True)
    switch_app = typer.Typer(help="The SIP servers' access to Dialgate.", no_args_is_help=True)
    token_app = typer.Typer(
        help="Switch tokens (separate from customer keys).", no_args_is_help=True
    )
    api_app = typer.Typer(
        help="The VoIP.ms-compatible API (/api/v1/rest.php).", no_args_is_help=True
    )

    @key_app.command("create")
    def key_create(
        account: str, name: str = typer.Option("", "--name", help="A label for the key.")
    ) -> None:
        """Create an API key for a main account and print it (shown only this once)."""
        with database() as db:
            info, token = apikeys.create_api_key(db, account, name=name)
        console.print(
            f"API key {info.id} for account {account} (store it now; it is not shown again):",
            markup=False,
            highlight=False,
        )
        typer.echo(token)

    @key_app.command("list")
    def key_list(account: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """List an account's API keys (ids only; the secrets are not stored)."""
        with uow(write=False) as unit:
            keys = apikeys.list_api_keys(unit, account)
        if as_json:
            print_json([k.to_json() for k in keys])
        else:
            console.print(_table(keys))

    @key_app.command("revoke")
    def key_revoke(account: str, key_id: str) -> None:
        """Revoke an API key of an account (by its id, e.g. dg_1a2b3c4d)."""
        with database() as db:
            apikeys.revoke_api_key(db, account, key_id)
        console.print(f"API key {key_id} revoked", markup=False)

    @token_app.command("create")
    def token_create(name: str = typer.Option("", "--name", help="e.g. the POP name.")) -> None:
        """Create a switch token and print it (shown only this once)."""
        with database() as db:
            info, token = apikeys.create_switch_token(db, name=name)
        console.print(
            f"switch token {info.id} (store it now; it is not shown again):", markup=False
        )
        typer.echo(token)

    @token_app.command("list")
    def token_list(as_json: bool = typer.Option(False, "--json")) -> None:
        """List switch tokens."""
        with uow(write=False) as unit:
            tokens = apikeys.list_switch_tokens(unit)
        if as_json:
            print_json([t.to_json() for t in tokens])
        else:
            console.print(_table(tokens))

    @token_app.command("revoke")
    def token_revoke(token_id: str) -> None:
        """Revoke a switch token (by its id, e.g. sw_1a2b3c4d)."""
        with database() as db:
            apikeys.revoke_switch_token(db, token_id)
        console.print(f"switch token {token_id} revoked", markup=False)

    @api_app.command("enable")
    def api_enable(
        number: str,
        password: str = typer.Option(..., "--password", help="The API password (api_password)."),
        allow_ip: list[str] = typer.Option(
            [], "--allow-ip", help="An IP or CIDR range allowed to call; repeat. 0.0.0.0 = any."
        ),
    ) -> None:
        """Enable the VoIP.ms-compatible API for an account (api_username is its email)."""
        with database() as db:
            ips = apikeys.enable_voipms_api(db, number, password=password, allowed_ips=allow_ip)
        console.print(
            f"VoIP.ms API enabled for {number}; allowed IPs: {', '.join(ips) or 'none'}",
            markup=False,
        )

    @api_app.command("disable")
    def api_disable(number: str) -> None:
        """Disable the VoIP.ms-compatible API for an account."""
        with database() as db:
            apikeys.disable_voipms_api(db, number)
        console.print(f"VoIP.ms API disabled for {number}", markup=False)

    switch_app.add_typer(token_app, name="token")
    switch_cli.register(switch_app)
    app.add_typer(key_app, name="apikey")
    app.add_typer(switch_app, name="switch")
    app.add_typer(api_app, name="api")
