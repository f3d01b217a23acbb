"""``dialgate db upgrade``, ``dialgate demo``, ``dialgate serve``."""

from __future__ import annotations

import typer

from dialgate.config import get_settings
from dialgate.entrypoints.cli.common import console, database
from dialgate.services import accounts, demo


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade() -> None:
        """Apply every migration and load the catalog data (POPs)."""
        from dialgate.adapters.db import migrate  # Alembic is slow to import; only needed here

        url = get_settings().database_url
        migrate.upgrade(url)
        with database() as db, db.uow() as uow:
            accounts.sync_pops(uow)
            uow.commit()
        console.print(f"database at {db.url} is up to date", markup=False)

    app.add_typer(db_app, name="db")

    @app.command("demo")
    def demo_cmd() -> None:
        """Load the demo data if it is not there yet (idempotent)."""
        with database() as db, db.uow() as uow:
            created = demo.load_demo(uow)
            uow.commit()
        state = "loaded" if created else "already present"
        console.print(
            f"demo data {state}. Portal login: account {demo.DEMO_ACCOUNT} "
            f"(or {demo.DEMO_EMAIL}), password {demo.DEMO_PASSWORD}",
            markup=False,
        )

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
    ) -> None:
        """Serve Dialgate over HTTP."""
        import uvicorn

        from dialgate.entrypoints.web import create_app

        console.print(
            f"Dialgate on http://{host}:{port} — demo login {demo.DEMO_ACCOUNT} / "
            f"{demo.DEMO_PASSWORD}",
            markup=False,
        )
        uvicorn.run(create_app(), host=host, port=port, log_level="info")
