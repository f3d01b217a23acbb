"""Suspension finishes the job, through a real Kamailio: the suspended account's registration
is gone, its call in progress is ended (BYE to both sides, over Kamailio's JSON-RPC
``dlg.end_dlg``), new REGISTERs and INVITEs are refused, the customer gets an email; restoring
lets the device register and call again."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

from dialgate.adapters import kamailio_rpc
from dialgate.adapters.db.models import OutboxRow
from dialgate.services import lookups, suspension
from dialgate.services.operators import Operator

from .conftest import REALM, Kamailio, RealDialgate
from .sip.sipclient import SipAgent, free_port

pytestmark = pytest.mark.e2e
OPERATOR = Operator(1, "noc@provider.test", "support", "console")


@pytest.fixture(scope="module")
def rpc_kamailio(start_kamailio: Callable[..., Kamailio]) -> tuple[Kamailio, str]:
    address = f"udp:127.0.0.1:{free_port()}"
    return start_kamailio(rpc_listen=address), address


def _registered(kam: Kamailio, user: str) -> bool:
    return f"sip:{user}@" in kam.rpc("ul.dump")


def _wait(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _invite_code(ua: SipAgent, user: str, password: str) -> int:
    dlg = ua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None
    if dlg.final.code == 200:
        ua.bye(dlg)
    return dlg.final.code


def test_suspension_ends_calls_and_registrations_and_restore_reverses(
    rpc_kamailio: tuple[Kamailio, str], dialgate: RealDialgate,
    account: Callable[..., tuple[str, str]],
) -> None:
    kam, address = rpc_kamailio
    user, password = account()
    ua = SipAgent(kam.addr, domain=REALM)
    carrier = kam.carriers["value"]
    try:
        assert ua.register(user, password)[-1].code == 200
        _wait(lambda: _registered(kam, user), "the registration")
        dlg = ua.invite("5145551234", user=user, password=password)
        assert dlg.final is not None and dlg.final.code == 200, dlg.final
        dialogs = kamailio_rpc.call(address, "dlg.list")
        assert any(dlg.call_id == d.get("call-id") for d in dialogs), dialogs

        with dialgate.db.uow() as uow:
            outcome = suspension.suspend(uow, OPERATOR, user, "fraud suspected")
            uow.commit()
        report = suspension.kick([address], outcome.lines)
        assert report.errors == [] and report.calls_ended == 1

        # both sides are hung up by Kamailio and the dialog is gone
        bye = ua.wait_request("BYE", timeout=10)
        assert bye.call_id == dlg.call_id
        carrier.wait_request("BYE", timeout=10)
        _wait(lambda: not [d for d in kamailio_rpc.call(address, "dlg.list") or []
                           if d.get("call-id") == dlg.call_id], "the dialog to end")
        assert not _registered(kam, user)
        refused = ua.register(user, password)
        assert [(a.code, a.reason) for a in refused] == [(401, "Unauthorized"),
                                                         (403, "Account Disabled")]
        # the Dialgate server's policy cache hears of the change within its feed interval
        _wait(lambda: _invite_code(ua, user, password) == 403, "INVITE to be refused")
        with dialgate.db.uow(write=False) as uow:
            subjects = [m.subject for m in uow.session.scalars(
                select(OutboxRow).where(OutboxRow.account_id
                                        == lookups.get_account(uow, user).id))]
        assert f"Account {user} is suspended" in subjects

        with dialgate.db.uow() as uow:
            back = suspension.restore(uow, OPERATOR, user, "paid")
            uow.commit()
        assert back.changed
        assert [a.code for a in ua.register(user, password)] == [401, 200]
        _wait(lambda: _registered(kam, user), "the new registration")
        _wait(lambda: _invite_code(ua, user, password) == 200, "calls to be allowed again")
    finally:
        ua.register(user, password, expires=0)
        ua.close()


def test_an_unreachable_sip_server_is_reported_not_fatal() -> None:
    report = suspension.kick([f"udp:127.0.0.1:{free_port()}"], frozenset({"100000"}))
    assert report.calls_ended == 0 and len(report.errors) == 1
