"""``dialgate operator create|list`` and ``dialgate operator key create|revoke``: the provider's
staff for the operator console (``/admin/``) and the admin API (``/admin/v1``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dialgate.entrypoints.cli.common import console, database, print_json, uow
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.services import operators
else:  # argon2 and the database load only when an operator command runs
    operators = lazy_import("dialgate.services.operators")


def register(app: typer.Typer) -> None:
    op_app = typer.Typer(help="Operators: the console at /admin/ and the admin API.",
                         no_args_is_help=True)
    key_app = typer.Typer(help="Admin API keys (act as their operator).", no_args_is_help=True)

    @op_app.command("create")
    def create(
        email: str,
        role: str = typer.Option(..., "--role", help="admin (everything, TOTP required) or "
                                 "support (no money)"),
        password: str = typer.Option(..., "--password", prompt=True, hide_input=True,
                                     confirmation_prompt=True,
                                     help="At least 12 characters (prompted if left out)."),
    ) -> None:
        """Create an operator. An admin's TOTP secret is printed once: add it to an
        authenticator app (the otpauth:// URI fits a QR code)."""
        with database() as db:
            row, secret = operators.create_operator(db, email, role, password)
        console.print(f"Operator {row.email} ({row.role}) created.", markup=False,
                      highlight=False)
        if secret is not None:
            console.print("TOTP secret (shown only now; enrol it in an authenticator app):",
                          markup=False, highlight=False)
            typer.echo(secret)
            typer.echo(operators.provisioning_uri(row.email, secret))

    @op_app.command("list")
    def list_(as_json: bool = typer.Option(False, "--json")) -> None:
        """List operators (email, role, enabled)."""
        with uow(write=False) as unit:
            rows = [{"email": r.email, "role": r.role, "enabled": r.enabled}
                    for r in operators.list_operators(unit)]
        if as_json:
            print_json(rows)
        else:
            for r in rows:
                typer.echo(f"{r['email']}\t{r['role']}\t{'enabled' if r['enabled'] else 'off'}")

    @key_app.command("create")
    def key_create(email: str, name: str = typer.Option("", "--name")) -> None:
        """Create an admin API key acting as operator EMAIL (shown only this once)."""
        with database() as db:
            prefix, token = operators.create_admin_key(db, email, name=name)
        console.print(f"Admin API key {prefix} for {email} (store it now):", markup=False,
                      highlight=False)
        typer.echo(token)

    @key_app.command("revoke")
    def key_revoke(key_id: str) -> None:
        """Revoke an admin API key by its id (dgadm_xxxxxxxx)."""
        with database() as db:
            operators.revoke_admin_key(db, key_id)
        typer.echo(f"revoked {key_id}")

    op_app.add_typer(key_app, name="key")
    app.add_typer(op_app, name="operator")
