"""REGISTER through the generated Kamailio config: digest auth against the HA1 digests the real
Dialgate keeps (main and sub accounts, password changes), no user enumeration, the account's
max_expiry cap, TLS required for encrypted accounts, no registration for a disabled account."""

from __future__ import annotations

import re

from dialgate.services import accounts

from .conftest import REALM, Kamailio, RealDialgate
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
    user, password = account(max_expiry="120")
    answers = ua.register(user, password, expires=3600)
    assert answers[-1].code == 200
    assert _granted(ua, answers[-1].header("Contact")) == 120


def test_lower_requested_expiry_is_kept(ua: SipAgent, account) -> None:
    user, password = account(max_expiry="300")
    answers = ua.register(user, password, expires=90)
    assert _granted(ua, answers[-1].header("Contact")) == 90


def test_contact_expires_parameter_is_capped_too(ua: SipAgent, account) -> None:
    user, password = account(max_expiry="180")
    answers = ua.register(user, password, expires=None, contact_expires=1800)
    assert _granted(ua, answers[-1].header("Contact")) == 180


def test_encrypted_account_is_refused_over_udp(ua: SipAgent, account) -> None:
    user, password = account(encrypted_sip=True)
    answers = ua.register(user, password)
    assert [(a.code, a.reason) for a in answers] == [(401, "Unauthorized"),
                                                     (403, "Encrypted SIP Required")]


def test_encrypted_account_registers_over_tls_only(kamailio: Kamailio, account) -> None:
    user, password = account(encrypted_sip=True)
    assert kamailio.tls_port is not None
    agent = SipAgent(("127.0.0.1", kamailio.tls_port), transport="tls", domain=REALM)
    try:
        assert [a.code for a in agent.register(user, password)] == [401, 200]
    finally:
        agent.close()
    tcp = SipAgent(kamailio.addr, transport="tcp", domain=REALM)
    try:
        assert [a.code for a in tcp.register(user, password)] == [401, 403]
    finally:
        tcp.close()


def test_demo_sub_account_registers_with_its_own_password(ua: SipAgent) -> None:
    assert ua.register("100000_office", "OfficePass123", expires=0)[-1].code == 200
    assert [a.code for a in ua.register("100000_office", "DemoPass123")] == [401, 403]


def test_sip_password_change_takes_effect_at_once(
    ua: SipAgent, account, dialgate: RealDialgate
) -> None:
    user, password = account()
    dialgate.accounts.set(user, sip_password="NewSip-pass-42")
    assert [a.code for a in ua.register(user, password)] == [401, 403]
    assert [a.code for a in ua.register(user, "NewSip-pass-42")] == [401, 200]


def test_max_expiry_change_applies_to_the_next_registration(
    ua: SipAgent, account, dialgate: RealDialgate
) -> None:
    user, password = account()
    assert _granted(ua, ua.register(user, password, expires=3600)[-1].header("Contact")) == 3600
    dialgate.accounts.set(user, max_expiry="300")
    assert _granted(ua, ua.register(user, password, expires=3600)[-1].header("Contact")) == 300


def test_disabled_account_cannot_register_until_it_is_enabled_again(
    ua: SipAgent, account, dialgate: RealDialgate
) -> None:
    user, password = account()
    dialgate.accounts.set_enabled(user, False, reason="non-payment")
    assert [(a.code, a.reason) for a in ua.register(user, password)] == [
        (401, "Unauthorized"), (403, "Account Disabled")]
    # Only the right password learns that the account is disabled: a wrong one gets the
    # plain 403 that an unknown user gets.
    wrong = ua.register(user, "not-the-password")
    unknown = ua.register("999999_nobody", "whatever")
    assert [(a.code, a.reason) for a in wrong] == [(401, "Unauthorized"), (403, "Forbidden")]
    assert [(a.code, a.reason) for a in wrong] == [(a.code, a.reason) for a in unknown]
    dialgate.accounts.set_enabled(user, True)
    assert [a.code for a in ua.register(user, password)] == [401, 200]


def test_sub_accounts_of_a_disabled_account_cannot_register(
    ua: SipAgent, account, dialgate: RealDialgate
) -> None:
    user, _ = account()
    with dialgate.db.uow() as uow:
        accounts.create_subaccount(uow, user, "desk", password="Desk-pass-123", actor="e2e")
        uow.commit()
    dialgate.accounts.set_enabled(user, False)
    with dialgate.db.uow() as uow:  # created while disabled: disabled too
        accounts.create_subaccount(uow, user, "fax", password="Fax-pass-1234", actor="e2e")
        uow.commit()
    for sub, password in ((f"{user}_desk", "Desk-pass-123"), (f"{user}_fax", "Fax-pass-1234")):
        assert ua.register(sub, password)[-1].reason == "Account Disabled"
    dialgate.accounts.set_enabled(user, True)
    for sub, password in ((f"{user}_desk", "Desk-pass-123"), (f"{user}_fax", "Fax-pass-1234")):
        assert [a.code for a in ua.register(sub, password, expires=0)] == [401, 200]
