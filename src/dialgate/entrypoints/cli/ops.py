"""``dialgate doctor`` (is everything this node needs reachable, and if not, what to fix) and
what ``dialgate serve`` / ``dialgate worker`` prepare before running: JSON logs and the
Prometheus multiprocess directory."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from dialgate import logs
from dialgate.entrypoints.cli.common import console, print_json
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate import config
    from dialgate.config import Settings
    from dialgate.services import uow as unit_of_work
else:  # SQLAlchemy and the settings model load only for the commands that need them
    config = lazy_import("dialgate.config")
    unit_of_work = lazy_import("dialgate.services.uow")

TIMEOUT = 3.0


def prepare_logging() -> None:
    """JSON logs for a long-running command (from the configuration, if it loads)."""
    from pydantic import ValidationError  # imported here: not for every command's start-up

    try:
        settings = config.get_settings()
    except ValidationError:
        logs.configure()
        return
    logs.configure(settings.log_level, settings.log_format, flush_ms=settings.log_flush_ms)


def prepare_metrics_dir(workers: int) -> None:
    """Several worker processes report one view only through a shared directory
    (``PROMETHEUS_MULTIPROC_DIR``). The operator's (systemd: ``/run/dialgate/metrics``) is
    used as given; without one, several workers get a private one, removed at exit. It must be
    in the environment before the workers import ``prometheus_client``: they are new
    processes, so setting it here is enough."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        return
    if workers > 1:
        path = tempfile.mkdtemp(prefix="dialgate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        atexit.register(shutil.rmtree, path, ignore_errors=True)


# -- doctor -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str  # ok | fail | warn | skip
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def check_configuration(settings: Settings) -> list[Check]:
    out = [Check("configuration", "ok", f"environment {settings.environment}")]
    if settings.environment == "production" and settings.secret_key == config.DEV_SECRET_KEY:
        out.append(Check("configuration", "fail", "the development secret key is in use",
                         "set DIALGATE_SECRET_KEY to a private random value"))
    if not settings.metrics_token:
        out.append(Check("metrics", "warn", "/metrics is off (no token)",
                         "set DIALGATE_METRICS_TOKEN and give it to Prometheus"))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        out.append(Check("metrics", "warn", "PROMETHEUS_MULTIPROC_DIR is not set: with several "
                         "workers, `dialgate serve` uses a private directory and the outbox "
                         "worker's counters are not in /metrics",
                         "set PROMETHEUS_MULTIPROC_DIR for serve and worker (systemd units)"))
    return out


def check_database(settings: Settings) -> Check:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    shown = logs.mask(settings.database_url)
    db = unit_of_work.Database(settings.database_url)
    try:
        with db.uow(write=False) as uow:
            uow.session.execute(text("SELECT 1"))
            try:
                current = uow.session.scalar(text("SELECT version_num FROM alembic_version"))
            except SQLAlchemyError:
                current = None
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        return Check("database", "fail", f"{shown}: {logs.mask(detail)}",
                     "start the database or fix DIALGATE_DATABASE_URL (host, port, user, name)")
    finally:
        db.dispose()
    from dialgate.adapters.db import migrate  # Alembic is slow to import; only needed here

    heads = migrate.current_heads(settings.database_url)
    if current is None:
        return Check("database", "fail", f"{shown}: no schema", "run `dialgate db upgrade`")
    if current not in heads:
        return Check("database", "fail", f"{shown}: schema at {current}, code at "
                     f"{', '.join(heads)}", "run `dialgate db upgrade`")
    return Check("database", "ok", f"{shown} (schema {current})")


def check_smtp(settings: Settings) -> Check:
    import smtplib  # only `dialgate doctor` talks SMTP here

    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls()
                smtp.ehlo()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password)
            code, _ = smtp.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, b"NOOP refused")
    except smtplib.SMTPAuthenticationError:
        return Check("smtp", "fail", f"{where}: login refused",
                     "fix DIALGATE_SMTP_USERNAME / DIALGATE_SMTP_PASSWORD")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", "fail", f"{where}: {type(exc).__name__}: {exc}",
                     "start the mail relay or fix DIALGATE_SMTP_HOST / DIALGATE_SMTP_PORT "
                     "(notifications wait in the outbox meanwhile)")
    return Check("smtp", "ok", f"{where} accepts connections")


