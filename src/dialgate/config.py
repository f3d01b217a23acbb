"""Typed configuration: the only place that reads the environment (prefix ``DIALGATE_``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIALGATE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/dialgate.db"
    secret_key: str = DEV_SECRET_KEY

    # SIP realm used for HA1 digests (md5(user:realm:password)); every POP shares it.
    sip_realm: str = "sip.dialgate.test"
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

    # Operations (docs/operations.md). /metrics is served only with a token.
    metrics_token: str | None = None
    metrics_enabled: bool = True  # false: no per-call counting (benchmark comparisons)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    feed_stale_after: float = 5.0  # /readyz fails when the policy feed was not read for longer
    # What `dialgate doctor` checks besides the database and SMTP (unset: not checked).
    kamailio_ctl: str | None = None  # unix socket of Kamailio's ctl module (kamcmd -s)
    rtpengine_ng: str | None = None  # rtpengine's ng control address, host:port (UDP)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        # A default secret outside development would let anyone forge sessions and CSRF tokens.
        if self.environment != "development" and self.secret_key == DEV_SECRET_KEY:
            raise ValueError(
                "DIALGATE_SECRET_KEY must be set to a private value outside development"
            )
        if len(self.secret_key) < 16:
            raise ValueError("DIALGATE_SECRET_KEY must be at least 16 characters")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
