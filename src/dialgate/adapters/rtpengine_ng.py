"""A client of rtpengine's ``ng`` control protocol (UDP, bencoded dictionaries).

Each request is ``<cookie> <bencoded dict>``; the answer repeats the cookie. Used by the media
watcher (``list``, ``query``), the tests (``ping``, ``query``) and the benchmark (``offer``,
``answer``, ``delete``); Kamailio has its own client in the rtpengine module.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Mapping
from typing import Any

import bencodepy


class RtpengineError(Exception):
    """rtpengine did not answer, or answered ``result: error``."""


def _text(value: Any) -> Any:
    """bencode has only byte strings: decode them (keys and values) to str."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


def parse_address(address: str) -> tuple[str, int]:
    """``udp:HOST:PORT[=weight]`` (Kamailio's notation) or ``HOST:PORT`` -> (host, port)."""
    spec = address.split("=", 1)[0]
    for prefix in ("udp6:", "udp:"):
        spec = spec.removeprefix(prefix)
    host, _, port = spec.rpartition(":")
    return host.strip("[]"), int(port)


class NgClient:
    def __init__(self, address: str, *, timeout: float = 1.0) -> None:
        self.address = parse_address(address)
        self.timeout = timeout
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self._sock.settimeout(timeout)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> NgClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, command: str, **params: Any) -> dict[str, Any]:
        """Send one command (parameter names with ``_`` become ``-``) and return the answer;
        raises ``RtpengineError`` on a time-out or an error result."""
        cookie = secrets.token_hex(6)
        body: Mapping[str, Any] = {
            "command": command,
            **{k.replace("_", "-"): v for k, v in params.items()},
        }
        self._sock.sendto(cookie.encode() + b" " + bencodepy.encode(dict(body)), self.address)
        while True:
            try:
                data = self._sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError) as exc:
                raise RtpengineError(f"no answer from rtpengine {self.address}: {exc}") from exc
            got, _, payload = data.partition(b" ")
            if got.decode(errors="replace") == cookie:  # a late answer to an earlier request
                break
        answer: dict[str, Any] = _text(bencodepy.decode(payload))
        if answer.get("result") == "error":
            raise RtpengineError(str(answer.get("error-reason", "error")))
        return answer
