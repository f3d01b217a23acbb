"""``dialgate db upgrade``, ``dialgate demo``, ``dialgate serve``."""

from __future__ import annotations

import gc
import logging
import os
import threading
from enum import StrEnum
from typing import TYPE_CHECKING

import typer

from dialgate.entrypoints.cli.common import console, database, long_running
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate import config
    from dialgate.services import demo, pops
else:
    config = lazy_import("dialgate.config")
    pops = lazy_import("dialgate.services.pops")
    demo = lazy_import("dialgate.services.demo")

log = logging.getLogger("dialgate.serve")


class Role(StrEnum):
    all = "all"
    web = "web"
    switch = "switch"
    records = "records"


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

    @db_app.command("upgrade")
    def upgrade() -> None:
        """Apply every migration and load the catalog data (POPs)."""
        from dialgate.adapters.db import migrate  # Alembic is slow to import; only needed here

        url = config.get_settings().database_url
        migrate.upgrade(url)
        with database() as db:
            pops.sync_pops(db)
        console.print(f"database at {db.url} is up to date", markup=False)

    app.add_typer(db_app, name="db")

    @app.command("demo")
    def demo_cmd() -> None:
        """Load the demo data if it is not there yet (idempotent)."""
        with database() as db:
            created = demo.load_demo(db)
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
        role: Role = typer.Option(
            Role.all,
            "--role",
            help="What to serve: switch (/switch/v1, for Kamailio), web (portal, REST and "
            "VoIP.ms APIs), records (/switch/v1 for Kamailio's call records: no evapi) or "
            "all. Run switch, records and web as separate processes in production.",
        ),
        with_worker: bool = typer.Option(
            False, "--with-worker", help="Also deliver notification emails in this process."
        ),
        workers: int = typer.Option(
            1, "--workers", min=1, help="Worker processes (metrics: PROMETHEUS_MULTIPROC_DIR)."
        ),
        nice: int | None = typer.Option(
            None,
            "--nice",
            min=-20,
            max=19,
            help="CPU priority of this server's processes (-20 to 19, higher yields more; below "
            "0 needs root). Default: DIALGATE_WEB_NICE (0) for --role web, unchanged "
            "otherwise.",
        ),
    ) -> None:
        """Serve Dialgate over HTTP (and, with --with-worker, send the outbox's emails)."""
        import uvicorn

        from dialgate.adapters import priority
        from dialgate.entrypoints.cli import ops

        # The role travels in the environment: worker processes build their app from it.
        os.environ["DIALGATE_ROLE"] = role.value
        config.get_settings.cache_clear()
        if nice is None and role is Role.web:
            nice = config.get_settings().web_nice
        if nice:
            # Before any thread or worker process exists: they inherit it.
            try:
                priority.set_process_nice(nice)
            except PermissionError as exc:
                raise typer.BadParameter(str(exc), param_hint="--nice") from None
        ops.prepare_logging()
        ops.prepare_metrics_dir(workers)
        long_running()
        stop = threading.Event()
        worker: threading.Thread | None = None
        if with_worker:
            worker = threading.Thread(
                target=_worker_loop, args=(stop,), name="outbox-worker", daemon=True
            )
            worker.start()
        log.info("dialgate serving", extra={
            "url": f"http://{host}:{port}", "role": role.value, "workers": workers,
            "nice": priority.current(), "gc": gc.isenabled(),
        })
        try:
            uvicorn.run(
                "dialgate.entrypoints.web:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_config=None,  # dialgate.logs formats every line as JSON
                # Forwarded headers are honoured by the app itself, and only from
                # DIALGATE_TRUSTED_PROXIES; uvicorn's own handling would trust loopback.
                proxy_headers=False,
                forwarded_allow_ips="",
            )
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)


def _worker_loop(stop: threading.Event) -> None:
    """The outbox worker beside the web server (``make run``)."""
    from dialgate.adapters.mailer import SmtpMailer
    from dialgate.services import outbox

    with database() as db:
        mailer = SmtpMailer.from_settings(config.get_settings())
        outbox.run_worker(db, mailer, outbox.system_clock, stop)
