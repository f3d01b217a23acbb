"""``dialgate worker``: send the outbox's emails (and the daily balance reminders)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import typer

from dialgate.entrypoints.cli import ops
from dialgate.entrypoints.cli.common import console, database, long_running
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate import config
    from dialgate.adapters import mailer as mailers
    from dialgate.services import outbox
else:
    config = lazy_import("dialgate.config")
    mailers = lazy_import("dialgate.adapters.mailer")
    outbox = lazy_import("dialgate.services.outbox")

log = logging.getLogger("dialgate.worker")


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        once: bool = typer.Option(False, "--once", help="One pass, then exit."),
        interval: float = typer.Option(2.0, "--interval", help="Seconds between passes."),
    ) -> None:
        """Deliver notification emails over SMTP (DIALGATE_SMTP_*), retrying with backoff."""
        mailer = mailers.SmtpMailer.from_settings(config.get_settings())
        with database() as db:
            if once:
                result = outbox.run_once(db, mailer)
                console.print(
                    f"sent {result.sent}, failed {result.failed}, reminders {result.reminders}",
                    markup=False,
                )
                return
            stop = threading.Event()

            def _stop(_signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            ops.prepare_logging()
            long_running()
            log.info("outbox worker running", extra={"interval_s": interval})
            outbox.run_worker(db, mailer, outbox.system_clock, stop, poll_interval=interval)
            log.info("outbox worker stopped")
