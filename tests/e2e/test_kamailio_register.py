"""REGISTER through the generated Kamailio config: digest auth against Dialgate's subscriber
table, no user enumeration, per-account expiry cap, TLS required for encrypted accounts."""

from __future__ import annotations

import re

from .conftest import REALM, Kamailio
from .sip.sipclient import SipAgent


def _granted(ua: SipAgent, answer_contact: str) -> int:
    """The expiry granted to this agent's own binding."""
    m = re.search(rf"127\.0\.0\.1:{ua.port}>;expires=(\d+)", answer_contact)
    assert m, answer_contact
    return int(m.group(1))


def test_register_with_the_right_password_is_accepted(ua: SipAgent, account) -> None:
    user, password = account()
    answers = ua.register(user, password)
    assert [a.code for a in answers] == [401, 200]
    challenge = answers[0].header("WWW-Authenticate")
    assert f'realm="{REALM}"' in challenge and "qop=" in challenge


def test_wrong_password_and_unknown_user_get_the_same_answer(ua: SipAgent, account) -> None:
    user, _ = account()
    wrong = ua.register(user, "not-the-password")
    unknown = ua.register("999999_nobody", "whatever")
    assert [a.code for a in wrong] == [401, 403]
    assert [(a.code, a.reason) for a in wrong] == [(a.code, a.reason) for a in unknown]
    # same headers apart from per-request ones: nothing tells the two apart
    def shape(m):
        return sorted(k.lower() for k, _ in m.headers)
    assert shape(wrong[1]) == shape(unknown[1])


def test_expiry_above_max_expiry_is_capped(ua: SipAgent, account) -> None:
    user, password = account(max_expiry=120)
    answers = ua.register(user, password, expires=3600)
    assert answers[-1].code == 200
    assert _granted(ua, answers[-1].header("Contact")) == 120


def test_lower_requested_expiry_is_kept(ua: SipAgent, account) -> None:
    user, password = account(max_expiry=300)
    answers = ua.register(user, password, expires=90)
    assert _granted(ua, answers[-1].header("Contact")) == 90


def test_contact_expires_parameter_is_capped_too(ua: SipAgent, account) -> None:
    user, password = account(max_expiry=180)
    answers = ua.register(user, password, expires=None, contact_expires=1800)
    assert _granted(ua, answers[-1].header("Contact")) == 180


def test_encrypted_account_is_refused_over_udp(ua: SipAgent, account) -> None:
    user, password = account(encrypted_sip=True)
    answers = ua.register(user, password)
    assert [(a.code, a.reason) for a in answers] == [(401, "Unauthorized"),
                                                     (403, "Encrypted SIP Required")]


def test_encrypted_account_registers_over_tls(start_kamailio, account) -> None:
    kam: Kamailio = start_kamailio(tls=True)
    user, password = account(encrypted_sip=True)
    assert kam.tls_port is not None
    agent = SipAgent(("127.0.0.1", kam.tls_port), transport="tls", domain=REALM)
    try:
        assert [a.code for a in agent.register(user, password)] == [401, 200]
    finally:
        agent.close()
    tcp = SipAgent(kam.addr, transport="tcp", domain=REALM)
    try:
        assert [a.code for a in tcp.register(user, password)] == [401, 403]
    finally:
        tcp.close()
