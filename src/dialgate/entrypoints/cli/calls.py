"""``dialgate rates import|show|versions|rollback`` and ``dialgate authorize``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.domain.errors import ValidationFailed
from dialgate.domain.rating import ROUTES
from dialgate.entrypoints.cli.common import (
    console,
    database,
    long_running,
    print_json,
    uow,
)
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.adapters import rate_files
    from dialgate.domain import deck_csv, policy
    from dialgate.domain.policy import Decision
    from dialgate.services import authorize as authorize_service
    from dialgate.services import rates
else:
    rate_files = lazy_import("dialgate.adapters.rate_files")
    deck_csv = lazy_import("dialgate.domain.deck_csv")
    policy = lazy_import("dialgate.domain.policy")
    authorize_service = lazy_import("dialgate.services.authorize")
    rates = lazy_import("dialgate.services.rates")


def cli_actor() -> str:
    """Who ran the command, for deck versions and their audit."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no user name in the environment nor the password database
        return "cli"


def print_decision(decision: Decision) -> None:
    verdict = "[green]ALLOWED[/]" if decision.allow else "[red]DENIED[/]"
    console.print(f"{verdict} {decision.sip_code} {decision.reason}: {decision.message}")
    data = decision.to_json()
    table = Table(show_header=False)
    dest = data["destination"] or {}
    for label, value in (
        ("destination", f"{dest.get('e164') or ''} {dest.get('name') or ''}".strip()),
        ("class", dest.get("class")),
        ("country", dest.get("country")),
        ("action", data["action"]),
        ("route", data["route"]),
        ("carrier", data["carrier"]),
        ("rate/min", data["rate_per_minute"]),
        ("increment (s)", data["increment_s"]),
        ("flat fee", data["flat_fee"]),
        ("max duration (s)", data["max_duration_s"]),
        ("caller ID", data["caller_id"]),
        ("caller ID guaranteed", data["caller_id_guaranteed"]),
        ("mailbox", data["mailbox"]),
        ("music on hold", data["moh_class"]),
    ):
        if value not in (None, ""):
            table.add_row(label, str(value))
    console.print(table)
    trace = Table("step", "outcome", "detail", title="trace")
    for step in data["trace"]:
        trace.add_row(step["step"], step["outcome"], step["detail"])
    console.print(trace)


def register(app: typer.Typer) -> None:
    rates_app = typer.Typer(help="Rate decks (value and premium routes).", no_args_is_help=True)

    @rates_app.command("import")
    def import_(route: str, file: Path) -> None:
        """Replace a route's deck from a CSV or .csv.gz (prefix,destination,rate[,increment]
        in any order, "," or ";"); a new deck version, atomic."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        if route not in ROUTES:
            raise ValidationFailed.single(
                "route", "invalid_choice", f"must be one of {', '.join(ROUTES)}; got {route!r}"
            )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"reading {file.name}", total=None)
            lines = rate_files.read_deck_lines(file)
            progress.update(task, description=f"checking {route}", total=len(lines))
            columns = deck_csv.parse_deck(
                lines, progress=lambda n: progress.update(task, completed=n)
            )
            del lines
            with database() as db:
                version = rates.import_deck(
                    db, route, columns, actor=cli_actor(), source=file.name,
                    progress=lambda phase: progress.update(task, description=f"{phase} {route}"),
                )
        console.print(f"{route} deck replaced: {version.rows} rates", markup=False)
        console.print(
            f"version {version.version}, sha256 {version.checksum[:16]}", markup=False
        )

    @rates_app.command("versions")
    def versions(route: str, as_json: bool = typer.Option(False, "--json")) -> None:
        """A route's deck versions, newest first (* marks the live one)."""
        with uow(write=False) as unit:
            found = rates.versions(unit, route)
        if as_json:
            print_json([v.to_json() for v in found])
            return
        table = Table("", "version", "rows", "sha256", "by", "at", "file")
        for v in found:
            table.add_row(
                "*" if v.live else ("" if v.stored else "-"), str(v.version), str(v.rows),
                v.checksum[:16], v.actor, v.created_at.strftime("%Y-%m-%d %H:%M:%S"), v.source,
            )
        console.print(table)

    @rates_app.command("rollback")
    def rollback(route: str, version: int) -> None:
        """Make an older deck version live again (one step; audited)."""
        with database() as db:
            live = rates.rollback(db, route, version, actor=cli_actor())
        console.print(
            f"{route} deck rolled back to version {live.version}: {live.rows} rates", markup=False
        )

    @rates_app.command("show")
    def show(
        route: str, prefix_or_number: str, as_json: bool = typer.Option(False, "--json")
    ) -> None:
        """The rate a number or prefix gets on a route (longest matching prefix)."""
        with uow(write=False) as unit:
            rate = rates.lookup(unit, route, prefix_or_number)
        if rate is None:
            raise ValidationFailed.single(
                "number", "no_rate", f"no rate on the {route} route for {prefix_or_number}"
            )
        data = {
            "route": route,
            "prefix": rate.prefix,
            "destination": rate.destination,
            "rate_per_minute": str(rate.per_minute),
            "increment_s": rate.increment_s,
            "initial_increment_s": rate.initial_s or rate.increment_s,
        }
        increments = f"{rate.initial_s}/{rate.increment_s}" if rate.initial_s else rate.increment_s
        if as_json:
            print_json(data)
        else:
            console.print(
                f"{rate.prefix} {rate.destination}: ${rate.per_minute}/min, "
                f"{increments} s increment on {route}",
                markup=False,
            )

    app.add_typer(rates_app, name="rates")

    @app.command("authorize")
    def authorize(
        account: str,
        dialed: str,
        ip: str | None = typer.Option(None, "--ip", help="Source IP of the call."),
        pop: str | None = typer.Option(None, "--pop", help="POP the call comes through."),
        caller_id: str | None = typer.Option(None, "--caller-id", help="The device's caller ID."),
        tls: bool = typer.Option(False, "--tls", help="The call came over SIP-TLS."),
        srtp: bool = typer.Option(False, "--srtp", help="The SDP offers SRTP."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The decision the SIP server would get for this call (exit 0 allowed or denied)."""
        request = policy.AuthorizeRequest.checked(
            account=account,
            dialed=dialed,
            source_ip=ip,
            pop=pop,
            caller_id=caller_id,
            transport="tls" if tls else "udp",
            srtp=srtp,
        )
        with database() as db:
            cache = authorize_service.PolicyCache(db)
            decision = authorize_service.authorize_call(cache, request)
        if as_json:
            print_json(decision.to_json())
        else:
            print_decision(decision)

    bench_app = typer.Typer(help="Benchmarks (not part of the test suite).", no_args_is_help=True)

    @bench_app.command("authorize")
    def bench_authorize(
        seconds: float = typer.Option(2.0, "--seconds", help="Measuring time per side."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """In-process decisions/s and latency, Dialgate against the phonenumbers baseline."""
        from dialgate.bench.authorize import main as bench_main

        long_running()  # measured as a server runs: with the cyclic collector
        raise typer.Exit(bench_main(["--seconds", str(seconds), *(["--json"] if as_json else [])]))

    app.add_typer(bench_app, name="bench")
