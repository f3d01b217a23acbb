"""Outbound INVITEs through Kamailio with the real Dialgate deciding: every denial reason of the
call-policy contract reaches the caller as its SIP code and message; allowed calls reach the
decided carrier with the decided caller ID, codecs and dialog timeout; calls are ended at their
maximum duration, recorded and charged once; settings changes apply to the next call."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from dialgate.adapters.db.models import SubscriberRow
from dialgate.domain.policy import AuthorizeRequest, Decision
from dialgate.services import billing
from dialgate.services.authorize import PolicyCache, authorize_call

from .conftest import REALM, Kamailio, RealDialgate
from .sip.sipclient import SipAgent, reject

POP = "montreal1"
TIMED_NUMBER = "5145560123"  # see conftest.TEST_RATES


@pytest.fixture(scope="module")
def policy(dialgate: RealDialgate) -> Iterator[Callable[..., Decision]]:
    """The decision the same service gives in this process: what the SIP answer must match."""
    cache = PolicyCache(dialgate.db)

    def decide(account: str, dialed: str, **kw: Any) -> Decision:
        cache.invalidate([account])
        return authorize_call(cache, AuthorizeRequest.checked(account, dialed, pop=POP,
                                                              source_ip="127.0.0.1", **kw))

    yield decide
    dialgate.db.after_commit_hooks.remove(cache.invalidate)


# (reason, settings, dialed). unknown_account cannot reach Dialgate through the proxy: a
# caller must pass digest authentication first, and Dialgate keeps the subscriber row and the
# account in one transaction. test_subscriber_without_account_... covers the defensive path.
DENIALS: list[tuple[str, dict[str, Any], str]] = [
    ("ip_not_allowed", {"ip_restriction_enabled": True, "ip_restriction": "192.0.2.10"},
     "5145551234"),
    ("pop_not_allowed", {"pop_restriction_enabled": True, "pop_restriction": "toronto1"},
     "5145551234"),
    ("invalid_number", {}, "123"),
    ("blocked_number", {}, "5145551212"),
    ("directory_assistance_disabled", {}, "411"),
    ("international_disabled", {}, "01144201234567"),
    ("country_not_allowed", {"allow_international": True, "allowed_countries": "GB"},
     "0033123456789"),
    ("no_rate", {"allow_international": True}, "01197699112233"),
    ("rate_above_limit", {"allow_international": True, "international_max_rate": "0.05",
                          "international_route": "premium"}, "01144701234567"),
    ("e911_no_callerid", {}, "911"),
]


@pytest.mark.parametrize(("reason", "settings", "dialed"), DENIALS,
                         ids=[d[0] for d in DENIALS])
def test_denial_reaches_the_caller_as_its_sip_code_and_message(
    ua: SipAgent, account, policy, reason: str, settings: dict[str, Any], dialed: str
) -> None:
    user, password = account(**settings)
    expected = policy(user, dialed)
    assert (expected.allow, expected.reason) == (False, reason), expected.trace
    dlg = ua.invite(dialed, user=user, password=password)
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (expected.sip_code, expected.message)


def test_insufficient_balance_is_402(ua: SipAgent, account, policy) -> None:
    user, password = account(balance="0")
    expected = policy(user, "5145551234")
    assert expected.reason == "insufficient_balance"
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (402, expected.message)


def test_disabled_account_is_refused(
    ua: SipAgent, account, policy, dialgate: RealDialgate
) -> None:
    user, password = account()
    dialgate.accounts.set_enabled(user, False, reason="fraud")
    expected = policy(user, "5145551234")
    assert expected.reason == "account_disabled"
    dialgate.wait_decision(user, "5145551234", reason=expected.reason)
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (403, expected.message)


def test_encrypted_account_without_srtp_over_tls_gets_488(
    kamailio: Kamailio, account, policy
) -> None:
    user, password = account(encrypted_sip=True)
    expected = policy(user, "5145551234", transport="tls", srtp=False)
    assert expected.reason == "encryption_required"
    assert kamailio.tls_port is not None
    tls = SipAgent(("127.0.0.1", kamailio.tls_port), transport="tls", domain=REALM)
    try:
        dlg = tls.invite("5145551234", user=user, password=password, srtp=False)
        assert dlg.final is not None
        assert (dlg.final.code, dlg.final.reason) == (488, expected.message)
    finally:
        tls.close()


def test_subscriber_without_account_is_unknown_to_dialgate(
    ua: SipAgent, dialgate: RealDialgate, account
) -> None:
    # Defensive path only: a subscriber row left behind by hand (no Dialgate account).
    user, password = account()
    orphan = "39999999"
    with dialgate.db.uow() as uow:
        row = uow.session.query(SubscriberRow).filter_by(username=user).one()
        uow.session.add(SubscriberRow(username=orphan, domain=row.domain, password="",
                                      ha1=_ha1(orphan, password), ha1b="",
                                      max_expiry=3600, encrypted_sip=0, nat="yes"))
        uow.commit()
    dlg = ua.invite("5145551234", user=orphan, password=password)
    assert dlg.final is not None and dlg.final.code == 404


def _ha1(user: str, password: str) -> str:
    import hashlib

    return hashlib.md5(f"{user}:{REALM}:{password}".encode()).hexdigest()


def _dlg_block(kamailio: Kamailio, call_id: str) -> str:
    out = kamailio.rpc("dlg.list")
    at = out.index(call_id)
    return out[max(0, at - 300): at + 2500]


def test_allowed_call_reaches_the_decided_carrier_with_caller_id_codecs_and_timeout(
    kamailio: Kamailio, ua: SipAgent, account, policy, carriers
) -> None:
    user, password = account(balance="1.00", callerid_number="5145550177",
                             canada_route="premium", allowed_codecs="ulaw,g729",
                             dtmf_mode="rfc2833")
    expected = policy(user, "5145551234")
    assert expected.allow and expected.route == "premium"
    assert expected.caller_id == "5145550177"
    dlg = ua.invite("5145551234", user=user, password=password,
                    codecs=("PCMA", "PCMU", "G729", "G722"))
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["premium"].wait_request("INVITE")
    assert carriers["value"].received == []
    assert inv.ruri.startswith(f"sip:{expected.destination.e164}@")  # type: ignore[union-attr]
    assert "5145550177" in inv.header("P-Asserted-Identity")
    assert "sip:5145550177@" in inv.header("From")
    assert inv.sdp_codecs() == ["PCMU", "G729", "telephone-event"]
    # 1.00 at the premium Canada rate pays for fewer seconds than the domestic cap.
    assert expected.max_duration_s is not None and expected.max_duration_s < 14400
    assert f"lifetime: {expected.max_duration_s}" in _dlg_block(kamailio, dlg.call_id)
    ua.bye(dlg)


def test_tollfree_call_from_a_canadian_pop_goes_to_the_canadian_carrier(
    ua: SipAgent, account, policy, carriers
) -> None:
    user, password = account()
    expected = policy(user, "8005551234")
    assert expected.carrier == "canadian"
    dlg = ua.invite("8005551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    assert carriers["tollfree_ca"].wait_request("INVITE").ruri.startswith("sip:+18005551234@")
    assert carriers["tollfree_us"].received == []
    ua.bye(dlg)


def test_emergency_call_goes_to_the_emergency_carrier_with_the_e911_caller_id(
    ua: SipAgent, account, carriers
) -> None:
    user, password = account(e911_callerid="5145550142")
    dlg = ua.invite("911", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    inv = carriers["emergency"].wait_request("INVITE")
    assert "5145550142" in inv.header("P-Asserted-Identity")
    ua.bye(dlg)


def test_voicemail_code_goes_to_the_media_server_with_the_mailbox(
    ua: SipAgent, dialgate: RealDialgate, carriers
) -> None:
    # The demo account has mailbox 1001 as its voicemail.
    dlg = ua.invite("*97", user="100000", password="DemoPass123")
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["media"].wait_request("INVITE")
    assert inv.header("X-Dialgate-Action") == "voicemail"
    assert inv.header("X-Dialgate-Mailbox") == "1001"
    ua.bye(dlg)


def test_inband_dtmf_strips_telephone_event(ua: SipAgent, account, carriers) -> None:
    user, password = account(dtmf_mode="inband")
    dlg = ua.invite("5145551234", user=user, password=password, codecs=("PCMU", "PCMA"))
    inv = carriers["value"].wait_request("INVITE")
    assert inv.sdp_codecs() == ["PCMU", "PCMA"]
    ua.bye(dlg)


def _ledger(dialgate: RealDialgate, number: str) -> list[billing.TransactionView]:
    today = datetime.now(UTC).date()
    with dialgate.db.uow(write=False) as uow:
        return billing.transaction_history(uow, number, today, today)


def _wait_charge(dialgate: RealDialgate, number: str, call_id: str,
                 timeout: float = 5.0) -> list[billing.TransactionView]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [t for t in _ledger(dialgate, number) if t.kind == "call"]
        if any(t.uniqueid == call_id for t in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"no charge for {call_id}: {_ledger(dialgate, number)}")


def test_completed_call_is_recorded_and_charged_once(
    ua: SipAgent, account, policy, dialgate: RealDialgate, carriers
) -> None:
    user, password = account(balance="5.00")
    expected = policy(user, "5145551234")
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    time.sleep(1.1)
    assert ua.bye(dlg).code == 200
    charges = _wait_charge(dialgate, user, dlg.call_id)
    time.sleep(0.5)  # a duplicate record would land now
    charges = [t for t in _ledger(dialgate, user) if t.kind == "call"]
    assert [t.uniqueid for t in charges] == [dlg.call_id]
    # One billing increment (60 s) at the decided rate, whatever the 1-2 s of talk.
    assert expected.rate_per_minute is not None
    assert charges[0].amount == -(expected.rate_per_minute * expected.increment_s / 60)
    with dialgate.db.uow(write=False) as uow:
        assert billing.current_balance(uow, user) == Decimal("5.00") + charges[0].amount


def test_call_is_ended_with_bye_to_both_sides_at_max_duration_and_charged(
    ua: SipAgent, account, policy, dialgate: RealDialgate, carriers
) -> None:
    # The test deck bills 514-556 by the second at $0.60/min: $0.03 pays for 3 seconds, so
    # the real policy decides a 3 s call and Kamailio's dialog timer ends it.
    user, password = account(balance="0.03")
    expected = policy(user, TIMED_NUMBER)
    assert expected.allow and expected.max_duration_s == 3, expected.trace
    t0 = time.monotonic()
    dlg = ua.invite(TIMED_NUMBER, user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    bye_caller = ua.wait_request("BYE", timeout=8)
    bye_carrier = carriers["value"].wait_request("BYE", timeout=5)
    elapsed = time.monotonic() - t0
    assert bye_caller.call_id == dlg.call_id and bye_carrier.call_id
    # Kamailio's dialog timer counts whole-second ticks: a 3 s limit set 0.9 s into a tick
    # expires 2.1 s later. Anything from 2 s on is the timer, not an early hang-up.
    assert 2.0 <= elapsed <= 5.0, elapsed
    charges = _wait_charge(dialgate, user, dlg.call_id)
    assert [t.uniqueid for t in charges] == [dlg.call_id]
    assert Decimal("-0.05") <= charges[0].amount < 0
    from sqlalchemy import select

    from dialgate.adapters.db.models import CdrRow

    with dialgate.db.uow(write=False) as uow:
        reason = uow.session.scalar(select(CdrRow.end_reason).where(
            CdrRow.call_id == dlg.call_id))
    assert reason == "max_duration"


def test_busy_carrier_is_recorded_as_busy_and_not_charged(
    ua: SipAgent, account, dialgate: RealDialgate, carriers
) -> None:
    carriers["value"].uas = reject(486, "Busy Here")
    user, password = account()
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 486
    deadline = time.monotonic() + 5
    from sqlalchemy import select

    from dialgate.adapters.db.models import CdrRow

    while time.monotonic() < deadline:
        with dialgate.db.uow(write=False) as uow:
            row = uow.session.scalars(select(CdrRow).where(CdrRow.call_id == dlg.call_id)).first()
            if row is not None:
                assert (row.disposition, row.answered_at, Decimal(row.cost)) == (
                    "busy", None, Decimal(0))
                break
        time.sleep(0.05)
    else:
        raise AssertionError("no CDR for the busy attempt")
    assert [t for t in _ledger(dialgate, user) if t.kind == "call"] == []


def test_settings_change_applies_to_the_next_call_without_restart(
    ua: SipAgent, account, policy, dialgate: RealDialgate, carriers
) -> None:
    user, password = account()
    first = ua.invite("01144201234567", user=user, password=password)
    assert first.final is not None and first.final.code == 403
    refused = policy(user, "01144201234567").reason
    dialgate.accounts.set(user, allow_international=True)
    allowed = policy(user, "01144201234567")
    assert allowed.allow
    dialgate.wait_decision(user, "01144201234567", reason=allowed.reason)
    second = ua.invite("01144201234567", user=user, password=password)
    assert second.final is not None and second.final.code == 200
    assert carriers["value"].wait_request("INVITE").ruri.startswith("sip:+44201234567@")
    ua.bye(second)
    dialgate.accounts.set(user, allow_international=False)
    dialgate.wait_decision(user, "01144201234567", reason=refused)
    third = ua.invite("01144201234567", user=user, password=password)
    assert third.final is not None and third.final.code == 403


def test_dialgate_stopped_gives_503_fast_and_calls_flow_again_when_it_is_back(
    ua: SipAgent, account, dialgate: RealDialgate, carriers
) -> None:
    user, password = account()
    dialgate.server.stop()
    try:
        t0 = time.monotonic()
        dlg = ua.invite("5145551234", user=user, password=password)
        assert dlg.final is not None
        assert (dlg.final.code, dlg.final.reason) == (503, "Call Authorization Unavailable")
        assert time.monotonic() - t0 < 1.0 + 0.5  # http_timeout_s = 1
    finally:
        dialgate.server.start()
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    ua.bye(dlg)


def test_unauthenticated_invite_is_challenged(ua: SipAgent) -> None:
    dlg = ua.invite("5145551234", user="100000")
    assert dlg.final is not None and dlg.final.code == 407
    assert re.search(rf'realm="{re.escape(REALM)}"', dlg.final.header("Proxy-Authenticate"))
