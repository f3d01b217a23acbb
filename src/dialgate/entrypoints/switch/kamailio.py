"""Render a complete ``kamailio.cfg`` (and its ``tls.cfg``) for one POP.

The template lives in ``templates/kamailio.cfg.j2``; this module validates and normalises what
goes into it, because a typo in a generated Kamailio config only shows up at start-up, on the
POP, at 3 a.m. Everything Kamailio sends to and reads from Dialgate is documented in
``SWITCH_CONTRACT`` below so the HTTP side can be checked against it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.engine import make_url

from dialgate.domain import settings as settings_registry
from dialgate.domain.media import CARRIER_LEG

# Where Kamailio keeps registrations: its memory only; written through to the shared
# `location` table (survive a restart); or only in that table (every node of a POP sees them).
REGISTRATION_MODES = ("memory", "database", "shared")
# Where a node keeps its calls in progress: "database" survives a restart (one node per
# database: Kamailio 5.6's dialog module loads every row of its table, whichever node wrote it).
DIALOG_MODES = ("memory", "database")
CARRIER_KEYS = ("value", "premium", "tollfree_us", "tollfree_ca", "emergency")
MODULE_PATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
_RPC_RE = re.compile(r"^udp:(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$")

# Token characters that survive inside a curl user:password URL without escaping (Kamailio
# does not URL-decode httpcon credentials).
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~-]{8,256}$")
_POP_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SIP_URI_RE = re.compile(r"^sips?:[A-Za-z0-9.\-\[\]:]+(;[A-Za-z0-9=._-]+)*$")
_REALM_RE = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
# An rtpengine control socket as the Kamailio module takes it, with an optional weight.
_RTPENGINE_RE = re.compile(r"^udp6?:[A-Za-z0-9.\-\[\]:]+:\d{1,5}(=\d{1,3})?$")

SWITCH_CONTRACT = """\
Every request: Authorization: Basic base64("kamailio:<switch token>") (or Bearer <token>).
Unknown request fields are ignored by Dialgate; bad ones get a 422 problem+json.

POST /switch/v1/authorize
  request  {account, dialed, source_ip, pop, caller_id, transport: udp|tcp|tls, srtp: bool,
            call_id, trace: false, leg: device|forward}
            leg "forward": a DID call sent on to a forwarding's number (account = the DID's
            owner, caller_id = the forwarding's override or the original caller); a REFER
            from a device is asked about as that device's call to the Refer-To user
  response read: allow, sip_code, message (deny); action, route, carrier,
            destination.e164, caller_id, max_duration_s, rate_per_minute, increment_s,
            flat_fee, mailbox, moh_class, sip.media.{anchor, device_offer, device_answer,
            carrier_offer, carrier_answer} (rtpengine flags), sip.rtp_timeout,
            sip.rtp_hold_timeout, sip.music_on_hold
            (decoded once with jansson_xdecode; nested objects are read from their JSON)
  HTTP error or timeout -> SIP 503 "Call Authorization Unavailable"
  transport evapi (the default for device INVITEs): the same request and answer JSON as
            netstrings on the connection Dialgate opens to Kamailio's evapi socket:
            "<t_index>:<t_label>:<switch token>:<request>" -> "<t_index>:<t_label>:<answer>";
            no answer within authorize_timeout_ms -> SIP 503 (same reason), late answers
            dropped; a request Dialgate cannot decide gets {allow: false, sip_code: 503}
