"""Inbound calls from a carrier to a DID, routed by the real Dialgate: delivery to the device
registered for the account (or sub account), then each failover kind (busy, unreachable, no
answer) to each kind of target, and loops ended. Every call to a known DID ends with exactly
one inbound call record for the DID's account, never charged."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import CdrRow, TransactionRow
from dialgate.services import billing, dids, forwardings, lookups, mailboxes

from .conftest import REALM, Kamailio, RealDialgate
from .sip.sipclient import SipAgent, answer, reject, ring_forever

_DID_SEQ = itertools.count(1)


@dataclass
class Line:
    account: str
    password: str
    did: str  # as the carrier dials it (E.164 without +)
    phone: SipAgent | None


@pytest.fixture
def line(
    kamailio: Kamailio, dialgate: RealDialgate, account: Callable[..., tuple[str, str]]
) -> Iterator[Callable[..., Line]]:
    """An account with a DID and routing targets; its phone registered unless told not to.
    A DID setting ``fwd:mobile`` names the account's forwarding to 438-555-0199."""
    phones: list[SipAgent] = []

    def make(*, register: bool = True, **did_settings: str) -> Line:
        user, password = account()
        number = f"514557{next(_DID_SEQ):04d}"
        with dialgate.db.uow() as uow:
            mailboxes.add_mailbox(uow, user, "2001", name="Main box")
            for kind, name in (("ivr", "Menu"), ("queue", "Support"), ("grp", "Office"),
                               ("tc", "Hours")):
                mailboxes.add_routing_target(uow, user, kind, "1", name=name)
            mobile = forwardings.add_forwarding(
                uow, user, {"phone_number": "4385550199", "description": "Mobile"}, actor="e2e")
            uow.session.flush()
            chosen = {k: mobile.ref if v == "fwd:mobile" else v for k, v in did_settings.items()}
            dids.add_did(uow, user, number, {"dial_time": "5", **chosen}, actor="e2e")
            uow.commit()
        phone = None
        if register:
            phone = SipAgent(kamailio.addr, domain=REALM, uas=answer())
            phones.append(phone)
            assert phone.register(user, password)[-1].code == 200
        return Line(user, password, "1" + number, phone)

    yield make
    for phone in phones:
        phone.close()


