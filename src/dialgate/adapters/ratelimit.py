"""Throttles for what strangers can reach (log-ins, the VoIP.ms API), on the ``limits`` library.

Why a library in memory and not a token bucket in the database: the throttles exist to keep a
flood away from the database and the CPU. A bucket in the database would turn every rejected
guess into a write transaction, on SQLite the one write lock that customers' changes and call
records need, which is the failure this replaces. ``limits`` (the engine of Flask-Limiter and
SlowAPI) keeps exact moving windows in memory at no I/O cost. Each process counts for itself:
with N web processes a source gets at most N times a budget. A deployment that needs one count
across nodes sets ``DIALGATE_RATE_LIMIT_STORAGE`` to a shared store ``limits`` supports (e.g.
``redis://host:6379``, with the ``redis`` package installed) and/or limits at its proxy (nginx
``limit_req``, haproxy stick tables).
"""

from __future__ import annotations

import ipaddress
import time

from limits import RateLimitItem, parse, storage, strategies

__all__ = ["RateLimitItem", "Throttle", "parse", "source_key"]


def source_key(client_ip: str | None) -> str:
    """What "one source" is: an IPv4 address, or the /64 of an IPv6 one (one customer's LAN gets
    a /64, so counting single IPv6 addresses would let one attacker be millions of sources)."""
    if not client_ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Throttle:
    """Counts events per (rule, key) in moving windows."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._storage = storage.storage_from_string(storage_uri)
        # Moving windows: no burst of twice the budget across a window's edge.
        self._limiter = strategies.MovingWindowRateLimiter(self._storage)

    def exhausted(self, rule: RateLimitItem, *key: str) -> bool:
        """Whether the budget is spent (counts nothing)."""
        return not self._limiter.test(rule, *key)

    def hit(self, rule: RateLimitItem, *key: str) -> bool:
        """Count one event; False if the budget was already spent."""
        return self._limiter.hit(rule, *key)

    def retry_after(self, rule: RateLimitItem, *key: str) -> int:
        """Seconds until the budget has room again (at least 1)."""
        stats = self._limiter.get_window_stats(rule, *key)
        return max(1, int(stats.reset_time - time.time()) + 1)

    def reset(self) -> None:
        self._storage.reset()
