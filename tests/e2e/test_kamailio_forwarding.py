"""Every leg that leaves toward a carrier passes the policy, through the real Kamailio and the
real Dialgate: a DID forwarded to a phone number is an outbound call of the DID's account
(allowed and charged, refused and failed over, refused for the balance, cut at its max call
time), and a device's blind transfer (REFER) to a number the account may not call never
reaches a carrier.

The calling "PSTN" is the tollfree_ca carrier's UA (a carrier by source address), so the value
and premium carriers see only the legs Kamailio sends out.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import CdrRow
from dialgate.services import billing, dids, forwardings, mailboxes

from .conftest import REALM, Kamailio, RealDialgate
from .sip.sipclient import SipAgent, SipMessage, answer

CALLER = "4385550123"  # who the carrier says is calling
US_NUMBER = "2125550143"  # US48: the premium route, $0.01/min
UK_MOBILE = "011447012345678"
TIMED_NUMBER = "5145560123"  # conftest.TEST_RATES: $0.60/min billed by the second (value)
_DID_SEQ = itertools.count(1)


@dataclass
class Forwarded:
    account: str
    did: str  # as the carrier dials it
    ref: str  # fwd:<id>


@pytest.fixture
def forwarded_did(
    dialgate: RealDialgate, account: Callable[..., tuple[str, str]]
) -> Callable[..., Forwarded]:
    """An account whose new DID routes to a forwarding to ``number``."""

    def make(number: str, *, balance: str = "10.00", settings: dict[str, str] | None = None,
             **did_settings: str) -> Forwarded:
        user, _password = account(balance=balance, **(settings or {}))
        did = f"514558{next(_DID_SEQ):04d}"
        with dialgate.db.uow() as uow:
            mailboxes.add_mailbox(uow, user, "2001", name="Main box")
            entry = forwardings.add_forwarding(
                uow, user, {"phone_number": number, "description": "Mobile"}, actor="e2e")
            uow.session.flush()
            dids.add_did(uow, user, did, {"routing": entry.ref, "dial_time": "5",
                                          **did_settings}, actor="e2e")
            uow.commit()
        return Forwarded(user, "1" + did, entry.ref)

    return make


@pytest.fixture
def pstn(carriers: dict[str, SipAgent]) -> Iterator[SipAgent]:
    yield carriers["tollfree_ca"]


def _records(dialgate: RealDialgate, *call_ids: str, timeout: float = 5.0) -> dict[str, CdrRow]:
    """The records of these call ids once all have landed (polled with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        with dialgate.db.uow(write=False) as uow:
            rows = {r.call_id: r for r in uow.session.scalars(
                select(CdrRow).where(CdrRow.call_id.in_(call_ids)))}
            uow.session.expunge_all()
        if len(rows) == len(call_ids) or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def _charges(dialgate: RealDialgate, number: str) -> list[billing.TransactionView]:
    today = datetime.now(UTC).date()
    with dialgate.db.uow(write=False) as uow:
        return [t for t in billing.transaction_history(uow, number, today, today)
                if t.kind == "call"]


def _invites_to(agent: SipAgent, user: str) -> list[SipMessage]:
    return [m for m in agent.received
            if not m.is_response and m.method == "INVITE" and f":{user}@" in m.ruri]


def test_forward_to_a_us_number_connects_through_the_decided_carrier_and_is_charged(
    forwarded_did, pstn: SipAgent, carriers, dialgate: RealDialgate
) -> None:
    fwd = forwarded_did(US_NUMBER)
    with dialgate.db.uow() as uow:
        forwardings.set_forwarding(uow, fwd.account, fwd.ref[4:], {"diversion_header": "1"},
                                   actor="e2e")
        plain = forwardings.add_forwarding(
            uow, fwd.account, {"phone_number": US_NUMBER, "callerid_override": "4385550111"},
            actor="e2e")
        other_did = f"514559{next(_DID_SEQ):04d}"
        dids.add_did(uow, fwd.account, other_did, {"routing": plain.ref}, actor="e2e")
        uow.commit()
    dlg = pstn.invite(fwd.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    # US48 is on the premium route only: the leg goes to the premium carrier, in E.164,
    # still showing who calls, and saying which DID forwarded it.
    leg = carriers["premium"].wait_request("INVITE")
    assert leg.ruri.startswith("sip:+12125550143@") and leg.call_id == dlg.call_id
    assert CALLER in leg.header("From")
    assert leg.header("Diversion").startswith(f"<sip:{fwd.did[1:]}@")
    time.sleep(1.1)  # whole seconds on the switch: talk for at least one
    assert pstn.bye(dlg).code == 200
    rows = _records(dialgate, dlg.call_id, f"{dlg.call_id}/fwd")
    inbound, outbound = rows[dlg.call_id], rows[f"{dlg.call_id}/fwd"]
    assert (inbound.direction, Decimal(inbound.cost)) == ("inbound", Decimal(0))
    assert (outbound.direction, outbound.caller, outbound.dialed, outbound.route) == (
        "outbound", fwd.account, "+12125550143", "premium")
    assert outbound.disposition == "answered" and Decimal(outbound.cost) > 0
    charges = _charges(dialgate, fwd.account)
    assert [c.uniqueid for c in charges] == [f"{dlg.call_id}/fwd"]
    assert charges[0].amount == -Decimal(outbound.cost)
    # Another entry overrides the caller ID (and adds no Diversion header).
    second = pstn.invite("1" + other_did, user="carrier", from_user=CALLER)
    assert second.final is not None and second.final.code == 200, second.final
    leg2 = next(m for m in _invites_to(carriers["premium"], "+12125550143")
                if m.call_id == second.call_id)
    assert "4385550111" in leg2.header("P-Asserted-Identity") and not leg2.header("Diversion")
    assert pstn.bye(second).code == 200


def test_forward_to_an_international_number_with_international_disabled_goes_to_the_failover(
    forwarded_did, pstn: SipAgent, carriers, dialgate: RealDialgate
) -> None:
    fwd = forwarded_did(UK_MOBILE, failover_unreachable="vm:2001")
    dlg = pstn.invite(fwd.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["media"].wait_request("INVITE")
    assert inv.header("X-Dialgate-Mailbox") == "2001"
    assert pstn.bye(dlg).code == 200
    for name in ("value", "premium"):
        assert _invites_to(carriers[name], "+447012345678") == []
        assert _invites_to(carriers[name], UK_MOBILE) == []
    rows = _records(dialgate, dlg.call_id)
    assert rows[dlg.call_id].direction == "inbound"
    time.sleep(0.3)  # a forward record would have landed with the inbound one
    assert _records(dialgate, f"{dlg.call_id}/fwd", timeout=0) == {}
    assert _charges(dialgate, fwd.account) == []


def test_forward_refused_for_the_balance_is_answered_with_the_decisions_code(
    forwarded_did, pstn: SipAgent, carriers, dialgate: RealDialgate
) -> None:
    fwd = forwarded_did(TIMED_NUMBER, balance="0.00")  # no failover: the chain ends here
    dlg = pstn.invite(fwd.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 402, dlg.final
    for name in ("value", "premium"):
        assert _invites_to(carriers[name], "+15145560123") == []
    row = _records(dialgate, dlg.call_id)[dlg.call_id]
    assert (row.direction, row.disposition) == ("inbound", "failed")
    assert _charges(dialgate, fwd.account) == []


def test_forward_is_ended_at_its_max_call_time_and_charged(
    forwarded_did, pstn: SipAgent, carriers, dialgate: RealDialgate
) -> None:
    # $0.03 at $0.60/min by the second pays for 3 seconds: the policy decides a 3 s leg.
    fwd = forwarded_did(TIMED_NUMBER, balance="0.03")
    t0 = time.monotonic()
    dlg = pstn.invite(fwd.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    assert carriers["value"].wait_request("INVITE").ruri.startswith("sip:+15145560123@")
    bye_caller = pstn.wait_request("BYE", timeout=8)
    bye_leg = carriers["value"].wait_request("BYE", timeout=5)
    elapsed = time.monotonic() - t0
    assert bye_caller.call_id == dlg.call_id == bye_leg.call_id
    # Whole-second dialog ticks: 3 s set part-way into a tick expires after 2 s or more.
    assert 2.0 <= elapsed <= 5.0, elapsed
    rows = _records(dialgate, dlg.call_id, f"{dlg.call_id}/fwd")
    outbound = rows[f"{dlg.call_id}/fwd"]
    assert outbound.disposition == "answered" and 1 <= outbound.billed_s <= 4
    [charge] = _charges(dialgate, fwd.account)
    assert Decimal("-0.05") <= charge.amount < 0


def _refer(agent: SipAgent, dlg, target: str) -> SipMessage:
    dlg.cseq += 1
    msg = agent._in_dialog(dlg, "REFER", cseq=dlg.cseq)
    msg.headers.append(("Refer-To", f"<sip:{target}@{REALM}>"))
    msg.headers.append(("Referred-By", f"<{dlg.local_uri}>"))
    agent.send(msg)
    return agent.wait_response(dlg.call_id, "REFER")


@pytest.fixture
def phone(kamailio: Kamailio, account) -> Iterator[tuple[SipAgent, str, str]]:
    user, password = account()  # international calls disabled (the default)
    agent = SipAgent(kamailio.addr, domain=REALM, uas=answer())
    yield agent, user, password
    agent.close()


def test_blind_transfer_to_an_international_number_never_reaches_the_carrier(
    phone: tuple[SipAgent, str, str], carriers
) -> None:
    agent, user, password = phone
    dlg = agent.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    carriers["value"].wait_request("INVITE")
    answer_ = _refer(agent, dlg, UK_MOBILE)
    assert (answer_.code, answer_.reason) == (403, "International calls are disabled for this "
                                                   "account.")
    time.sleep(0.3)  # what Kamailio would relay is sent at once
    for name in ("value", "premium"):
        assert [m for m in carriers[name].received if m.method == "REFER"] == []
        assert _invites_to(carriers[name], "447012345678") == []
    assert agent.bye(dlg).code == 200


def test_allowed_transfer_is_passed_on_and_a_forged_in_dialog_invite_is_refused(
    phone: tuple[SipAgent, str, str], carriers
) -> None:
    agent, user, password = phone
    dlg = agent.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    carriers["value"].wait_request("INVITE")
    # Canada is allowed: the REFER goes on to the carrier (whose UA answers 501 here).
    assert _refer(agent, dlg, "5145550177").code == 501
    assert carriers["value"].wait_request("REFER").header("Refer-To").startswith(
        "<sip:5145550177@")
    assert agent.bye(dlg).code == 200
    # A request with a to-tag and a Route to this proxy but no dialog behind it: no credentials
    # were asked, so it must not reach a carrier.
    forged = agent.request(
        "INVITE", f"sip:{UK_MOBILE}@127.0.0.1:{carriers['value'].port}",
        from_uri=f"sip:{user}@{REALM}", to_uri=f"sip:{UK_MOBILE}@{REALM}", call_id="forged1",
        cseq=1, from_tag="f1", to_tag="t1",
        headers=[("Route", f"<sip:127.0.0.1:{agent.proxy[1]};lr;did=abc.def>")])
    agent.send(forged)
    assert agent.wait_response("forged1", "INVITE").code == 403
    assert _invites_to(carriers["value"], UK_MOBILE) == []


def test_a_devices_redirect_is_not_followed_toward_a_carrier(
    kamailio: Kamailio, account, dialgate: RealDialgate, pstn: SipAgent, carriers
) -> None:
    """A 3xx from the device of a DID call would make the calling carrier place a call the
    policy never saw: it ends the leg (unreachable) and the call moves to the failover."""
    user, password = account()
    did = f"514558{next(_DID_SEQ):04d}"
    with dialgate.db.uow() as uow:
        mailboxes.add_mailbox(uow, user, "2001", name="Main box")
        dids.add_did(uow, user, did, {"failover_unreachable": "vm:2001", "dial_time": "5"},
                     actor="e2e")
        uow.commit()

    def redirect(ua: SipAgent, req: SipMessage) -> None:
        ua.reply(req, 302, "Moved Temporarily", to_tag=ua._uas_tag(req),
                 headers=[("Contact", f"<sip:{UK_MOBILE}@127.0.0.1:{carriers['value'].port}>")])

    phone = SipAgent(kamailio.addr, domain=REALM, uas=redirect)
    try:
        assert phone.register(user, password)[-1].code == 200
        dlg = pstn.invite("1" + did, user="carrier", from_user=CALLER)
        assert dlg.final is not None and dlg.final.code == 200, dlg.final
        assert carriers["media"].wait_request("INVITE").header("X-Dialgate-Mailbox") == "2001"
        assert not [m for m in pstn.received if m.is_response and 300 <= m.code < 400]
        for name in ("value", "premium"):
            assert _invites_to(carriers[name], UK_MOBILE) == []
            assert _invites_to(carriers[name], "+447012345678") == []
        assert pstn.bye(dlg).code == 200
    finally:
        phone.close()