def test_inbound_call_reaches_the_registered_device(line, carriers) -> None:
    ln = line()
    assert ln.phone is not None
    dlg = carriers["value"].invite(ln.did, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200
    assert ln.phone.wait_request("INVITE").ruri.startswith(f"sip:{ln.account}@")
    carriers["value"].bye(dlg)


def test_demo_office_did_reaches_the_sub_account_device(kamailio: Kamailio, carriers) -> None:
    phone = SipAgent(kamailio.addr, domain=REALM, uas=answer())
    try:
        assert phone.register("100000_office", "OfficePass123")[-1].code == 200
        dlg = carriers["value"].invite("15145550101", user="carrier")
        assert dlg.final is not None and dlg.final.code == 200
        assert phone.wait_request("INVITE").ruri.startswith("sip:100000_office@")
        carriers["value"].bye(dlg)
    finally:
        phone.register("100000_office", "OfficePass123", expires=0)
        phone.close()


MEDIA_TARGETS = [("vm:2001", "voicemail", "2001"), ("ivr:1", "ivr", "1"),
                 ("queue:1", "queue", "1"), ("grp:1", "ring_group", "1"),
                 ("tc:1", "time_condition", "1")]


@pytest.mark.parametrize(("target", "kind", "value"), MEDIA_TARGETS,
                         ids=[t[1] for t in MEDIA_TARGETS])
def test_busy_device_fails_over_to_a_media_server_target(
    line, carriers, target: str, kind: str, value: str
) -> None:
    ln = line(failover_busy=target)
    assert ln.phone is not None
    ln.phone.uas = reject(486, "Busy Here")
    dlg = carriers["value"].invite(ln.did, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200, dlg.final
    inv = carriers["media"].wait_request("INVITE")
    assert inv.ruri.startswith(f"sip:{kind}-{value}@")
    assert inv.header("X-Dialgate-Target") == kind
    assert inv.header("X-Dialgate-Value") == value
    assert inv.header("X-Dialgate-Did") == ln.did
    if kind == "voicemail":
        assert inv.header("X-Dialgate-Mailbox") == "2001"
    carriers["value"].bye(dlg)


def test_unregistered_account_fails_over_as_unreachable_to_a_forward(line, carriers) -> None:
    ln = line(register=False, failover_unreachable="fwd:mobile")
    dlg = carriers["value"].invite(ln.did, user="carrier")
    assert dlg.final is not None and dlg.final.code == 200
    # Forwards leave through the carrier Dialgate decided (Canada: value), in E.164.
    inv = carriers["value"].wait_request("INVITE")
    assert inv.ruri.startswith("sip:+14385550199@")
    carriers["value"].bye(dlg)


def test_silent_device_is_unreachable_not_noanswer(line, carriers) -> None:
    ln = line(failover_unreachable="sys:noservice", failover_noanswer="sys:busy")
    assert ln.phone is not None
    ln.phone.uas = lambda ua, req: None  # registered, but never answers at all
    dlg = carriers["value"].invite(ln.did, user="carrier", timeout=8)
    assert dlg.final is not None and dlg.final.code == 503


def test_no_answer_after_dial_time_fails_over_as_noanswer(line, carriers) -> None:
    ln = line(failover_noanswer="sys:busy", dial_time="5")  # the shortest dial time
    assert ln.phone is not None
    ln.phone.uas = ring_forever
    t0 = time.monotonic()
    dlg = carriers["value"].invite(ln.did, user="carrier", timeout=10)
    elapsed = time.monotonic() - t0
    assert dlg.final is not None and (dlg.final.code, dlg.final.reason) == (486, "Busy Here")
    assert 4.8 <= elapsed < 7.0
    assert ln.phone.wait_request("CANCEL").call_id  # the ringing phone was cancelled


@pytest.mark.parametrize(("action", "code"), [("busy", 486), ("noservice", 503),
                                              ("disconnected", 404), ("hangup", 603)])
def test_system_action_targets_are_replied(line, carriers, action: str, code: int) -> None:
    ln = line(register=False, routing=f"sys:{action}")
    dlg = carriers["value"].invite(ln.did, user="carrier")
    assert dlg.final is not None and dlg.final.code == code


def test_failover_loop_back_to_the_same_did_ends_the_chain(
    line, carriers, dialgate: RealDialgate
) -> None:
    ln = line()
    assert ln.phone is not None
    ln.phone.uas = reject(486, "Busy Here")
    # Busy -> forward to this same DID -> its routing (the account, already tried): a loop.
    with dialgate.db.uow() as uow:
        to_self = forwardings.add_forwarding(
            uow, ln.account, {"phone_number": ln.did[1:], "description": "Self"}, actor="e2e")
        dids.set_did(uow, ln.did[1:], {"failover_busy": to_self.ref}, actor="e2e",
                     account=ln.account)
        uow.commit()
    dlg = carriers["value"].invite(ln.did, user="carrier", timeout=8)
    assert dlg.final is not None and dlg.final.code == 480
    assert len([m for m in ln.phone.received if m.method == "INVITE"]) == 1


def test_unknown_did_is_404(carriers) -> None:
    dlg = carriers["value"].invite("19995550000", user="carrier")
    assert dlg.final is not None and dlg.final.code == 404


def test_non_carrier_invite_to_a_did_is_challenged(ua: SipAgent) -> None:
    dlg = ua.invite("15145550100", user="stranger")
    assert dlg.final is not None and dlg.final.code == 407


# -- call records -----------------------------------------------------------------------------

CALLER = "4385550123"  # the From user the carrier presents


def _records(dialgate: RealDialgate, call_id: str, *, timeout: float = 5.0) -> list[CdrRow]:
    """The call's records once the first has landed, read again after a pause in which a
    second one (a duplicate, or a record from another place in the config) would land too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with dialgate.db.uow(write=False) as uow:
            if uow.session.scalars(select(CdrRow.id).where(CdrRow.call_id == call_id)).first():
                break
        time.sleep(0.05)
    else:
        raise AssertionError(f"no call record for {call_id}")
    time.sleep(0.6)  # > the 100 ms flush tick and a retry
    with dialgate.db.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(CdrRow).where(CdrRow.call_id == call_id)))
        uow.session.expunge_all()
        return rows


def _call_charges(dialgate: RealDialgate, number: str) -> list[TransactionRow]:
    with dialgate.db.uow(write=False) as uow:
        account = lookups.get_account(uow, number)
        return list(uow.session.scalars(select(TransactionRow).where(
            TransactionRow.account_id == account.id, TransactionRow.kind == "call")))


def _balance(dialgate: RealDialgate, number: str) -> Decimal:
    with dialgate.db.uow(write=False) as uow:
        return billing.current_balance(uow, number)


def _assert_inbound(row: CdrRow, ln: Line, disposition: str) -> None:
    assert (row.direction, row.caller, row.dialed, row.caller_number, row.disposition) == (
        "inbound", ln.account, ln.did[1:], CALLER, disposition)
    assert (Decimal(row.cost), row.billed_s, row.route) == (Decimal(0), 0, None)
    assert Decimal(row.rate_per_minute) == Decimal(row.flat_fee) == Decimal(0)


def test_answered_inbound_call_gives_one_answered_record_for_the_dids_account_at_no_cost(
    line, carriers, dialgate: RealDialgate
) -> None:
    ln = line()
    assert ln.phone is not None
    before = _balance(dialgate, ln.account)
    t0 = datetime.now(UTC).replace(microsecond=0)
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 200
    time.sleep(1.1)  # the switch stamps whole seconds: talk for at least one
    assert carriers["value"].bye(dlg).code == 200
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, "answered")
    assert row.answered_at is not None
    assert t0 <= row.started_at <= row.answered_at <= row.ended_at <= datetime.now(UTC)
    assert row.duration_s >= 1
    with dialgate.db.uow(write=False) as uow:
        assert row.account_id == lookups.get_account(uow, ln.account).id
    assert _call_charges(dialgate, ln.account) == []
    assert _balance(dialgate, ln.account) == before


def test_inbound_call_answered_after_a_failover_gives_one_answered_record(
    line, carriers, dialgate: RealDialgate
) -> None:
    ln = line(failover_busy="vm:2001")
    assert ln.phone is not None
    ln.phone.uas = reject(486, "Busy Here")
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 200
    carriers["media"].wait_request("INVITE")
    assert carriers["value"].bye(dlg).code == 200
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, "answered")


def test_busy_device_at_the_end_of_the_chain_gives_one_busy_record(
    line, carriers, dialgate: RealDialgate
) -> None:
    ln = line()  # no failover: busy -> none
    assert ln.phone is not None
    ln.phone.uas = reject(486, "Busy Here")
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 480
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, "busy")
    assert row.answered_at is None and row.duration_s == 0
    assert _call_charges(dialgate, ln.account) == []


def test_unanswered_device_then_the_busy_action_gives_one_busy_record(
    line, carriers, dialgate: RealDialgate
) -> None:
    # The device rings out its dial time; the no-answer failover makes Kamailio answer busy:
    # the record says what the caller got.
    ln = line(failover_noanswer="sys:busy", dial_time="5")
    assert ln.phone is not None
    ln.phone.uas = ring_forever
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER, timeout=10)
    assert dlg.final is not None and dlg.final.code == 486
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, "busy")


CHAIN_ENDS = [
    ({"register": False}, 480, "failed"),  # unreachable, then none
    ({"routing": "sys:busy", "register": False}, 486, "busy"),
    ({"routing": "sys:noservice", "register": False}, 503, "failed"),
    ({"routing": "sys:disconnected", "register": False}, 404, "failed"),
    ({"routing": "sys:hangup", "register": False}, 603, "failed"),
    ({"routing": "none:", "register": False}, 480, "failed"),
]


@pytest.mark.parametrize(("settings", "code", "disposition"), CHAIN_ENDS,
                         ids=["unreachable", "sys-busy", "sys-noservice", "sys-disconnected",
                              "sys-hangup", "none"])
def test_a_call_kamailio_answers_itself_gives_one_record_of_what_the_caller_got(
    line, carriers, dialgate: RealDialgate, settings: dict[str, object], code: int,
    disposition: str
) -> None:
    register = bool(settings.pop("register", True))
    ln = line(register=register, **settings)
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == code
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, disposition)


def test_caller_hanging_up_while_the_device_rings_gives_one_noanswer_record(
    line, carriers, dialgate: RealDialgate
) -> None:
    ln = line()
    assert ln.phone is not None
    ln.phone.uas = ring_forever
    dlg = carriers["value"].invite(ln.did, user="carrier", from_user=CALLER, wait_final=False)
    ln.phone.wait_request("INVITE")
    time.sleep(0.2)
    assert carriers["value"].cancel(dlg).code == 200
    assert carriers["value"].wait_final(dlg).code == 487
    [row] = _records(dialgate, dlg.call_id)
    _assert_inbound(row, ln, "noanswer")


def test_a_call_to_an_unknown_did_leaves_no_record(carriers, dialgate: RealDialgate) -> None:
    dlg = carriers["value"].invite("19995550001", user="carrier", from_user=CALLER)
    assert dlg.final is not None and dlg.final.code == 404
    time.sleep(0.6)
    with dialgate.db.uow(write=False) as uow:
        assert uow.session.scalars(select(CdrRow).where(CdrRow.call_id == dlg.call_id)).all() == []
