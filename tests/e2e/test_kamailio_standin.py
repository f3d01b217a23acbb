"""What only a programmable backend can provoke: Kamailio's side of the switch contract when
Dialgate hangs, is slow, or answers an endless chain (or a caller hangs up while it is asked),
and the exact request Kamailio sends.
(Everything Dialgate decides is tested against the real Dialgate in the other modules.)"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .conftest import REALM, Kamailio
from .sip.sipclient import SipAgent, answer, reject
from .standin import StandInSwitch, allow


@pytest.fixture
def sua(standin_pop: Kamailio) -> Iterator[SipAgent]:
    agent = SipAgent(standin_pop.addr, domain=REALM)
    yield agent
    agent.close()
    _wait_calls_flushed(standin_pop)


def _hang_up(agent: SipAgent, dlg: Any) -> None:
    """End an answered call: a call left up ends at its maximum duration, in a later test,
    whose batch then carries its record."""
    if dlg.final is not None and dlg.final.code == 200:
        assert agent.bye(dlg).code == 200


def _wait_calls_flushed(pop: Kamailio, timeout: float = 5.0) -> None:
    """The POP is shared by the tests of this module: a test's calls must be over and their
    records out of Kamailio's queue before the next test starts watching the stand-in, or an
    answered record of this test lands in the next one's batch."""
    deadline = time.monotonic() + timeout
    while True:
        dialogs = _rpc_number(pop.rpc("dlg.stats_active"), "all")
        queued = _rpc_number(pop.rpc("mqueue.get_size", "cdr"), "size")
        if dialogs == 0 and queued == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{dialogs} calls still up, {queued} records queued")
        time.sleep(0.02)


def _rpc_number(output: str, key: str) -> int:
    """``kamcmd``'s answer is a struct (``{ all: 0 }``) or a bare number."""
    match = re.search(rf"\b{key}:\s*(-?\d+)", output) or re.fullmatch(r"\s*(-?\d+)\s*", output)
    if match is None:
        raise AssertionError(f"unexpected kamcmd answer: {output!r}")
    return int(match.group(1))


@pytest.fixture
def caller(sua: SipAgent, account: Callable[..., tuple[str, str]]) -> tuple[str, str]:
    user, password = account()
    assert sua.register(user, password)[-1].code == 200
    return user, password


def test_authorize_request_carries_the_contract_fields(
    sua: SipAgent, caller, standin: StandInSwitch
) -> None:
    user, password = caller
    dlg = sua.invite("5145551234", user=user, password=password, srtp=True)
    _hang_up(sua, dlg)
    req = [r for r in standin.requests if r.path == "/switch/v1/authorize"][-1]
    assert req.headers["authorization"].startswith("Basic ")
    body = req.body
    assert body["account"] == user
    assert body["dialed"] == "5145551234"
    assert body["source_ip"] == "127.0.0.1"
    assert body["pop"] == "montreal1"
    assert body["caller_id"] == user
    assert body["transport"] == "udp"
    assert body["srtp"] is True
    assert body["call_id"]


def test_plain_rtp_offer_is_reported_as_no_srtp(
    sua: SipAgent, caller, standin: StandInSwitch
) -> None:
    user, password = caller
    _hang_up(sua, sua.invite("5145551234", user=user, password=password))
    assert standin.of("/switch/v1/authorize")[-1]["srtp"] is False


def test_tollfree_call_goes_to_the_american_carrier_when_decided(
    standin_pop: Kamailio, sua: SipAgent, caller, standin: StandInSwitch
) -> None:
    standin.authorize = lambda req: allow(route="value", carrier="american",
                                          destination={"e164": "18005551234"})
    user, password = caller
    dlg = sua.invite("8005551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    assert standin_pop.carriers["tollfree_us"].wait_request("INVITE").ruri.startswith(
        "sip:18005551234@")
    sua.bye(dlg)


def test_call_records_go_in_batches_and_a_failed_batch_is_sent_again(
    standin_pop: Kamailio, sua: SipAgent, caller, standin: StandInSwitch
) -> None:
    standin.cdrs_failures = 1
    user, password = caller
    standin_pop.carriers["value"].uas = reject(486, "Busy Here")
    try:
        calls = [sua.invite("5145551234", user=user, password=password) for _ in range(3)]
    finally:
        standin_pop.carriers["value"].uas = answer()
    assert all(c.final is not None and c.final.code == 486 for c in calls)
    wanted = {c.call_id for c in calls}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        batches = [r.body for r in standin.requests if r.path == "/switch/v1/cdrs"]
        if wanted <= {rec["call_id"] for batch in batches[1:] for rec in batch}:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"call records not re-sent: {standin.of('/switch/v1/cdrs')}")
    assert all(isinstance(batch, list) for batch in batches)
    # The refused batch came back whole in the next one (Dialgate records a call id once).
    assert {rec["call_id"] for rec in batches[0]} <= {rec["call_id"] for rec in batches[1]}
    # Only this test's calls are judged: the POP is shared, and the fixtures wait for each
    # test's records to leave it, but a record is never this test's to count unless it is.
    mine = [rec for batch in batches for rec in batch if rec["call_id"] in wanted]
    assert {rec["disposition"] for rec in mine} == {"busy"}
    assert len(standin.requests) >= 2 and standin.of("/switch/v1/cdr") == []


def test_hung_dialgate_gives_503_within_the_timeout(
    sua: SipAgent, caller, standin: StandInSwitch
) -> None:
    user, password = caller
    standin.delay_s = 3.0  # hangs longer than http_timeout_s=1
    t0 = time.monotonic()
    dlg = sua.invite("5145551234", user=user, password=password, timeout=6)
    elapsed = time.monotonic() - t0
    assert dlg.final is not None
    assert (dlg.final.code, dlg.final.reason) == (503, "Call Authorization Unavailable")
    assert elapsed < 2.0


