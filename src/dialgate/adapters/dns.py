"""Host name resolution (the system resolver), for IP allow-lists that name hosts."""

from __future__ import annotations

import socket


def resolve_host(name: str) -> list[str]:
    """Addresses of a host name in an IP allow-list; none if it does not resolve (fail closed)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})
