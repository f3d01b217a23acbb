"""The one place that wires adapters into services. Nothing happens at import time."""

from __future__ import annotations

from dialgate.config import Settings, get_settings
from dialgate.services.uow import Database


def database(settings: Settings | None = None, *, busy_timeout_ms: int | None = None) -> Database:
    settings = settings or get_settings()
    if busy_timeout_ms is None:
        return Database(settings.database_url, realm=settings.sip_realm)
    return Database(
        settings.database_url, busy_timeout_ms=busy_timeout_ms, realm=settings.sip_realm
    )
