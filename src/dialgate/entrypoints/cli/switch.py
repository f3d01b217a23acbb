"""``dialgate switch kamailio-config`` and ``dialgate switch asterisk-pjsip``: the SIP layer's
configuration, generated from Dialgate's settings (registered in the ``switch`` group of
``cli/apikeys.py``, beside ``switch token``)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dialgate.domain.errors import ValidationFailed
from dialgate.entrypoints.cli.common import database, err_console, long_running
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate import config
    from dialgate.adapters import kamailio_rpc as kam_rpc
    from dialgate.adapters import moh_audio, rtpengine_ng
    from dialgate.entrypoints.switch import asterisk, kamailio
    from dialgate.entrypoints.switch import rtpengine as rtpengine_conf
    from dialgate.services import accounts, apikeys, subscribers
    from dialgate.services import media_watch as watcher
else:
    config = lazy_import("dialgate.config")
    kam_rpc = lazy_import("dialgate.adapters.kamailio_rpc")
    moh_audio = lazy_import("dialgate.adapters.moh_audio")
    rtpengine_ng = lazy_import("dialgate.adapters.rtpengine_ng")
    asterisk = lazy_import("dialgate.entrypoints.switch.asterisk")
    kamailio = lazy_import("dialgate.entrypoints.switch.kamailio")
    rtpengine_conf = lazy_import("dialgate.entrypoints.switch.rtpengine")
    accounts = lazy_import("dialgate.services.accounts")
    apikeys = lazy_import("dialgate.services.apikeys")
    subscribers = lazy_import("dialgate.services.subscribers")
    watcher = lazy_import("dialgate.services.media_watch")


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
        records_url: str | None = typer.Option(
            None,
            "--records-url",
            help="Where call records go (default: --switch-url): a second switch-role "
            "Dialgate at a lower CPU priority, so recording never delays a decision.",
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
        dialogs: str = typer.Option(
            "memory",
            "--dialogs",
            help="memory, or database: calls in progress and undelivered call records "
            "survive a Kamailio restart (one Kamailio node per database).",
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
        rtpengine: list[str] = typer.Option(
            [],
            "--rtpengine",
            help="rtpengine ng socket udp:HOST:PORT[=WEIGHT]; repeat for several. Without "
            "one, media is not anchored and NAT/SRTP/codec/RTP time-out rules do not apply.",
        ),
        moh_dir: Path | None = typer.Option(
            None, "--moh-dir", help="Music-on-hold WAV files (default: the ones shipped)."
        ),
        metrics_port: int = typer.Option(
            0, "--metrics-port", help="TCP port for Prometheus (xhttp_prom); 0 = none."
        ),
        metrics_listen: str = typer.Option(
            "127.0.0.1", "--metrics-listen", help="Address of the metrics port."
        ),
        transport: str | None = typer.Option(
            None,
            "--transport",
            help="How Kamailio asks for each call's decision: evapi (the default; persistent TCP "
            "connection that Dialgate opens to --evapi-listen; set DIALGATE_SWITCH_EVAPI) "
            "or http (POST /switch/v1/authorize, --http-timeout).",
        ),
        authorize_timeout_ms: int = typer.Option(
            800, "--authorize-timeout-ms", help="evapi: no answer by then -> SIP 503."
        ),
        evapi_listen: str = typer.Option(
            "127.0.0.1:8448", "--evapi-listen", help="evapi: IP:PORT Dialgate connects to."
        ),
        evapi_peer: list[str] = typer.Option(
            [],
            "--evapi-peer",
            help="evapi: IP allowed to connect (repeat; default: the --switch-url host).",
        ),
        decision: str = typer.Option(
            "dialgate",
            "--decision",
            help="dialgate (production) or fixed: answer every call from a fixed table "
            "without asking Dialgate (benchmark baseline only).",
        ),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="Write here (and tls.cfg beside it); else stdout."
        ),
    ) -> None:
        """Write kamailio.cfg for one POP (database URL from DIALGATE_DATABASE_URL)."""
        settings = config.get_settings()
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

        def render(switch_token: str) -> str:
            try:
                return kamailio.render_kamailio_config(
                    pop=pop,
                    listen=listen,
                    port=port,
                    db_url=settings.database_url,
                    switch_url=switch_url,
                    switch_token=switch_token,
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
                    dialogs=dialogs,
                    rpc_listen=rpc_listen,
                    pike_density=pike_density or None,
                    tls_cert=str(tls_cert.absolute()) if tls_cert else None,
                    tls_key=str(tls_key.absolute()) if tls_key else None,
                    tls_port=tls_port,
                    tls_config_path=str(tls_path) if tls_path else "tls.cfg",
                    rtpengines=rtpengine,
                    moh_dir=str((moh_dir or moh_audio.shipped_moh_dir()).absolute()),
                    metrics_port=metrics_port or None,
                    metrics_listen=metrics_listen,
                    decision=decision,
                    transport=transport or "",
                    authorize_timeout_ms=authorize_timeout_ms,
                    evapi_listen=evapi_listen,
                    evapi_peers=evapi_peer or None,
                    records_url=records_url,
                )
            except ValueError as exc:
                raise _invalid("option", exc) from None

        created = None
        with database() as db:
            if token is None:
                # A new token is kept only if the config renders (every option proved valid).
                created, token, text = apikeys.create_switch_token_for(
                    db, name=f"kamailio-{pop}", use=render
                )
            else:
                text = render(token)
        if created is not None:
            err_console.print(f"created switch token {created.id} for POP {pop}", markup=False)
        if not rtpengine:
            err_console.print(
                "warning: no --rtpengine: calls are not anchored, so NAT, SRTP, codec, DTMF "
                "and RTP time-out rules are not enforced",
                markup=False,
            )
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text)
        output.chmod(0o600)  # it holds the switch token and maybe a database password
        if tls_cert is not None and tls_key is not None and tls_path is not None:
            cert, key = str(tls_cert.absolute()), str(tls_key.absolute())
            tls_path.write_text(kamailio.render_tls_config(tls_cert=cert, tls_key=key))
        err_console.print(f"wrote {output}", markup=False)

    @switch_app.command("rtpengine-config")
    def rtpengine_config(
        interface: list[str] = typer.Option(
            ...,
            "--interface",
            help="Address devices and carriers send RTP to: IP, NAME/IP or NAME/IP!PUBLIC_IP "
            "(behind 1:1 NAT); repeat for several.",
        ),
        listen_ng: str = typer.Option(
            "127.0.0.1:2223", "--listen-ng", help="Control socket Kamailio uses (--rtpengine)."
        ),
        port_min: int = typer.Option(30000, "--port-min", help="Lowest RTP port."),
        port_max: int = typer.Option(40000, "--port-max", help="Highest RTP port."),
        log_level: int = typer.Option(5, "--log-level", help="0..7 (syslog levels)."),
        kernel: bool = typer.Option(
            False, "--kernel", help="Forward in the kernel module; refuse to start without it."
        ),
        output: Path | None = typer.Option(None, "--output", "-o", help="Else stdout."),
    ) -> None:
        """Write rtpengine.conf for one POP's media relay (pair it with kamailio-config
        --rtpengine udp:<listen-ng>)."""
        try:
            text = rtpengine_conf.render_rtpengine_config(
                interfaces=interface,
                listen_ng=listen_ng,
                port_min=port_min,
                port_max=port_max,
                log_level=log_level,
                kernel=kernel,
            )
        except ValueError as exc:
            raise _invalid("option", exc) from None
        if output is None:
            typer.echo(text, nl=False)
            return
        output.write_text(text)
        err_console.print(f"wrote {output}", markup=False)

    @switch_app.command("media-watch")
    def media_watch(
        kamailio_rpc: Path = typer.Option(
            Path("/run/kamailio/kamailio_rpc.sock"),
            "--kamailio-rpc",
            help="Kamailio's JSON-RPC datagram socket (kamailio-config puts it in --rundir).",
        ),
        rtpengine: list[str] = typer.Option(
            ..., "--rtpengine", help="Each rtpengine ng socket of the POP (udp:HOST:PORT)."
        ),
        interval: float = typer.Option(
            0.5, "--interval", help="Seconds between checks (0.1..10)."
        ),
    ) -> None:
        """End calls whose media stopped for longer than their account's RTP time-out (the
        hold time-out while on hold). Runs until SIGTERM; one per Kamailio node."""
        if not 0.1 <= interval <= 10:
            raise ValidationFailed.single("interval", "out_of_range", "must be 0.1..10 seconds")
        try:
            relays = [rtpengine_ng.NgClient(sock) for sock in rtpengine]
        except ValueError as exc:
            raise _invalid("rtpengine", exc) from None
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        rpc = kam_rpc.KamailioRpc(str(kamailio_rpc))
        long_running()
        try:
            watcher.MediaWatcher(rpc, relays).run(interval, stop.wait)
        finally:
            rpc.close()
            for relay in relays:
                relay.close()

    @switch_app.command("moh-files")
    def moh_files(directory: Path) -> None:
        """Write the music-on-hold files (one WAV per class, generated) into DIRECTORY."""
        for path in moh_audio.write_moh_files(directory):
            err_console.print(f"wrote {path}", markup=False)

    @switch_app.command("asterisk-pjsip")
    def asterisk_pjsip(account: str) -> None:
        """Print pjsip.conf endpoint, aor and auth sections for 100000 or 100000_office."""
        with database() as db:
            view = accounts.show_settings(db, account)
            ha1 = subscribers.ha1_of(db, account)
            realm = db.realm
        values = {**view.values, "sip_password_ha1": ha1 or ""}
        try:
            text = asterisk.render_pjsip(account, values, realm)
        except ValueError as exc:
            raise _invalid("account", exc) from None
        typer.echo(text, nl=False)