def check_kamailio(ctl: str | None) -> list[Check]:
    if not ctl:
        return [Check("kamailio", "skip", "no control socket given",
                      "pass --kamailio-ctl /run/kamailio/kamailio_ctl (or DIALGATE_KAMAILIO_CTL)")]
    kamcmd = shutil.which("kamcmd")
    if kamcmd is None:
        return [Check("kamailio", "fail", "kamcmd not found",
                      "install Debian's kamailio package")]
    address = ctl if ":" in ctl else f"unix:{ctl}"
    try:
        done = subprocess.run([kamcmd, "-s", address, "core.version"], capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0 or not done.stdout.strip():
        error = "no answer" if done is None else (done.stderr or done.stdout).strip()[:200]
        return [Check("kamailio", "fail", f"RPC on {address}: {error}",
                      "start Kamailio (systemctl start kamailio) or give the ctl socket path of "
                      "its kamailio.cfg (modparam ctl binrpc)")]
    version = done.stdout.strip()
    checks = [Check("kamailio", "ok", f"RPC on {address}: {version}")]
    if skips_callee_bye(version):
        checks.append(Check(
            "kamailio", "warn",
            f"{version.split('(')[0].strip()} can skip the callee's BYE when it ends a call "
            "itself (maximum duration, RTP time-out, suspension): kamailio/kamailio#4169",
            "upgrade Kamailio to 5.8.6, 6.0.2 or later (docs/deploy-kamailio.md, known issues)"))
    return checks


def skips_callee_bye(version: str) -> bool:
    """Whether this Kamailio (``core.version`` text) has the dialog module's BYE race.

    Before 5.8.6 and 6.0.2, ``dlg_bye_all`` checks the dialog's state again before the callee's
    BYE, and the caller's 200 to the first BYE may already have ended the dialog: the callee
    (often the carrier, still billing) gets no BYE. Fixed upstream by "dialog: enforce second
    bye towards callee" (#4169). An unreadable version is not reported.
    """
    found = re.search(r"\b(\d+)\.(\d+)\.(\d+)", version)
    if found is None:
        return False
    release = tuple(int(part) for part in found.groups())
    if release >= (6, 0, 0):
        return release < (6, 0, 2)
    return release < (5, 8, 6)


def ng_ping(address: str, timeout: float = TIMEOUT) -> str:
    """Send rtpengine's ``ng`` ping (bencoded, over UDP) and return the result word."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    cookie = secrets.token_hex(6).encode()
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                       socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(cookie + b" d7:command4:pinge", (host.strip("[]"), int(port)))
        while True:
            data = sock.recv(65536)
            if data.startswith(cookie + b" "):
                break
    answer = data[len(cookie) + 1:]
    # d6:result4:ponge -> "pong"; anything else is shown as it came.
    return "pong" if answer == b"d6:result4:ponge" else answer.decode("latin-1")[:200]


def check_rtpengine(address: str | None) -> Check:
    if not address:
        return Check("rtpengine", "skip", "no ng address given",
                     "pass --rtpengine 127.0.0.1:2223 (or DIALGATE_RTPENGINE_NG)")
    try:
        answer = ng_ping(address)
    except ValueError as exc:
        return Check("rtpengine", "fail", str(exc), "give the ng address as host:port")
    except OSError as exc:
        return Check("rtpengine", "fail", f"ng ping to {address}: {type(exc).__name__} {exc}",
                     "start rtpengine (systemctl start rtpengine) or fix the address "
                     "(its listen-ng option)")
    if answer != "pong":
        return Check("rtpengine", "fail", f"ng ping to {address} answered {answer!r}",
                     "this address is not rtpengine's ng port")
    return Check("rtpengine", "ok", f"ng ping to {address}: pong")


def run_checks(
    kamailio_ctl: str | None, rtpengine: str | None, settings_loader: Callable[[], Settings]
) -> list[Check]:
    from pydantic import ValidationError  # imported here: not for every command's start-up

    try:
        settings = settings_loader()
    except ValidationError as exc:
        return [
            Check("configuration", "fail",
                  f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}",
                  "fix the DIALGATE_* environment variable named here")
            for error in exc.errors()
        ]
    return [
        *check_configuration(settings),
        check_database(settings),
        check_smtp(settings),
        *check_kamailio(kamailio_ctl or settings.kamailio_ctl),
        check_rtpengine(rtpengine or settings.rtpengine_ng),
    ]


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        kamailio_ctl: str | None = typer.Option(
            None, "--kamailio-ctl", help="Kamailio's ctl socket (path, or kamcmd address)."
        ),
        rtpengine: str | None = typer.Option(
            None, "--rtpengine", help="rtpengine's ng control address, host:port (UDP)."
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Check configuration, database, SMTP, Kamailio RPC and rtpengine; say what to fix.
        Exit status 1 when a check fails (warnings and skipped checks do not)."""
        config.get_settings.cache_clear()
        checks = run_checks(kamailio_ctl, rtpengine, config.get_settings)
        failed = any(check.status == "fail" for check in checks)
        if as_json:
            print_json({"ok": not failed, "checks": [c.to_json() for c in checks]})
        else:
            for check in checks:
                console.print(f"{check.status.upper():<5} {check.name:<14} {check.detail}",
                              markup=False)
                if check.fix and check.status in ("fail", "warn"):
                    console.print(f"      fix: {check.fix}", markup=False)
            console.print("all checks passed" if not failed else "some checks failed",
                          markup=False)
        if failed:
            raise typer.Exit(1)
