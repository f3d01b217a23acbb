"""In-memory stand-ins for the seams services take: a host resolver (the clocks are in
``tests/support/clock.py``).

The database, SMTP and Kamailio are always real in tests; only the time and DNS are faked,
because a test must choose them.
"""

from __future__ import annotations

from collections.abc import Mapping


class FakeResolver:
    """Host names and their addresses, for ``PolicyCache(db, resolver=...)``; unknown: none."""

    def __init__(self, hosts: Mapping[str, list[str]]) -> None:
        self.hosts = dict(hosts)
        self.asked: list[str] = []

    def __call__(self, name: str) -> list[str]:
        self.asked.append(name)
        return list(self.hosts.get(name, []))
