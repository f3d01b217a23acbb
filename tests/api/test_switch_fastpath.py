"""``SwitchFastPath``: ``POST /switch/v1/authorize`` answered without FastAPI once the switch
token is known, with the same answers and the same errors as the FastAPI route.

Which path answered is observed, not guessed: ``answer_authorize`` is wrapped separately in the
fast path's module and in the route's module, and each wrapper counts the answers it produced.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.entrypoints.api.deps import SwitchTokenCache
from dialgate.entrypoints.policy_cache import app_policy_cache
from dialgate.entrypoints.switch import fastpath
from dialgate.entrypoints.switch import http as switch_http
from dialgate.entrypoints.switch.http import AuthorizeIn, answer_authorize
from dialgate.services import apikeys, demo
from dialgate.services.uow import Database
from tests.support.http import Reply
from tests.support.http import problem as _problem

URL = "/switch/v1/authorize"




def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass
class Switch:
    client: TestClient
    app: FastAPI
    db: Database
    paths: Counter[str]  # "fast" / "slow": answers produced by each path

    def new_token(self) -> str:
        """A token nobody has used yet: its first request goes through FastAPI."""
        with self.db.uow() as uow:
            _info, token = apikeys.create_switch_token(uow, name="pop")
            uow.commit()
        return token

    def warm_token(self) -> str:
        """A token already checked (in the cache) by one request through the route."""
        token = self.new_token()
        before = self.paths["slow"]
        response = self.client.post(
            URL, json={"account": "100000", "dialed": "5145551234"}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        assert self.paths["slow"] == before + 1
        return token

    def post(self, headers: dict[str, str], **kw: Any) -> tuple[Reply, str | None]:
        """One request and the path that answered it (None: no answer was produced)."""
        before = self.paths.copy()
        response = self.client.post(URL, headers=headers, **kw)
        used = [path for path in ("fast", "slow") if self.paths[path] != before[path]]
        assert len(used) <= 1
        return response, used[0] if used else None


@pytest.fixture
def switch(app: FastAPI, api_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Switch]:
    with api_db.uow() as uow:
        demo.load_demo(uow)
        uow.commit()
    paths: Counter[str] = Counter()

    def counting(path: str) -> Any:
        def wrapper(cache: Any, body: AuthorizeIn) -> dict[str, Any]:
            answer = answer_authorize(cache, body)
            paths[path] += 1
            return answer

        return wrapper

    monkeypatch.setattr(fastpath, "answer_authorize", counting("fast"))
    monkeypatch.setattr(switch_http, "answer_authorize", counting("slow"))
    with TestClient(app) as client:
        yield Switch(client, app, api_db, paths)




def _expected(app: FastAPI, call: dict[str, Any]) -> dict[str, Any]:
    """What the route answers for this call, computed in-process and encoded as JSON."""
    answer = answer_authorize(app_policy_cache(app), AuthorizeIn(**call))
    decoded: dict[str, Any] = json.loads(json.dumps(answer))
    return decoded


CALLS: dict[str, tuple[dict[str, Any], bool, str]] = {
    "domestic": (
        {
            "account": "100000",
            "dialed": "5145551234",
            "source_ip": "127.0.0.1",
            "pop": "montreal1",
            "transport": "UDP",
            "srtp": False,
            "call_id": "a@x",
        },
        True,
        "ok",
    ),
    "tollfree": ({"account": "100000", "dialed": "18005551234"}, True, "ok"),
    "international": (
        {"account": "100000", "dialed": "011861012345678"},
        False,
        "international_disabled",
    ),
    "411": ({"account": "100000", "dialed": "411"}, False, "directory_assistance_disabled"),
    "911": ({"account": "100000", "dialed": "911"}, True, "ok"),
    "unknown_account": ({"account": "999999", "dialed": "5145551234"}, False, "unknown_account"),
    "unknown_sub": ({"account": "100000_nobody", "dialed": "5145551234"}, False, "unknown_account"),
    "sub_account": (
        {"account": "100000_office", "dialed": "5145551234", "caller_id": "5145550101"},
        True,
        "ok",
    ),
    "no_trace": ({"account": "100000", "dialed": "5145551234", "trace": False}, True, "ok"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_fast_path_answers_exactly_what_the_route_answers(switch: Switch, name: str) -> None:
    call, allow, reason = CALLS[name]
    token = switch.new_token()
    slow, slow_path = switch.post(bearer(token), json=call)
    fast, fast_path = switch.post(bearer(token), json=call)
    via_basic, basic_path = switch.post(basic("kamailio", token), json=call)
    assert (slow_path, fast_path, basic_path) == ("slow", "fast", "fast")
    for response in (slow, fast, via_basic):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["content-length"]) == len(response.content)
    assert slow.json() == fast.json() == via_basic.json() == _expected(switch.app, call)
    answer = fast.json()
    assert (answer["allow"], answer["reason"]) == (allow, reason)
    assert (answer["sip"] is not None) == allow
    if name == "sub_account":  # the sub account's own settings, not the main account's
        assert answer["route"] == "premium"


def test_cached_token_is_served_without_the_route_or_a_token_lookup(
    switch: Switch, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = switch.warm_token()

    def no_database(self: SwitchTokenCache, token: str | None) -> apikeys.KeyInfo:
        raise AssertionError("the token was looked up in the database")

    monkeypatch.setattr(SwitchTokenCache, "_check", no_database)
    before = switch.paths.copy()
    calls = [c for c, _allow, _reason in CALLS.values()]
    for call in calls:
        response = switch.client.post(URL, json=call, headers=basic("kamailio", token))
        assert response.status_code == 200, response.text
    assert switch.paths["fast"] - before["fast"] == len(calls)
    assert switch.paths["slow"] == before["slow"]


def test_revoked_token_is_refused_at_once_by_the_fast_path_too(switch: Switch) -> None:
    token = switch.warm_token()
    call = {"account": "100000", "dialed": "5145551234"}
    assert switch.post(bearer(token), json=call)[1] == "fast"
    with switch.db.uow() as uow:
        apikeys.revoke_switch_token(uow, apikeys.list_switch_tokens(uow)[-1].id)
        uow.commit()
    response, path = switch.post(bearer(token), json=call)
    assert path is None
    assert _problem(response, 401)["code"] == "invalid_credentials"


CALL = {"account": "100000", "dialed": "5145551234"}


@pytest.mark.parametrize("cached", [False, True], ids=["new-token", "cached-token"])
@pytest.mark.parametrize(
    "auth",
    [
        "missing",
        "wrong_bearer",
        "wrong_basic",
        "other_basic_user",
        "basic_no_password",
        "bad_base64",
        "other_scheme",
    ],
)
def test_bad_credentials_are_the_routes_401_problem(
    switch: Switch, cached: bool, auth: str
) -> None:
    token = switch.warm_token() if cached else switch.new_token()
    headers = {
        "missing": {},
        "wrong_bearer": bearer(token + "x"),
        "wrong_basic": basic("kamailio", token + "x"),
        "other_basic_user": basic("admin", token),
        "basic_no_password": basic("kamailio", ""),
        "bad_base64": {"Authorization": "Basic ***"},
        "other_scheme": {"Authorization": f"Token {token}"},
    }[auth]
    response, path = switch.post(headers, json=CALL)
    assert path is None
    problem = _problem(response, 401)
    assert response.headers["www-authenticate"]
    assert problem["code"] in {"missing_credentials", "invalid_credentials", None}


BAD_BODIES = {
    "bad_transport": ({**CALL, "transport": "sctp"}, "transport"),
    "bad_source_ip": ({**CALL, "source_ip": "nope"}, "source_ip"),
    "missing_dialed": ({"account": "100000"}, "dialed"),
    "missing_account": ({"dialed": "5145551234"}, "account"),
    "bad_srtp": ({**CALL, "srtp": "maybe"}, "srtp"),
    "bad_trace": ({**CALL, "trace": "sometimes"}, "trace"),
    "long_pop": ({**CALL, "pop": "p" * 33}, "pop"),
    "empty_account": ({**CALL, "account": ""}, "account"),
}


@pytest.mark.parametrize("cached", [False, True], ids=["new-token", "cached-token"])
@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_fields_are_the_routes_422_problem_naming_the_field(
    switch: Switch, cached: bool, name: str
) -> None:
    body, field = BAD_BODIES[name]
    token = switch.warm_token() if cached else switch.new_token()
    response, path = switch.post(bearer(token), json=body)
    assert path is None
    problem = _problem(response, 422)
    assert field in {e["field"] for e in problem["errors"]}


@pytest.mark.parametrize("cached", [False, True], ids=["new-token", "cached-token"])
@pytest.mark.parametrize(
    "content",
    [
        b'{"account": "100000", "dialed": ',
        b"",
        b"[]",
        b'"100000"',
        b"null",
        b'{"account": "100000", "dialed": "5145551234"} trailing',
        b"\xff\xfe{}",
    ],
    ids=["truncated", "empty", "array", "string", "null", "trailing", "not-utf8"],
)
def test_malformed_json_is_the_routes_422_problem(
    switch: Switch, cached: bool, content: bytes
) -> None:
    token = switch.warm_token() if cached else switch.new_token()
    headers = {**bearer(token), "content-type": "application/json"}
    response, path = switch.post(headers, content=content)
    assert path is None
    problem = _problem(response, 422)
    assert problem["code"] == "validation_failed" and problem["errors"]


def test_a_bad_request_does_not_disturb_the_next_one(switch: Switch) -> None:
    token = switch.warm_token()
    _problem(switch.post(bearer(token), json={**CALL, "transport": "sctp"})[0], 422)
    response, path = switch.post(bearer(token), json=CALL)
    assert (response.status_code, path) == (200, "fast")
    assert response.json() == _expected(switch.app, CALL)


@pytest.mark.parametrize("cached", [False, True], ids=["new-token", "cached-token"])
def test_trace_false_omits_the_trace_and_the_default_keeps_it(switch: Switch, cached: bool) -> None:
    token = switch.warm_token() if cached else switch.new_token()
    call = {"account": "100000", "dialed": "011861012345678"}
    # Alternate, so that dropping the trace from one answer cannot leak into the next.
    answers = [
        switch.post(bearer(token), json=body)[0].json()
        for body in (
            {**call, "trace": False},
            call,
            {**call, "trace": False},
            {**call, "trace": True},
            call,
        )
    ]
    without, default, without_again, explicit, default_again = answers
    assert "trace" not in without and "trace" not in without_again
    assert default["trace"] and default == explicit == default_again
    assert without == without_again == {k: v for k, v in default.items() if k != "trace"}


def _post_in_pieces(
    switch: Switch, headers: dict[str, str], body: bytes, size: int
) -> tuple[Reply, str | None]:
    """POST the body as several ASGI ``http.request`` messages (``more_body``), as a server
    does with a long body. TestClient would read it all into one message first; httpx's
    ASGITransport sends each chunk of an async stream as its own message."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    async def send() -> Reply:
        transport = httpx.ASGITransport(app=switch.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(
                URL, content=chunks(), headers={**headers, "content-type": "application/json"}
            )

    before = switch.paths.copy()
    response = asyncio.run(send())
    used = [path for path in ("fast", "slow") if switch.paths[path] != before[path]]
    assert len(used) <= 1
    return response, used[0] if used else None


def test_a_small_body_in_pieces_is_still_served_by_the_fast_path(switch: Switch) -> None:
    token = switch.warm_token()
    body = json.dumps(CALL).encode()
    response, path = _post_in_pieces(switch, bearer(token), body, 7)
    assert (response.status_code, path) == (200, "fast"), response.text
    assert response.json() == _expected(switch.app, CALL)


def test_a_body_over_16_kib_in_pieces_goes_to_the_route_and_is_answered(switch: Switch) -> None:
    token = switch.warm_token()
    call = {"account": "100000_office", "dialed": "5145551234", "padding": "x" * (20 * 1024)}
    body = json.dumps(call).encode()
    assert len(body) > fastpath.MAX_BODY
    response, path = _post_in_pieces(switch, bearer(token), body, 1024)
    assert (response.status_code, path) == (200, "slow"), response.text
    assert response.json() == _expected(switch.app, call)


def test_the_route_sees_the_whole_of_a_long_body(switch: Switch) -> None:
    """The part read past 16 KiB is replayed too: a bad field at the very end is still seen."""
    token = switch.warm_token()
    body = json.dumps({**CALL, "padding": "x" * (20 * 1024), "transport": "sctp"}).encode()
    response, path = _post_in_pieces(switch, bearer(token), body, 4096)
    assert path is None
    assert "transport" in {e["field"] for e in _problem(response, 422)["errors"]}
    truncated, path = _post_in_pieces(switch, bearer(token), body[:-1], 4096)
    assert path is None
    _problem(truncated, 422)


def test_a_body_over_16_kib_in_one_piece_goes_to_the_route(switch: Switch) -> None:
    token = switch.warm_token()
    call = {**CALL, "padding": "x" * (20 * 1024)}
    response, path = switch.post(bearer(token), json=call)
    assert (response.status_code, path) == (200, "slow")
    assert response.json() == _expected(switch.app, call)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_not_served_by_the_fast_path(switch: Switch, method: str) -> None:
    token = switch.warm_token()
    before = switch.paths.copy()
    response = switch.client.request(method, URL, json=CALL, headers=bearer(token))
    assert switch.paths == before
    _problem(response, 405)


def test_other_paths_are_untouched(switch: Switch) -> None:
    token = switch.warm_token()
    before = switch.paths.copy()
    assert switch.client.get("/healthz").json()["status"] == "ok"
    inbound = switch.client.post(
        "/switch/v1/inbound", json={"did": "5145550101"}, headers=bearer(token)
    )
    assert inbound.json()["sip_user"] == "100000_office"
    assert switch.paths == before


def test_a_non_json_content_type_gets_the_same_answer_cached_or_not(switch: Switch) -> None:
    token = switch.new_token()
    headers = {**bearer(token), "content-type": "text/plain"}
    content = json.dumps(CALL).encode()
    first, first_path = switch.post(headers, content=content)
    second, second_path = switch.post(headers, content=content)
    assert first_path is None  # the route refuses it: the body is not JSON to FastAPI
    _problem(first, 422)
    assert (second.status_code, second_path) == (422, None)
