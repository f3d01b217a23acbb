"""The switch API (/switch/v1/*) as Kamailio calls it: token as Bearer or Basic, the real
policy, inbound chains carried as an opaque string, CDRs charged once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dialgate.services import accounts, apikeys, billing, demo
from dialgate.services.uow import Database

PROBLEM = "application/problem+json"


@pytest.fixture
def switch(app: FastAPI, api_db: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with api_db.uow() as uow:
        demo.load_demo(uow)
        _info, token = apikeys.create_switch_token(uow, name="montreal1")
        uow.commit()
    basic = base64.b64encode(f"kamailio:{token}".encode()).decode()
    with TestClient(app) as client:
        yield client, {"Authorization": f"Basic {basic}"}


def _problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    return body


def test_switch_token_is_accepted_as_basic_with_user_kamailio_only(
    app: FastAPI, api_db: Database
) -> None:
    with api_db.uow() as uow:
        demo.load_demo(uow)
        _info, token = apikeys.create_switch_token(uow, name="pop")
        uow.commit()
    call = {"account": "100000", "dialed": "5145551234"}

    def basic(user: str, password: str) -> dict[str, str]:
        raw = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    with TestClient(app) as client:
        url = "/switch/v1/authorize"
        assert client.post(url, json=call, headers=basic("kamailio", token)).status_code == 200
        assert client.post(url, json=call, headers={"Authorization": f"Bearer {token}"}).json()[
            "allow"
        ]
        _problem(client.post(url, json=call, headers=basic("admin", token)), 401)
        _problem(client.post(url, json=call, headers=basic("kamailio", token + "x")), 401)
        _problem(client.post(url, json=call), 401)


def test_authorize_answers_the_real_policy_with_sip_settings(switch) -> None:
    client, auth = switch
    allowed = client.post(
        "/switch/v1/authorize",
        json={"account": "100000", "dialed": "5145551234", "source_ip": "127.0.0.1",
              "pop": "montreal1", "transport": "UDP", "srtp": False, "call_id": "abc@x"},
        headers=auth,
    ).json()
    assert allowed["allow"] is True and allowed["destination"]["class"] == "canada"
    assert allowed["caller_id"] == "5145550100"
    assert allowed["sip"]["allowed_codecs"] and allowed["sip"]["nat"]
    # The media rules for rtpengine, derived from the account's settings.
    media = allowed["sip"]["media"]
    assert media["anchor"] is True and "RTP/AVP" in media["device_offer"].split()
    assert {"rtp_timeout", "rtp_hold_timeout", "music_on_hold"} <= set(allowed["sip"])
    denied = client.post(
        "/switch/v1/authorize", json={"account": "100000", "dialed": "011861012345678"},
        headers=auth,
    ).json()
    assert (denied["allow"], denied["reason"], denied["sip_code"]) == (
        False, "international_disabled", 403)
    assert denied["sip"] is None


def test_authorize_uses_one_policy_cache_per_app(switch, app: FastAPI) -> None:
    client, auth = switch
    call = {"account": "100000", "dialed": "5145551234"}
    client.post("/switch/v1/authorize", json=call, headers=auth)
    first = app.state.policy_cache
    client.post("/switch/v1/authorize", json=call, headers=auth)
    assert app.state.policy_cache is first


def test_settings_change_is_seen_by_the_next_authorize(switch, api_db: Database) -> None:
    client, auth = switch
    call = {"account": "100000", "dialed": "01133123456789"}
    denied = client.post("/switch/v1/authorize", json=call, headers=auth).json()
    assert denied["reason"] == "international_disabled"
    with api_db.uow() as uow:
        accounts.update_settings(uow, "100000", {"allow_international": "true"}, actor="t")
        uow.commit()
    assert client.post("/switch/v1/authorize", json=call, headers=auth).json()["allow"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"account": "100000", "dialed": "5145551234", "transport": "sctp"}, "transport"),
     ({"account": "100000", "dialed": "5145551234", "source_ip": "nope"}, "source_ip"),
     ({"account": "100000"}, "dialed"),
     ({"account": "100000", "dialed": "5145551234", "srtp": "maybe"}, "srtp"),
     ({"account": "100000", "dialed": "5145551234", "leg": "transfer"}, "leg")],
)
def test_bad_authorize_input_is_a_422_problem(switch, body: dict[str, object], field: str) -> None:
    client, auth = switch
    problem = _problem(client.post("/switch/v1/authorize", json=body, headers=auth), 422)
    assert field in {e["field"] for e in problem["errors"]}  # type: ignore[union-attr]


def test_inbound_new_call_goes_to_the_account_with_its_chain(switch) -> None:
    client, auth = switch
    answer = client.post("/switch/v1/inbound", json={"did": "5145550101", "event": "new",
                                                     "call_id": "c1"}, headers=auth).json()
    assert answer["kind"] == "account" and answer["sip_user"] == "100000_office"
    assert answer["chain"] == "account:100000_office"
    assert answer["dial_time"] > 0 and answer["account"] == "100000"
    busy = client.post("/switch/v1/inbound", json={"did": "5145550101", "event": "busy",
                                                   "chain": answer["chain"]}, headers=auth).json()
    assert (busy["kind"], busy["mailbox"]) == ("voicemail", "1001")
    assert busy["chain"] == "account:100000_office,vm:1001"
    # A leg to an account carries that account's SIP settings; other legs carry none.
    assert answer["sip"]["media"]["carrier_offer"] and busy["sip"] is None


def test_inbound_loop_ends_the_chain(switch, api_db: Database) -> None:
    client, auth = switch
    from dialgate.services import dids

    with api_db.uow() as uow:
        dids.set_did(uow, "5145550101", {"failover_busy": "account:100000_office"}, actor="t",
                     account="100000")
        uow.commit()
    answer = client.post("/switch/v1/inbound", json={"did": "5145550101", "event": "busy",
                                                     "chain": "account:100000_office"},
                         headers=auth).json()
    assert answer["kind"] == "none" and answer["loop_detected"] is True


def test_inbound_unknown_did_is_404_and_bad_event_or_chain_is_422(switch) -> None:
    client, auth = switch
    _problem(client.post("/switch/v1/inbound", json={"did": "5145559999"}, headers=auth), 404)
    _problem(client.post("/switch/v1/inbound", json={"did": "5145550100", "event": "later"},
                         headers=auth), 422)
    _problem(client.post("/switch/v1/inbound", json={"did": "5145550100", "event": "busy",
                                                     "chain": "garbage"}, headers=auth), 422)


def test_cdr_is_recorded_and_charged_once(switch, api_db: Database) -> None:
    client, auth = switch
    with api_db.uow(write=False) as uow:
        before = billing.current_balance(uow, "100000")
    cdr = {"call_id": "call-1@pop", "account": "100000", "dialed": "5145551234",
           "started_at": "2026-01-01T10:00:00Z", "answered_at": "2026-01-01T10:00:05Z",
           "ended_at": "2026-01-01T10:01:06Z", "disposition": "answered", "route": "value",
           "rate_per_minute": "0.0100", "increment_s": 60, "flat_fee": "0", "extra": 1}
    first = client.post("/switch/v1/cdr", json=cdr, headers=auth).json()
    again = client.post("/switch/v1/cdr", json=cdr, headers=auth).json()
    assert first["duplicate"] is False and again["duplicate"] is True
    with api_db.uow(write=False) as uow:
        assert billing.current_balance(uow, "100000") == before - Decimal("0.02")
    bad = _problem(client.post("/switch/v1/cdr", json={**cdr, "disposition": "x"}, headers=auth),
                   422)
    assert "disposition" in {e["field"] for e in bad["errors"]}  # type: ignore[union-attr]


def test_a_forward_is_decided_for_the_dids_account_with_the_original_caller(
    switch, api_db: Database
) -> None:
    """leg=forward: the device checks (IP restriction here) do not apply, the caller ID shown
    is the one the switch sends; the inbound answer names the entry and its override."""
    client, auth = switch
    from dialgate.services import dids, forwardings

    with api_db.uow() as uow:
        accounts.update_settings(uow, "100000", {"ip_restriction_enabled": "yes",
                                                 "ip_restriction": "203.0.113.7"}, actor="t")
        entry = forwardings.add_forwarding(
            uow, "100000", {"phone_number": "4165550143", "callerid_override": "4385550111",
                            "diversion_header": "yes"}, actor="t")
        dids.set_did(uow, "5145550101", {"routing": entry.ref}, actor="t", account="100000")
        uow.commit()
    inbound = client.post("/switch/v1/inbound", json={"did": "5145550101"}, headers=auth).json()
    assert (inbound["kind"], inbound["forward_number"], inbound["forward_callerid"]) == (
        "forward", "+14165550143", "4385550111")
    assert inbound["forward_diversion"] == "1"
    call = {"account": "100000", "dialed": inbound["forward_number"], "pop": "montreal1",
            "caller_id": "6135550123", "trace": False}
    device = client.post("/switch/v1/authorize", json=call, headers=auth).json()
    forward = client.post("/switch/v1/authorize", json={**call, "leg": "forward"},
                          headers=auth).json()
    assert (device["allow"], device["reason"]) == (False, "ip_not_allowed")
    assert (forward["allow"], forward["caller_id"]) == (True, "6135550123")
    assert forward["destination"]["e164"] == "+14165550143" and forward["max_duration_s"] > 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("rate_per_minute", 1e20, "out_of_range"),
        ("rate_per_minute", "1000.000001", "out_of_range"),
        ("rate_per_minute", "0.0000001", "too_many_decimals"),
        ("flat_fee", "1e6", "out_of_range"),
    ],
)
def test_cdr_with_an_absurd_amount_is_a_422_naming_the_field_and_charges_nothing(
    switch, api_db: Database, field: str, value: object, code: str
) -> None:
    client, auth = switch
    with api_db.uow(write=False) as uow:
        before = billing.balance(uow, "100000")
    cdr = {"call_id": "absurd@pop", "account": "100000", "dialed": "5145551234",
           "started_at": "2026-01-01T10:00:00Z", "answered_at": "2026-01-01T10:00:05Z",
           "ended_at": "2026-01-01T10:01:06Z", "disposition": "answered", "route": "value",
           "rate_per_minute": "0.01", "increment_s": 60, "flat_fee": "0", field: value}
    body = _problem(client.post("/switch/v1/cdr", json=cdr, headers=auth), 422)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)]  # type: ignore[union-attr,index]
    with api_db.uow(write=False) as uow:
        assert billing.balance(uow, "100000") == before  # no charge, no call record


def test_cdr_longer_than_a_week_is_refused(switch) -> None:
    client, auth = switch
    cdr = {"call_id": "long@pop", "account": "100000", "dialed": "5145551234",
           "started_at": "2026-01-01T10:00:00Z", "answered_at": "2026-01-01T10:00:05Z",
           "ended_at": "2026-01-08T10:00:01Z", "disposition": "answered", "route": "value",
           "rate_per_minute": "0.01", "increment_s": 60, "flat_fee": "0"}
    body = _problem(client.post("/switch/v1/cdr", json=cdr, headers=auth), 422)
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("ended_at", "call_too_long")]  # type: ignore[union-attr,index]
