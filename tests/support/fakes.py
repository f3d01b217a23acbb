"""In-memory stand-ins for the seams services take: a clock and a host resolver.

The database, SMTP and Kamailio are always real in tests; only the time and DNS are faked,
because a test must choose them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta


class FakeClock:
    """A wall clock that moves only when told (``Database(url, clock=FakeClock(...))``)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakeResolver:
    """Host names and their addresses, for ``PolicyCache(db, resolver=...)``; unknown: none."""

    def __init__(self, hosts: Mapping[str, list[str]]) -> None:
        self.hosts = dict(hosts)
        self.asked: list[str] = []

    def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        return list(self.hosts.get(name, []))
