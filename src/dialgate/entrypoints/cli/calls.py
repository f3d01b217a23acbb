"""``dialgate rates import|show`` and ``dialgate authorize``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from dialgate.domain.errors import ValidationFailed
from dialgate.domain.policy import AuthorizeRequest, Decision
from dialgate.domain.rating import parse_deck_csv
from dialgate.entrypoints.cli.common import console, database, print_json, uow
from dialgate.services import rates
from dialgate.services.authorize import PolicyCache, authorize_call


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
        """Replace a route's deck from a CSV (prefix,destination,rate[,increment]); atomic."""
        if not file.is_file():
            raise ValidationFailed.single("file", "not_found", f"no such file: {file}")
        with file.open(encoding="utf-8", newline="") as fh:
            parsed = parse_deck_csv(fh)
        with (
            Progress(
                TextColumn("importing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            ) as progress,
            uow() as unit,
        ):
            task = progress.add_task(route, total=len(parsed))
            count = rates.replace_deck(
                unit, route, parsed, progress=lambda n: progress.update(task, completed=n)
            )
            unit.commit()
        console.print(f"{route} deck replaced: {count} rates", markup=False)

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
        }
        if as_json:
            print_json(data)
        else:
            console.print(
                f"{rate.prefix} {rate.destination}: ${rate.per_minute}/min, "
                f"{rate.increment_s} s increment on {route}",
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
        request = AuthorizeRequest.checked(
            account=account,
            dialed=dialed,
            source_ip=ip,
            pop=pop,
            caller_id=caller_id,
            transport="tls" if tls else "udp",
            srtp=srtp,
        )
        with database() as db:
            decision = authorize_call(PolicyCache(db), request)
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

        raise typer.Exit(bench_main(["--seconds", str(seconds), *(["--json"] if as_json else [])]))

    app.add_typer(bench_app, name="bench")
