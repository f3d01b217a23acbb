"""The one place that wires adapters into services. Nothing happens at import time."""

from __future__ import annotations

from dialgate.config import Settings, get_settings
from dialgate.services.uow import Database


def database(settings: Settings | None = None) -> Database:
    settings = settings or get_settings()
    return Database(settings.database_url)
