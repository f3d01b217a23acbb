"""The authorize contract over Kamailio's ``evapi`` socket (``kamailio-config --transport evapi``).

Over HTTP every call costs Kamailio a libcurl request in an async worker and Dialgate an HTTP
request through uvicorn and an ASGI middleware, about ten times the decision itself. With evapi,
Kamailio suspends the call's transaction (``t_suspend``), writes one netstring on a persistent
TCP connection and resumes the call (``t_continue``) when the answer comes back; Dialgate reads
netstrings in an asyncio protocol and answers each one in place.

Kamailio listens (evapi is a server); Dialgate connects to each POP's evapi address listed in
``DIALGATE_SWITCH_EVAPI`` and reconnects whenever the connection drops, so a Kamailio or a
Dialgate restarted on either side finds its peer again without a restart of the other.

The contract is the HTTP one (``SWITCH_CONTRACT``): the same request JSON, validated by the same
``AuthorizeIn`` and decided by the same ``answer_authorize``, and the same answer JSON. Framing:

    Kamailio -> Dialgate  "<t_index>:<t_label>:<switch token>:<request JSON>"
    Dialgate -> Kamailio  "<t_index>:<t_label>:<answer JSON>"

A request Dialgate cannot decide (unknown token, invalid JSON or field) is answered with the
refusal Kamailio gives when HTTP fails: SIP 503 "Call Authorization Unavailable".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

import orjson
from pydantic import ValidationError

from dialgate.domain.errors import DialgateError
from dialgate.entrypoints.switch.http import AuthorizeIn, answer_authorize
from dialgate.services.apikeys import SwitchTokenCache
from dialgate.services.authorize import PolicyCache

log = logging.getLogger("dialgate.switch.evapi")

MAX_MESSAGE = 16 * 1024  # a request is about 250 bytes; anything far bigger is not Kamailio
UNAVAILABLE = orjson.dumps(
    {"allow": False, "sip_code": 503, "message": "Call Authorization Unavailable"}
)
RECONNECT_MIN_S = 0.05
RECONNECT_MAX_S = 1.0


def parse_targets(value: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` (``DIALGATE_SWITCH_EVAPI``) -> [(host, port), ...]."""
    targets: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"switch_evapi: expected host:port, got {item!r}")
        targets.append((host.strip("[]"), int(port)))
    return targets


def netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


class NetstringError(ValueError):
    pass


def split_netstrings(buffer: bytearray) -> list[bytes]:
    """Take every complete netstring off the front of ``buffer`` (what is left is partial)."""
    messages: list[bytes] = []
    while buffer:
        colon = buffer.find(b":", 0, 8)
        if colon < 0:
            if len(buffer) >= 8 or not buffer.isdigit():
                raise NetstringError("bad netstring length")
            break
        head = bytes(buffer[:colon])
        if not head.isdigit():
            raise NetstringError("bad netstring length")
        size = int(head)
        if size > MAX_MESSAGE:
            raise NetstringError("message too long")
        end = colon + 1 + size
        if len(buffer) <= end:
            break
        if buffer[end] != ord(","):
            raise NetstringError("netstring without its comma")
        messages.append(bytes(buffer[colon + 1:end]))
        del buffer[:end + 1]
    return messages


class Authorizer:
    """Answers one evapi message; the decision is the HTTP endpoint's ``answer_authorize``."""

    def __init__(self, cache: PolicyCache, tokens: SwitchTokenCache) -> None:
        self.cache = cache
        self.tokens = tokens

    def split(self, message: bytes) -> tuple[bytes, bytes, str, bytes] | None:
        parts = message.split(b":", 3)
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return parts[0], parts[1], parts[2].decode("latin-1"), parts[3]

    def decide(self, body: bytes) -> bytes:
        try:
            request = AuthorizeIn.model_validate_json(body)
            return orjson.dumps(answer_authorize(self.cache, request))
        except (ValidationError, DialgateError) as exc:
            log.warning("evapi authorize request refused: %s", type(exc).__name__)
            return UNAVAILABLE

    async def checked_answer(self, token: str, body: bytes) -> bytes:
        """The answer when the token is not in the cache yet (a database look-up)."""
        try:
            await asyncio.to_thread(self.tokens.check, token)
        except DialgateError:
            log.warning("evapi authorize request with an unknown switch token")
            return UNAVAILABLE
        return self.decide(body)


class EvapiProtocol(asyncio.Protocol):
    """One connection to one Kamailio: answers each request as soon as it is read."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        # Each answer is one small write that a call waits for: never hold it back (Nagle).
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            messages = split_netstrings(self.buffer)
        except NetstringError as exc:
            log.error("evapi: %s; closing the connection", exc)
            if self.transport is not None:
                self.transport.close()
            return
        out: list[bytes] = []
        for message in messages:
            parts = self.authorizer.split(message)
            if parts is None:
                log.error("evapi: a message that is not an authorize request")
                continue
            index, label, token, body = parts
            if self.authorizer.tokens.peek(token) is None:
                asyncio.get_running_loop().create_task(self._slow(index, label, token, body))
                continue
            out.append(netstring(b"%s:%s:%s" % (index, label, self.authorizer.decide(body))))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    async def _slow(self, index: bytes, label: bytes, token: str, body: bytes) -> None:
        answer = await self.authorizer.checked_answer(token, body)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(netstring(b"%s:%s:%s" % (index, label, answer)))


async def keep_connected(host: str, port: int, make: Callable[[], EvapiProtocol]) -> None:
    """Stay connected to one Kamailio's evapi socket until cancelled."""
    loop = asyncio.get_running_loop()
    delay = RECONNECT_MIN_S
    connected_before = False
    while True:
        try:
            transport, protocol = await loop.create_connection(make, host, port)
        except OSError:
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX_S, delay * 2)
            continue
        log.info("evapi: connected to %s:%d", host, port)
        connected_before = True
        delay = RECONNECT_MIN_S
        try:
            await protocol.closed
        finally:
            transport.close()
        if connected_before:
            log.warning("evapi: connection to %s:%d lost; reconnecting", host, port)


class EvapiClients:
    """The connections of one Dialgate process to every configured Kamailio."""

    def __init__(self, targets: list[tuple[str, int]], authorizer: Authorizer) -> None:
        self.targets = targets
        self.authorizer = authorizer
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self) -> None:
        for host, port in self.targets:
            self.tasks.append(asyncio.get_running_loop().create_task(
                keep_connected(host, port, lambda: EvapiProtocol(self.authorizer))))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