POST /switch/v1/inbound
  request  {did, event: new|busy|unreachable|noanswer, chain: "<opaque>", caller_id,
            call_id, source_ip, pop}
  response read: kind (account|voicemail|forward|ivr|queue|ring_group|time_condition|
            system_action|none), value, sip_user (account), forward_number and
            forward_callerid, forward_diversion (forward: E.164 number, caller ID
            override or "", "1" to add a Diversion header naming the DID),
            mailbox (voicemail), system_action (hangup|busy|noservice|disconnected|echo),
            dial_time, chain; account and did (the DID's owner and number, for the call
            record: read from the first answer); sip (kind account: the target account's
            SIP settings, as in the authorize answer; null otherwise)
  `chain` is the comma-joined list of routes tried so far, written by Dialgate; Kamailio
  keeps it in $avp(in_chain) and sends it back unchanged with the next event, which is how
  Dialgate detects loops (A -> B -> A) without call state. Target URIs are built here, per
  POP: account -> the registered contact (lookup); forward -> first POST /switch/v1/authorize
  (leg forward): denied -> the next failover as "unreachable" (or, at the chain's end, the
  decision's SIP code); allowed -> sip:<destination.e164>@<the decided carrier> with the
  decided caller ID and max duration, and an outbound record (call_id "<Call-ID>/fwd",
  charged) besides the inbound one when it is answered; voicemail, ivr, queue, ring_group,
  time_condition -> sip:<kind>-<value>@<media server> with X-Dialgate-Target / -Value /
  -Did / -Mailbox headers.
  HTTP 404/422 -> SIP 404; other errors -> SIP 503 "Inbound Routing Unavailable"
POST /switch/v1/cdrs
  request  [ record, ... ]  (up to 500; Kamailio sends up to cdr_batch)
    outbound {call_id, account, direction: "outbound" (or left out), dialed, started_at,
            answered_at|null, ended_at, disposition: answered|busy|noanswer|failed,
            route|null, rate_per_minute, increment_s, flat_fee,
            end_reason: hangup|max_duration|rtp_timeout (answered calls)}
    inbound  {call_id, account (the DID's owner), direction: "inbound", did (its digits),
            caller_id|null (the From user the carrier sent), started_at, answered_at|null,
            ended_at, disposition}: never charged, so no route, rate or fee (refused if
            non-zero). One per call: answered -> at dialog end; otherwise when the failover
            chain ends (Kamailio's own reply: busy for a busy leg or the busy action,
            noanswer for an unanswered leg or a caller who gave up, failed otherwise).
  response read: rejected[] (logged as CDR_REJECTED); non-2xx -> the batch is retried, then
            logged record by record as CDR_LOST. /switch/v1/cdr takes one record.
"""


def kamailio_db_url(url: str) -> str:
    """Turn a SQLAlchemy URL into the form Kamailio's db modules take.

    Kamailio picks the module from the scheme (``postgres`` -> db_postgres), so
    ``postgresql+psycopg://`` must become ``postgres://``; SQLite paths must be absolute
    because Kamailio resolves them from its own working directory.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("Kamailio needs an SQLite database file, not an in-memory one")
        return "sqlite://" + str(Path(parsed.database).resolve())
    if backend == "postgresql":
        auth = ""
        if parsed.username:
            auth = quote(parsed.username, safe="")
            if parsed.password:
                auth += ":" + quote(str(parsed.password), safe="")
            auth += "@"
        host = parsed.host or "127.0.0.1"
        port = f":{parsed.port}" if parsed.port else ""
        return f"postgres://{auth}{host}{port}/{parsed.database or ''}"
    raise ValueError(f"unsupported database for Kamailio: {backend}")


def _db_module(kam_url: str) -> str:
    return "db_sqlite" if kam_url.startswith("sqlite:") else "db_postgres"


def _switch_con_url(switch_url: str, token: str, field: str = "switch_url") -> str:
    parts = urlsplit(switch_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field} must be an http(s) URL, got {switch_url!r}")
    if not _TOKEN_RE.match(token):
        raise ValueError("switch_token must be 8-256 characters of A-Z a-z 0-9 . _ ~ -")
    port = f":{parts.port}" if parts.port else ""
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://kamailio:{token}@{parts.hostname}{port}{path}"


def _hostport(uri: str) -> str:
    """``sip:host[:port][;params]`` -> ``host[:port]`` (the part after a user's ``@``)."""
    return uri.split(":", 1)[1].split(";", 1)[0]


def _carrier_sources(carriers: Mapping[str, str], extra: Sequence[str]) -> list[str]:
    """Source addresses recognised as carriers: each carrier URI's host (with its port when the
    URI names one, so a carrier on a shared IP is told apart by port) plus ``extra``."""
    sources: list[str] = []
    for uri in carriers.values():
        hostport = uri.split(":", 1)[1].split(";", 1)[0]
        sources.append(hostport)
    for source in extra:
        if not re.match(r"^[0-9a-fA-F.:\[\]]+$", source):
            raise ValueError(f"carrier source must be ip or ip:port, got {source!r}")
        sources.append(source)
    return sorted(set(sources))


def render_kamailio_config(
    *,
    pop: str,
    listen: str,
    db_url: str,
    switch_url: str,
    switch_token: str,
    realm: str,
    carriers: Mapping[str, str],
    ctl_socket: str,
    rundir: str,
    async_workers: int = 8,
    http_timeout_s: int = 1,
    port: int = 5060,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_port: int = 5061,
    tls_config_path: str = "tls.cfg",
    media_server: str | None = None,
    carrier_sources: Sequence[str] = (),
    children: int = 4,
    cdr_queue_size: int = 100_000,
    pike_density: int | None = 30,
    aliases: Sequence[str] = (),
    bare: bool = False,
    debug: int = 2,
    log_stderror: bool = True,
    fr_timer_ms: int = 5000,
    default_dial_time_s: int = 60,
    inbound_max_hops: int = 8,
    cdr_retries: int = 3,
    cdr_retry_delay_ms: int = 200,
    cdr_batch: int = 50,
    registrations: str | None = None,
    dialogs: str = "memory",
    server_id: int = 1,
    rtpengines: Sequence[str] = (),
    moh_dir: str | None = None,
    rpc_socket: str | None = None,
    rpc_listen: str | None = None,
    rtpengine_disable_s: int = 5,
    rtpengine_timeout_ms: int = 500,
    metrics_port: int | None = None,
    metrics_listen: str = "127.0.0.1",
    decision: str = "dialgate",
    fixed_answers: Mapping[str, str] | None = None,
    transport: str = "",
    authorize_timeout_ms: int = 800,
    evapi_listen: str = "127.0.0.1:8448",
    evapi_peers: Sequence[str] | None = None,
    evapi_workers: int = 4,
    records_url: str | None = None,
) -> str:
    """Return the text of ``kamailio.cfg`` for one POP.

    ``carriers`` maps ``value``, ``premium``, ``tollfree_us``, ``tollfree_ca`` and optionally
    ``emergency`` to SIP URIs. ``http_timeout_s`` is whole seconds (Kamailio 5.6's
    http_client knows no finer unit). ``bare`` answers device INVITEs without asking Dialgate
    (benchmark baseline). ``pike_density=None`` turns flood limiting off (load tests from one
    address). ``registrations`` is one of ``REGISTRATION_MODES`` (default: ``database`` on
    PostgreSQL, ``memory`` on SQLite); ``server_id`` numbers this node among a POP's nodes.
    ``rundir`` is where Kamailio keeps its runtime files (``-Y``); it is checked here so the
    ctl socket lands somewhere writable. ``rtpengines`` are the POP's media relays
    (``udp:127.0.0.1:2223``, optionally ``=weight``); with none, calls are not anchored and the
    media rules (NAT, SRTP, codecs, DTMF, RTP time-outs, music on hold) do not apply.
    ``moh_dir`` holds one ``<class>.wav`` per music-on-hold class (``dialgate switch
    moh-files``). Kamailio's JSON-RPC listens on ``rpc_listen`` (``udp:HOST:PORT``, for a
    Dialgate on another host: suspensions end calls, the media watcher reads dialogs) or else,
    with media, on the Unix socket ``rpc_socket`` (default: in ``rundir``).
    ``dialogs="database"`` keeps the calls in progress and the undelivered call records in the
    database across a restart (``DIALOG_MODES``; one node per database).
    ``metrics_port`` (with ``metrics_listen``) serves Kamailio's statistics to Prometheus
    (xhttp_prom) on a TCP socket of its own.
    ``decision="fixed"`` (benchmarks only: the ``relay`` baseline) never asks Dialgate for the
    decision: route[AUTHORIZE] reads the answer JSON from ``fixed_answers`` (keys
    ``<account>_<dialed>``, plus ``default`` for everything else) and does the rest exactly as
    in production, so the baseline cannot drift from the real config.
    ``transport`` is how route[AUTHORIZE] asks Dialgate: ``http`` (http_client in an async
    worker, ``http_timeout_s``) or ``evapi`` (the transaction is suspended and the request
    goes over the persistent connection Dialgate opens to ``evapi_listen``; no answer within
    ``authorize_timeout_ms`` -> 503). Only connections from ``evapi_peers`` (default: the host
    of ``switch_url``) are accepted. Inbound routing and call records always use HTTP.
    ``records_url`` is where call records are posted (``/switch/v1/cdrs``; default:
    ``switch_url``): a second Dialgate switch-role process at a lower CPU priority, so that
    recording calls never holds up the decisions calls wait on (docs/performance.md).
    """
    if not _POP_RE.match(pop):
        raise ValueError(f"invalid POP name {pop!r}")
    if not _REALM_RE.match(realm):
        raise ValueError(f"invalid SIP realm {realm!r}")
    unknown = set(carriers) - set(CARRIER_KEYS)
    if unknown:
        raise ValueError(f"unknown carrier keys: {', '.join(sorted(unknown))}")
    for name, uri in carriers.items():
        if not _SIP_URI_RE.match(uri):
            raise ValueError(f"carrier {name}: not a SIP URI: {uri!r}")
    if media_server is not None and not _SIP_URI_RE.match(media_server):
        raise ValueError(f"media_server: not a SIP URI: {media_server!r}")
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("TLS needs both tls_cert and tls_key")
    if not 1 <= http_timeout_s <= 30:
        raise ValueError("http_timeout_s must be 1..30 whole seconds")
    kam_url = kamailio_db_url(db_url)
    sqlite = _db_module(kam_url) == "db_sqlite"
    if registrations is None:
        registrations = "memory" if sqlite else "database"
    if registrations not in REGISTRATION_MODES:
        raise ValueError(f"registrations must be one of {', '.join(REGISTRATION_MODES)}")
    if sqlite and registrations != "memory":
        # Kamailio's db_sqlite has no busy timeout: its writes would fail whenever Dialgate
        # holds SQLite's single write lock.
        raise ValueError("registrations in the database need PostgreSQL (SQLite: memory)")
    if dialogs not in DIALOG_MODES:
        raise ValueError(f"dialogs must be one of {', '.join(DIALOG_MODES)}")
    if metrics_port is not None and not 1 <= metrics_port <= 65535:
        raise ValueError("metrics_port must be 1..65535")
    if not 0 <= server_id <= 65535:
        raise ValueError("server_id must be 0..65535")
    if not 1 <= cdr_batch <= 500:
        raise ValueError("cdr_batch must be 1..500 records")
    if async_workers < 1 or children < 1 or cdr_queue_size < 1:
        raise ValueError("children, async_workers and cdr_queue_size must be at least 1")
    if rpc_listen is not None and not _RPC_RE.match(rpc_listen):
        raise ValueError(f"rpc_listen must be udp:HOST:PORT, not {rpc_listen!r}")
    if not Path(rundir).is_absolute() or not Path(ctl_socket).is_absolute():
        raise ValueError("rundir and ctl_socket must be absolute paths")
    rtpengine_sock = rtpengine_socket_param(rtpengines)
    if moh_dir is not None and (not Path(moh_dir).is_absolute() or '"' in moh_dir):
        raise ValueError("moh_dir must be an absolute path")
    if rpc_socket is None:
        rpc_socket = str(Path(rundir) / "kamailio_rpc.sock")
    if not Path(rpc_socket).is_absolute():
        raise ValueError("rpc_socket must be an absolute path")
    if not 1 <= rtpengine_disable_s <= 300 or not 50 <= rtpengine_timeout_ms <= 5000:
        raise ValueError("rtpengine_disable_s must be 1..300 and rtpengine_timeout_ms 50..5000")
    answers = _fixed_answers(decision, fixed_answers)
    transport = transport or DEFAULT_TRANSPORT
    if decision == "fixed":
        transport = "http"  # nothing to ask; HTTP stays for inbound routing and call records
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
    if not 100 <= authorize_timeout_ms <= 30_000:
        raise ValueError("authorize_timeout_ms must be 100..30000")
    if not 1 <= evapi_workers <= 64:
        raise ValueError("evapi_workers must be 1..64")
    if not _EVAPI_LISTEN_RE.match(evapi_listen):
        raise ValueError(f"evapi_listen must be IP:PORT, not {evapi_listen!r}")
    peers = list(evapi_peers) if evapi_peers else [urlsplit(switch_url).hostname or ""]
    for peer in peers:
        if not _IP_RE.match(peer):
            raise ValueError(f"evapi peer must be an IP address, not {peer!r}")
    env = Environment(
        loader=PackageLoader("dialgate.entrypoints.switch", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - the output is a Kamailio config, not HTML
    )
    return env.get_template("kamailio.cfg.j2").render(
        pop=pop,
        listen=listen,
        port=port,
        tls=tls_cert is not None,
        tls_port=tls_port,
        tls_config_path=tls_config_path,
        aliases=list(aliases),
        kamailio_db_url=kam_url,
        db_module=_db_module(kam_url),
        switch_con_url=_switch_con_url(switch_url, switch_token),
        records_con_url=_switch_con_url(records_url or switch_url, switch_token,
                                        "records_url"),
        realm=realm,
        carriers=dict(carriers),
        carrier_sources=_carrier_sources(carriers, carrier_sources),
        media_server=media_server,
        media_hostport=_hostport(media_server) if media_server else "",
        ctl_socket=ctl_socket,
        children=children,
        async_workers=async_workers,
        cdr_queue_size=cdr_queue_size,
        http_timeout_s=http_timeout_s,
        pike_density=pike_density,
        bare=bare,
        debug=debug,
        log_stderror=log_stderror,
        module_path=MODULE_PATH,
        fr_timer_ms=fr_timer_ms,
        default_dial_time_s=default_dial_time_s,
        inbound_max_hops=inbound_max_hops,
        cdr_retries=cdr_retries,
        cdr_retry_delay_us=cdr_retry_delay_ms * 1000,
        cdr_batch=cdr_batch,
        registrations=registrations,
        dialogs=dialogs,
        server_id=server_id,
        # Registration expiry: the registry's default and the ceiling of its allowed range.
        default_expires=settings_registry.default("max_expiry"),
        max_expires=settings_registry.int_bounds("max_expiry")[1],
        media=bool(rtpengine_sock),
        carrier_leg_offer=CARRIER_LEG.device_offer,
        carrier_leg_answer=CARRIER_LEG.carrier_answer,
        rtpengine_sock=rtpengine_sock,
        rtpengine_disable_s=rtpengine_disable_s,
        rtpengine_timeout_ms=rtpengine_timeout_ms,
        moh_dir=moh_dir.rstrip("/") if moh_dir else "",
        rpc_dgram=rpc_listen or (rpc_socket if rtpengine_sock else ""),
        metrics_port=metrics_port,
        metrics_listen=metrics_listen,
        decision=decision,
        fixed_answers=answers,
        transport=transport,
        authorize_timeout_ms=authorize_timeout_ms,
        switch_token=switch_token,
        evapi_bind=evapi_listen,
        evapi_peers=peers,
        evapi_workers=evapi_workers,
    )


DECISIONS = ("dialgate", "fixed")
TRANSPORTS = ("http", "evapi")
# What kamailio-config generates unless told otherwise (docs/performance.md says why).
DEFAULT_TRANSPORT = "evapi"
_IP_RE = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$")
_EVAPI_LISTEN_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$")
_FIXED_KEY_RE = re.compile(r"^[A-Za-z0-9+]{1,64}_[A-Za-z0-9*#+]{1,64}$")
# What the fixed decision answers when no answer is given for an account and number: an
# allowed call on the value route (the shape of a real answer, so it is decoded the same way).
FIXED_DEFAULT_ANSWER = {
    "allow": True, "sip_code": 200, "message": "OK", "action": "call", "route": "value",
    "carrier": None, "destination": {"e164": None}, "caller_id": None,
    "max_duration_s": 7200, "rate_per_minute": "0.0100", "increment_s": 60,
    "flat_fee": "0", "sip": {},
}


def _fixed_answers(decision: str, given: Mapping[str, str] | None) -> dict[str, str]:
    """The fixed decision's table as Kamailio string literals (quotes and backslashes
    escaped), with the ``default`` answer filled in."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if decision != "fixed":
        if given:
            raise ValueError("fixed_answers need decision='fixed'")
        return {}
    answers = {"default": json.dumps(FIXED_DEFAULT_ANSWER, separators=(",", ":"))}
    for key, answer in (given or {}).items():
        if key != "default" and not _FIXED_KEY_RE.match(key):
            raise ValueError(f"fixed answer key must be <account>_<dialed>, not {key!r}")
        try:
            json.loads(answer)
        except ValueError:
            raise ValueError(f"fixed answer for {key!r} is not JSON") from None
        answers[key] = answer
    return {k: v.replace("\\", "\\\\").replace('"', '\\"') for k, v in answers.items()}


def rtpengine_socket_param(rtpengines: Sequence[str]) -> str:
    """The ``rtpengine_sock`` value for several relays: ``udp:host:port[=weight]`` each."""
    for sock in rtpengines:
        if not _RTPENGINE_RE.match(sock):
            raise ValueError(
                f"rtpengine: expected udp:HOST:PORT or udp:HOST:PORT=WEIGHT, got {sock!r}"
            )
    return " ".join(rtpengines)


def render_tls_config(*, tls_cert: str, tls_key: str) -> str:
    """Return ``tls.cfg``: our certificate for devices; no client certificates asked, and
    TLS 1.2 or newer."""
    return (
        "# Generated by Dialgate.\n"
        "[server:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = no\n"
        "require_certificate = no\n"
        f"private_key = {tls_key}\n"
        f"certificate = {tls_cert}\n"
        "\n"
        "[client:default]\n"
        "method = TLSv1.2+\n"
        "verify_certificate = no\n"
        "require_certificate = no\n"
    )


def write_kamailio_files(directory: Path, **options: object) -> Path:
    """Write ``kamailio.cfg`` (and ``tls.cfg`` when TLS is configured) into ``directory`` and
    return the path of ``kamailio.cfg``. Options are those of ``render_kamailio_config``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = options.get("tls_cert"), options.get("tls_key")
    if isinstance(cert, str) and isinstance(key, str):
        tls_path = directory / "tls.cfg"
        tls_path.write_text(render_tls_config(tls_cert=cert, tls_key=key))
        options = {**options, "tls_config_path": str(tls_path)}
    cfg = directory / "kamailio.cfg"
    cfg.write_text(render_kamailio_config(**options))  # type: ignore[arg-type]
    cfg.chmod(0o600)  # it holds the switch token and maybe a DB password
    return cfg