def test_sip_keeps_flowing_while_dialgate_is_slow(
    standin_pop: Kamailio, caller, standin: StandInSwitch
) -> None:
    standin.delay_s = 0.8
    user, password = caller
    callers = [SipAgent(standin_pop.addr, domain=REALM) for _ in range(4)]
    try:
        dialogs = [c.invite("5145551234", user=user, password=password, wait_final=False)
                   for c in callers]
        # Both async workers are waiting on Dialgate (0.8 s a question) once the stand-in has
        # two questions; the other two calls queue behind them.
        deadline = time.monotonic() + 5
        while len(standin.of("/switch/v1/authorize")) < 2:
            assert time.monotonic() < deadline, "Kamailio never asked about the calls"
            time.sleep(0.01)
        probe = SipAgent(standin_pop.addr, domain=REALM)
        assert probe.options().code == 200
        probe.close()
        # Answered while calls still waited for their decisions: the SIP receivers were free.
        # Had they waited on Dialgate themselves, the OPTIONS would have queued behind all four
        # INVITEs sent before it and come back after their answers.
        answered = [c for c, dlg in zip(callers, dialogs, strict=True)
                    if [m for m in c.received
                        if m.is_response and m.cseq == dlg.invite_cseq and m.code >= 200]]
        assert len(answered) <= 2, f"{len(answered)} of 4 calls already decided"
        for c, dlg in zip(callers, dialogs, strict=True):
            c.wait_final(dlg, timeout=5)
            _hang_up(c, dlg)
    finally:
        for c in callers:
            c.close()


def test_endless_inbound_chain_is_cut_by_kamailio(
    standin_pop: Kamailio, account, standin: StandInSwitch
) -> None:
    user, password = account()
    phone = SipAgent(standin_pop.addr, domain=REALM, uas=reject(486, "Busy Here"))
    try:
        assert phone.register(user, password)[-1].code == 200
        # A broken backend that never ends the chain: Kamailio's own hop limit does.
        standin.inbound = lambda req: {"kind": "account", "sip_user": user, "dial_time": 5,
                                       "account": user, "did": "5145550100",
                                       "chain": req.get("chain", "") + "x:1,"}
        dlg = standin_pop.carriers["value"].invite("15145550100", user="carrier", timeout=10)
        assert dlg.final is not None and dlg.final.code in (480, 486)
        asks = standin.of("/switch/v1/inbound")
        assert 2 <= len(asks) <= 8
        assert asks[1]["chain"] == "x:1," and asks[1]["event"] == "busy"
        # However many legs, the call has one record: the last leg was busy.
        [record] = _records(standin, dlg.call_id)
        assert (record["direction"], record["account"], record["did"], record["disposition"],
                record["answered_at"]) == ("inbound", user, "5145550100", "busy", None)
    finally:
        phone.close()


def _sent_records(standin: StandInSwitch, call_id: str) -> list[dict[str, Any]]:
    # A /cdrs body is a list of records (StandInSwitch types bodies as objects).
    batches: list[Any] = standin.of("/switch/v1/cdrs")
    return [r for batch in batches for r in batch if r.get("call_id") == call_id]


def _records(standin: StandInSwitch, call_id: str) -> list[dict[str, Any]]:
    """The call records Kamailio sent for one call (all batches), once the first has come and
    a duplicate would have had time to follow."""
    deadline = time.monotonic() + 5
    while not _sent_records(standin, call_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.6)
    return _sent_records(standin, call_id)


def test_caller_hanging_up_while_dialgate_is_asked_gets_487_and_one_noanswer_record(
    standin_pop: Kamailio, account, standin: StandInSwitch
) -> None:
    user, password = account()
    phone = SipAgent(standin_pop.addr, domain=REALM, uas=answer())
    carrier = standin_pop.carriers["value"]
    try:
        assert phone.register(user, password)[-1].code == 200
        standin.inbound = lambda req: {"kind": "account", "sip_user": user, "dial_time": 5,
                                       "account": user, "did": "5145550100", "chain": "x:1,"}
        standin.delay_s = 0.8
        asked = len(standin.of("/switch/v1/inbound"))
        dlg = carrier.invite("15145550100", user="carrier", from_user="4385550123",
                             wait_final=False)
        # Kamailio is waiting for the answer once the stand-in has the question.
        deadline = time.monotonic() + 5
        while len(standin.of("/switch/v1/inbound")) == asked:
            assert time.monotonic() < deadline, "Kamailio never asked about the DID"
            time.sleep(0.01)
        assert carrier.cancel(dlg).code == 200
        assert carrier.wait_final(dlg, timeout=5).code == 487
        [record] = _records(standin, dlg.call_id)
        assert (record["direction"], record["caller_id"], record["disposition"]) == (
            "inbound", "4385550123", "noanswer")
        assert [m.method for m in phone.received if m.method == "INVITE"] == []
    finally:
        phone.close()


def test_inbound_answer_without_an_account_leaves_no_record(
    standin_pop: Kamailio, standin: StandInSwitch
) -> None:
    # An older Dialgate (no account in the answer): the call is routed, just not recorded.
    standin.inbound = lambda req: {"kind": "system_action", "system_action": "busy"}
    dlg = standin_pop.carriers["value"].invite("15145550100", user="carrier")
    assert dlg.final is not None and dlg.final.code == 486
    time.sleep(0.6)
    assert _sent_records(standin, dlg.call_id) == []
