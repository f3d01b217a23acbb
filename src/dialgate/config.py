"""Typed configuration: the only place that reads the environment (prefix ``DIALGATE_``).

``Settings`` is a plain pydantic model that fills itself from ``DIALGATE_*`` variables, with
keyword arguments taking precedence and defaults validated too: what pydantic-settings did for
it, without that package's import (its sources pull in asyncio and ssl, about 90 ms of every
``dialgate`` command's start-up; docs/performance.md, "CLI start-up").
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The switch's largest call-record batch: 500 records (switch.http.MAX_CDR_BATCH) of at most
# 512 bytes each (the Kamailio template's buffer per record).
MIN_BODY_BYTES = 500 * 512
DEFAULT_SIP_REALM = "sip.dialgate.test"
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused outside development


ENV_PREFIX = "dialgate_"


def environment_values(names: set[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """The ``DIALGATE_*`` variables that name one of ``names``, keyed by that name. Variable names
    are matched without regard to case, as the shell conventions of deployments differ; others
    (unknown settings, other programs' variables) are ignored."""
    found: dict[str, str] = {}
    for key, value in (os.environ if environ is None else environ).items():
        lowered = key.lower()
        if lowered.startswith(ENV_PREFIX) and lowered[len(ENV_PREFIX) :] in names:
            found[lowered[len(ENV_PREFIX) :]] = value
    return found


class Settings(BaseModel):
    """``Settings()`` reads the environment; ``Settings(name=value)`` overrides a variable."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {**environment_values(set(cls.model_fields)), **data}

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/dialgate.db"
    secret_key: str = DEV_SECRET_KEY

    # SIP realm used for HA1 digests (md5(user:realm:password)); every POP shares it.
    sip_realm: str = DEFAULT_SIP_REALM
    default_language: Literal["en", "fr", "es"] = "en"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "Dialgate <noreply@dialgate.test>"

    portal_base_url: str = "http://127.0.0.1:8000"
    # Kamailio JSON-RPC (jsonrpcs datagram) sockets, one per SIP server, comma separated, e.g.
    # "udp:127.0.0.1:5090,udp:10.0.0.2:5090": suspending an account ends its calls there.
    kamailio_rpc: str = ""
    # Kamailio evapi sockets (kamailio-config --transport evapi), one per SIP server, comma
    # separated host:port: the switch role connects to each and answers authorize requests.
    switch_evapi: str = ""

    # Operations (docs/operations.md). /metrics is served only with a token.
    metrics_token: str | None = None
    metrics_enabled: bool = True  # false: no per-call counting (benchmark comparisons)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    # Servers write their info and debug lines together, at most this long after the first
    # (0: each at once); warnings and errors are never held (logs.JsonLineHandler).
    log_flush_ms: int = Field(default=100, ge=0, le=10_000)
    feed_stale_after: float = 5.0  # /readyz fails when the policy feed was not read for longer
    # How often each worker adds its in-memory decision counts to decision_minutes (the
    # console's live overview); also flushed at shutdown.
    decision_flush_seconds: float = Field(default=60.0, gt=0)
    # What `dialgate doctor` checks besides the database and SMTP (unset: not checked).
    kamailio_ctl: str | None = None  # unix socket of Kamailio's ctl module (kamcmd -s)
    rtpengine_ng: str | None = None  # rtpengine's ng control address, host:port (UDP)

    # Which endpoints this process serves: "switch" (what Kamailio calls), "web" (portal, REST
    # API, VoIP.ms API) or "all". Run the switch in its own processes so that nothing a
    # stranger can reach competes with calls for CPU (docs/architecture.md, "Abuse").
    # "records": the switch's endpoints for Kamailio's call records (kamailio-config
    # --records-url), never connected to evapi, so recording waits behind the decisions.
    role: Literal["all", "web", "switch", "records"] = "all"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated IPs or
    # CIDRs. Empty (the default): no one's, not even loopback's.
    trusted_proxies: str = ""
    # Largest request body accepted, in bytes; checked before anything parses the body. At
    # least what the switch's largest call-record batch can be (500 records of at most 512
    # bytes, what Kamailio's pv buffer holds: see kamailio.cfg.j2), so batches always fit.
    max_body_bytes: int = Field(default=1_000_000, ge=MIN_BODY_BYTES)
    # The operator console's rate-deck upload, the one request that carries a file: a wholesale
    # A-Z deck of 1,000,000 prefixes is 20-30 MB as CSV. Only that path gets this limit.
    max_deck_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1_000_000)
    # argon2 checks for requests: at most this many at once (default: half the cores), and at
    # most hash_queue waiting; beyond, requests are refused at once.
    hash_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    hash_queue: int = Field(default=32, ge=0)
    # CPU priority (nice, 0-19): `dialgate serve --role web` lowers itself to web_nice before
    # it starts (its worker processes and threads inherit it), so a flood of the portal or the
    # APIs waits for the switch role's CPU. Off by default: measured on a busy node, a web role
    # at 10 also waited behind every unrelated process and customers' writes took seconds;
    # raising the switch instead (systemd's Nice=-5/CPUWeight= in deploy/systemd, or
    # `serve --role switch --nice -5` as root) puts calls first without that. argon2 threads
    # run at hash_nice in every role, so even a process serving both never hashes before
    # answering a call (adapters/priority.py; docs/architecture.md, "Abuse").
    web_nice: int = Field(default=0, ge=0, le=19)
    hash_nice: int = Field(default=19, ge=0, le=19)
    # Where the throttles count (a URI of the ``limits`` library); memory:// is per process.
    rate_limit_storage: str = "memory://"

    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        # A default secret outside development would let anyone forge sessions and CSRF tokens.
        if self.environment != "development" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "DIALGATE_SECRET_KEY must be set to a private value outside development"
            )
        for proxy in self.trusted_proxy_list():
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"DIALGATE_TRUSTED_PROXIES: {proxy!r} is not an IP address or network"
                ) from None
        if len(self.secret_key) < 16:
            raise ValueError("DIALGATE_SECRET_KEY must be at least 16 characters")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def cache_dir() -> str:
    """Where compiled artifacts that are slow to rebuild (the numbering plan) are kept:
    ``DIALGATE_CACHE_DIR``, else ``$XDG_CACHE_HOME/dialgate``, else ``~/.cache/dialgate``. Read
    without building ``Settings``, so the CLI's quick commands do not pay for validation."""
    explicit = os.environ.get("DIALGATE_CACHE_DIR", "").strip()
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "dialgate")
