"""Dialgate's side of the evapi transport over a real TCP connection: a listening socket plays
Kamailio's evapi server (netstrings both ways), Dialgate connects to it, answers with the same
answer as /switch/v1/authorize, refuses what it cannot decide with a 503 answer, and connects
again when the socket comes back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal

import orjson
import pytest

from dialgate.adapters.rate_data import demo_rates
from dialgate.entrypoints.api.deps import SwitchTokenCache
from dialgate.entrypoints.switch.evapi import (
    Authorizer,
    EvapiClients,
    NetstringError,
    netstring,
    parse_targets,
    split_netstrings,
)
from dialgate.entrypoints.switch.http import AuthorizeIn, answer_authorize
from dialgate.services import accounts, apikeys, rates
from dialgate.services.authorize import PolicyCache
from dialgate.services.uow import Database


@pytest.fixture
def switch(db: Database) -> Iterator[tuple[Authorizer, str]]:
    with db.uow() as uow:
        for route in ("value", "premium"):
            rates.replace_deck(uow, route, demo_rates(route))
        accounts.create_account(uow, number="700001", email="e@example.com",
                                password="Pass-word-1", balance=Decimal("10.00"))
        _info, token = apikeys.create_switch_token(uow, name="evapi-test")
        uow.commit()
    yield Authorizer(PolicyCache(db), SwitchTokenCache(db)), token


class FakeKamailioSocket:
    """A real listening TCP socket speaking evapi's framing (what Kamailio's evapi does)."""

    def __init__(self) -> None:
        self.connected: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue()
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.connected.put((reader, writer))

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def read_netstring(reader: asyncio.StreamReader) -> bytes:
    size = int((await reader.readuntil(b":"))[:-1])
    data = await reader.readexactly(size + 1)
    assert data[-1:] == b","
    return data[:-1]


def request(token: str, index: int, **fields: object) -> bytes:
    body = {"account": "700001", "dialed": "5145551234", "source_ip": "127.0.0.1",
            "pop": "montreal1", "transport": "udp", "srtp": False, "trace": False, **fields}
    return netstring(b"%d:77:%s:%s" % (index, token.encode(), json.dumps(body).encode()))


def test_answers_like_the_http_endpoint_and_refuses_what_it_cannot_decide(
    switch: tuple[Authorizer, str],
) -> None:
    authorizer, token = switch

    async def scenario() -> list[bytes]:
        kamailio = FakeKamailioSocket()
        port = await kamailio.start()
        clients = EvapiClients(parse_targets(f"127.0.0.1:{port}"), authorizer)
        clients.start()
        try:
            reader, writer = await asyncio.wait_for(kamailio.connected.get(), 10)
            # Two requests in one segment, one split across two, then the bad ones.
            writer.write(request(token, 1) + request(token, 2, dialed="01144201234567"))
            third = request(token, 3, dialed="411")
            writer.write(third[:10])
            await writer.drain()
            writer.write(third[10:])
            writer.write(request("not-the-token-123", 4))
            writer.write(request(token, 5, account=""))
            writer.write(netstring(b"6:77:" + token.encode() + b":{not json"))
            await writer.drain()
            answers = [await asyncio.wait_for(read_netstring(reader), 10) for _ in range(6)]
            writer.close()
            return answers
        finally:
            await clients.stop()
            await kamailio.stop()

    answers = {a.split(b":", 2)[0]: a.split(b":", 2) for a in asyncio.run(scenario())}
    assert sorted(answers) == [b"1", b"2", b"3", b"4", b"5", b"6"]
    assert all(parts[1] == b"77" for parts in answers.values())
    expected = answer_authorize(authorizer.cache, AuthorizeIn(
        account="700001", dialed="5145551234", source_ip="127.0.0.1", pop="montreal1",
        trace=False))
    assert orjson.loads(answers[b"1"][2]) == orjson.loads(orjson.dumps(expected))
    assert orjson.loads(answers[b"1"][2])["allow"] is True
    assert orjson.loads(answers[b"2"][2])["allow"] is False  # international: account default
    assert orjson.loads(answers[b"3"][2])["allow"] is False
    unavailable = {"allow": False, "sip_code": 503, "message": "Call Authorization Unavailable"}
    for index in (b"4", b"5", b"6"):
        assert orjson.loads(answers[index][2]) == unavailable


def test_connects_again_when_kamailio_comes_back(switch: tuple[Authorizer, str]) -> None:
    authorizer, token = switch

    async def scenario() -> bytes:
        kamailio = FakeKamailioSocket()
        port = await kamailio.start()
        clients = EvapiClients([("127.0.0.1", port)], authorizer)
        clients.start()
        try:
            _reader, writer = await asyncio.wait_for(kamailio.connected.get(), 10)
            await kamailio.stop()  # Kamailio restarts: the connection and the socket go away
            writer.close()
            kamailio = FakeKamailioSocket()
            await kamailio.start(port)
            reader, writer = await asyncio.wait_for(kamailio.connected.get(), 10)
            writer.write(request(token, 9))
            await writer.drain()
            answer = await asyncio.wait_for(read_netstring(reader), 10)
            writer.close()
            return answer
        finally:
            await clients.stop()
            await kamailio.stop()

    index, label, body = asyncio.run(scenario()).split(b":", 2)
    assert (index, label, orjson.loads(body)["allow"]) == (b"9", b"77", True)


def test_netstrings_are_split_and_bad_framing_is_refused() -> None:
    buffer = bytearray(b"3:abc,0:,5:ab")
    assert split_netstrings(buffer) == [b"abc", b""]
    assert buffer == bytearray(b"5:ab")
    for bad in (b"x:abc,", b"3:abcd", b"999999:", b"123456789"):
        with pytest.raises(NetstringError):
            split_netstrings(bytearray(bad))


@pytest.mark.parametrize("value", ["127.0.0.1", "127.0.0.1:0", "h:99999", ":80", "a:b"])
def test_bad_evapi_targets_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="switch_evapi"):
        parse_targets(value)
