"""``parse_authorize`` (the switch path's request parse without pydantic) against
``AuthorizeIn.model_validate_json`` on the same bodies: the same fields and values when pydantic
accepts, a ``ValidationError`` when it refuses (issue #18)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dialgate.entrypoints.switch.http import AuthorizeIn, LeanAuthorize, parse_authorize

FIELDS = ["account", "dialed", "source_ip", "pop", "caller_id", "transport", "srtp", "trace",
          "leg", "call_id"]
KAMAILIO = {"account": "500001", "dialed": "5145551234", "source_ip": "127.0.0.1",
            "pop": "montreal1", "caller_id": "500001", "transport": "udp",
            "call_id": "1-2@127.0.0.1", "trace": False, "srtp": False}


def outcome(parse: Any, body: bytes) -> tuple[str, Any]:
    try:
        parsed = parse(body)
    except ValidationError as exc:
        return "refused", sorted(str(e["loc"]) for e in exc.errors())
    values = asdict(parsed) if isinstance(parsed, LeanAuthorize) else parsed.model_dump()
    return "accepted", {name: (type(values[name]), values[name]) for name in FIELDS}


def assert_same(body: bytes) -> None:
    assert outcome(parse_authorize, body) == outcome(AuthorizeIn.model_validate_json, body)


def test_what_kamailio_sends_takes_the_lean_path_with_the_same_values() -> None:
    body = json.dumps(KAMAILIO).encode()
    parsed = parse_authorize(body)
    assert isinstance(parsed, LeanAuthorize)  # the cheap path, not pydantic
    assert_same(body)
    assert parsed.leg == "device" and parsed.trace is False  # defaults as AuthorizeIn's


@pytest.mark.parametrize("body", [
    b"", b"null", b"[]", b'"x"', b"{", b"{}", b'{"account": "1"}', b'{"dialed": "2"}',
    b'{"account": "", "dialed": "2"}', b'{"account": "1", "dialed": ""}',
    b'{"account": null, "dialed": "2"}', b'{"account": 500001, "dialed": "2"}',
    b'{"account": "1", "dialed": 5145551234}',
    b'{"account": "' + b"9" * 64 + b'", "dialed": "2"}',
    b'{"account": "' + b"9" * 65 + b'", "dialed": "2"}',
    b'{"account": "1", "dialed": "2", "pop": "' + b"p" * 33 + b'"}',
    b'{"account": "1", "dialed": "2", "leg": "forward"}',
    b'{"account": "1", "dialed": "2", "leg": "' + b"l" * 17 + b'"}',
    b'{"account": "1", "dialed": "2", "call_id": "' + b"c" * 257 + b'"}',
    b'{"account": "1", "dialed": "2", "transport": null}',
    b'{"account": "1", "dialed": "2", "source_ip": null, "pop": null, "caller_id": null}',
    b'{"account": "1", "dialed": "2", "srtp": "true", "trace": 0}',
    b'{"account": "1", "dialed": "2", "srtp": "yes"}',
    b'{"account": "1", "dialed": "2", "srtp": 1.0}',
    b'{"account": "1", "dialed": "2", "srtp": null}',
    b'{"account": "1", "dialed": "2", "trace": []}',
    b'{"account": "1", "dialed": "2", "account": "3"}',  # a repeated key: the last one wins
    b'{"account": "1", "dialed": "2", "extra": [1, {"a": null}], "n": 1e400}',
    b'{"account": "1", "dialed": "2", "big": 123456789012345678901234567890}',
    b'{"account": "1", "dialed": "2", "x": NaN}',
    b'{"account": "1", "dialed": "2",}',
    b'\xef\xbb\xbf{"account": "1", "dialed": "2"}',
    b'{"account": "\xff", "dialed": "2"}',
    b'{"account": "\\ud800", "dialed": "2"}',
    b'{"account": "caf\\u00e9", "dialed": "\xe2\x82\xac"}',
    b'{"account": "1", "dialed": "2"} trailing',
    b' {"account": "1", "dialed": "2"}\n',
])
def test_odd_and_bad_bodies_get_what_pydantic_gives(body: bytes) -> None:
    assert_same(body)


_text = st.one_of(st.text(max_size=70), st.sampled_from(["", "udp", "TLS", "device", "forward",
                                                         "127.0.0.1", "::1", "x" * 65]))
_value = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False),
                   _text, st.lists(st.integers(), max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "other"]), _value, max_size=11),
       st.booleans())
def test_any_object_gets_what_pydantic_gives(fields: dict[str, Any], kamailio: bool) -> None:
    body = {**KAMAILIO, **fields} if kamailio else fields
    assert_same(json.dumps(body).encode())
