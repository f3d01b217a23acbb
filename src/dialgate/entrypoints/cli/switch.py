"""``dialgate switch kamailio-config`` and ``dialgate switch asterisk-pjsip``: the SIP layer's
configuration, generated from Dialgate's settings (registered in the ``switch`` group of
``cli/apikeys.py``, beside ``switch token``)."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy import select

from dialgate.adapters.db.models import SubscriberRow
from dialgate.config import get_settings
from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.cli.common import err_console, uow
from dialgate.entrypoints.switch.asterisk import render_pjsip
from dialgate.entrypoints.switch.kamailio import render_kamailio_config, render_tls_config
from dialgate.services import accounts, apikeys


def _invalid(field: str, exc: ValueError) -> ValidationFailed:
    return ValidationFailed.single(field, "invalid_option", str(exc))


def register(switch_app: typer.Typer) -> None:
    @switch_app.command("kamailio-config")
    def kamailio_config(
        pop: str = typer.Option(..., "--pop", help="This POP's name (e.g. montreal1)."),
        listen: str = typer.Option("127.0.0.1", "--listen", help="Address to listen on."),
        port: int = typer.Option(5060, "--port", help="UDP/TCP SIP port."),
        carrier_value: str = typer.Option(
            ..., "--carrier-value", help="SIP URI of the value-route carrier (also forwards)."
        ),
        carrier_premium: str | None = typer.Option(
            None, "--carrier-premium", help="Premium carrier URI (default: the value one)."
        ),
        carrier_tollfree_us: str | None = typer.Option(
            None, "--carrier-tollfree-us", help="American toll-free carrier (default: value)."
        ),
        carrier_tollfree_ca: str | None = typer.Option(
            None, "--carrier-tollfree-ca", help="Canadian toll-free carrier (default: value)."
        ),
        carrier_emergency: str | None = typer.Option(
            None, "--carrier-emergency", help="911 carrier (default: value)."
        ),
        carrier_source: list[str] = typer.Option(
            [], "--carrier-source", help="Extra carrier source ip[:port] (inbound); repeat."
        ),
        media_server: str | None = typer.Option(
            None, "--media-server", help="SIP URI of the POP's voicemail/IVR/queue server."
        ),
        tls_cert: Path | None = typer.Option(None, "--tls-cert", help="PEM certificate."),
        tls_key: Path | None = typer.Option(None, "--tls-key", help="PEM private key."),
        tls_port: int = typer.Option(5061, "--tls-port"),
        switch_url: str = typer.Option(
            "http://127.0.0.1:8000", "--switch-url", help="Dialgate's base URL for this POP."
        ),
        token: str | None = typer.Option(
            None,
            "--token",
            help="Switch token; without it a new one named kamailio-<pop> is created.",
        ),
        rundir: Path = typer.Option(Path("/run/kamailio"), "--rundir"),
        children: int = typer.Option(4, "--children", help="SIP worker processes."),
        async_workers: int = typer.Option(
            8, "--async-workers", help="Processes that wait on Dialgate (size: cps x p99)."
        ),
        http_timeout: int = typer.Option(1, "--http-timeout", help="Whole seconds."),
        registrations: str | None = typer.Option(
            None,
            "--registrations",
            help="memory, database (survive restarts) or shared (all nodes of the POP); "
            "default: database on PostgreSQL, memory on SQLite.",
        ),
        server_id: int = typer.Option(
            1, "--server-id", help="This node's number among the POP's Kamailio nodes."
        ),
        rpc_listen: str | None = typer.Option(
            None, "--rpc", help="udp:HOST:PORT for Kamailio's JSON-RPC (DIALGATE_KAMAILIO_RPC)."
        ),
        pike_density: int = typer.Option(
            30, "--pike-density", help="Requests per 2 s from one address; 0 = no limit."
        ),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="Write here (and tls.cfg beside it); else stdout."
        ),
    ) -> None:
        """Write kamailio.cfg for one POP (database URL from DIALGATE_DATABASE_URL)."""
        settings = get_settings()
        if (tls_cert is None) != (tls_key is None):
            raise ValidationFailed.single("tls", "invalid_option", "give --tls-cert and --tls-key")
        if tls_cert is not None and output is None:
            raise ValidationFailed.single(
                "output", "required", "TLS needs --output (tls.cfg is written beside it)"
            )
        carriers = {
            "value": carrier_value,
            "premium": carrier_premium or carrier_value,
            "tollfree_us": carrier_tollfree_us or carrier_value,
            "tollfree_ca": carrier_tollfree_ca or carrier_value,
            "emergency": carrier_emergency or carrier_value,
        }
        rundir = rundir.absolute()
        tls_path = (output.absolute().parent / "tls.cfg") if output is not None else None
        created = None
        # The new token (if any) is committed only once every option proved valid.
        with uow() as unit:
            if token is None:
                created, token = apikeys.create_switch_token(unit, name=f"kamailio-{pop}")
            try:
                text = render_kamailio_config(
                    pop=pop,
                    listen=listen,
                    port=port,
                    db_url=settings.database_url,
                    switch_url=switch_url,
                    switch_token=token,
                    realm=settings.sip_realm,
                    carriers=carriers,
                    carrier_sources=carrier_source,
                    media_server=media_server,
                    ctl_socket=str(rundir / "kamailio_ctl"),
                    rundir=str(rundir),
                    children=children,
                    async_workers=async_workers,
                    http_timeout_s=http_timeout,
                    registrations=registrations,
                    server_id=server_id,
                    rpc_listen=rpc_listen,
                    pike_density=pike_density or None,
                    tls_cert=str(tls_cert.absolute()) if tls_cert else None,
                    tls_key=str(tls_key.absolute()) if tls_key else None,
                    tls_port=tls_port,
                    tls_config_path=str(tls_path) if tls_path else "tls.cfg",
                )
            except ValueError as exc:
                raise _invalid("option", exc) from None
            unit.commit()
        if created is not None:
            err_console.print(f"created switch token {created.id} for POP {pop}", markup=False)
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text)
        output.chmod(0o600)  # it holds the switch token and maybe a database password
        if tls_cert is not None and tls_key is not None and tls_path is not None:
            cert, key = str(tls_cert.absolute()), str(tls_key.absolute())
            tls_path.write_text(render_tls_config(tls_cert=cert, tls_key=key))
        err_console.print(f"wrote {output}", markup=False)

    @switch_app.command("asterisk-pjsip")
    def asterisk_pjsip(account: str) -> None:
        """Print pjsip.conf endpoint, aor and auth sections for 100000 or 100000_office."""
        realm = get_settings().sip_realm
        with uow(write=False) as unit:
            view = accounts.show_settings(unit, account)
            ha1 = unit.session.scalars(
                select(SubscriberRow.ha1).where(
                    SubscriberRow.username == account, SubscriberRow.domain == realm
                )
            ).first()
        values = {**view.values, "sip_password_ha1": ha1 or ""}
        try:
            text = render_pjsip(account, values, realm)
        except ValueError as exc:
            raise _invalid("account", exc) from None
        typer.echo(text, nl=False)
