"""The same stack on PostgreSQL (production's database): Kamailio's auth_db reads the digests
Dialgate writes there (db_postgres), the real policy decides, CDRs are charged once."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select

from dialgate.adapters.db.models import CdrRow, LocationRow
from dialgate.services import billing, dids

from .conftest import REALM, Kamailio, RealDialgate, real_dialgate
from .sip.sipclient import SipAgent, answer


@pytest.fixture(scope="module")
def pg_dialgate(pg_server: str) -> Iterator[RealDialgate]:
    name = "dialgate_e2e_sip"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{pg_server.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with real_dialgate(url, Path(tempfile.mkdtemp(prefix="dg-pg-")), "4") as dg:
        yield dg


@pytest.fixture(scope="module")
def pg_pop(start_kamailio, pg_dialgate: RealDialgate) -> Kamailio:
    kam: Kamailio = start_kamailio(db_url=pg_dialgate.server.db_url,
                                   switch_url=pg_dialgate.url, switch_token=pg_dialgate.token,
                                   dialgate_server=pg_dialgate.server)
    assert 'loadmodule "db_postgres.so"' in (Path(kam.ctl).parent / "kamailio.cfg").read_text()
    return kam


@pytest.fixture
def pua(pg_pop: Kamailio) -> Iterator[SipAgent]:
    agent = SipAgent(pg_pop.addr, domain=REALM)
    yield agent
    agent.close()


def test_register_against_digests_in_postgresql(pua: SipAgent, pg_dialgate: RealDialgate) -> None:
    user, password = pg_dialgate.accounts.create(max_expiry="120")
    ok = pua.register(user, password, expires=3600)
    assert [a.code for a in ok] == [401, 200]
    assert f"127.0.0.1:{pua.port}>;expires=120" in ok[-1].header("Contact")
    assert [a.code for a in pua.register(user, "Wrong-pass-1")] == [401, 403]
    assert [a.code for a in pua.register("100000_office", "OfficePass123")] == [401, 200]


def test_denied_and_allowed_calls_and_one_charge_on_postgresql(
    pua: SipAgent, pg_pop: Kamailio, pg_dialgate: RealDialgate
) -> None:
    user, password = pg_dialgate.accounts.create(balance="5.00")
    denied = pua.invite("01144201234567", user=user, password=password)
    assert denied.final is not None
    assert (denied.final.code, denied.final.reason) == (
        403, "International calls are disabled for this account.")
    dlg = pua.invite("5145551234", user=user, password=password)
    assert dlg.final is not None and dlg.final.code == 200
    assert pg_pop.carriers["value"].wait_request("INVITE").ruri.startswith("sip:+15145551234@")
    time.sleep(1.1)  # the switch stamps whole seconds: talk for at least one
    assert pua.bye(dlg).code == 200
    today = datetime.now(UTC).date()
    deadline = time.monotonic() + 5
    charges: list[billing.TransactionView] = []
    while time.monotonic() < deadline and not charges:
        with pg_dialgate.db.uow(write=False) as uow:
            charges = [t for t in billing.transaction_history(uow, user, today, today)
                       if t.kind == "call"]
        time.sleep(0.05)
    time.sleep(0.3)
    with pg_dialgate.db.uow(write=False) as uow:
        charges = [t for t in billing.transaction_history(uow, user, today, today)
                   if t.kind == "call"]
        cdrs = uow.session.scalars(select(CdrRow).where(CdrRow.call_id == dlg.call_id)).all()
    assert [(c.disposition, c.billed_s) for c in cdrs] == [("answered", 60)]
    assert [t.uniqueid for t in charges] == [dlg.call_id]


def _did_line(dg: RealDialgate, number: str) -> tuple[str, str, str]:
    """An account whose DID rings the account's registered device."""
    user, password = dg.accounts.create()
    with dg.db.uow() as uow:
        dids.add_did(uow, user, number, {"dial_time": "5"}, actor="e2e")
        uow.commit()
    return user, password, "1" + number


def _locations(dg: RealDialgate, user: str) -> list[tuple[str, int]]:
    with dg.db.uow(write=False) as uow:
        rows = uow.session.execute(
            select(LocationRow.contact, LocationRow.server_id).where(LocationRow.username == user)
        ).all()
    return [(contact, server_id) for contact, server_id in rows]


def test_registrations_survive_a_kamailio_restart(
    start_kamailio, pg_dialgate: RealDialgate
) -> None:
    options = {"db_url": pg_dialgate.server.db_url, "switch_url": pg_dialgate.url,
               "switch_token": pg_dialgate.token, "dialgate_server": pg_dialgate.server}
    first: Kamailio = start_kamailio(**options)
    cfg = (Path(first.ctl).parent / "kamailio.cfg").read_text()
    assert 'modparam("usrloc", "db_mode", 1)' in cfg
    user, password, did = _did_line(pg_dialgate, "5145580001")
    phone = SipAgent(first.addr, domain=REALM, uas=answer())
    try:
        assert phone.register(user, password)[-1].code == 200
        assert [sid for _c, sid in _locations(pg_dialgate, user)] == [1]
        first.stop()
        # A new process (same database, same server_id) knows the device without a REGISTER.
        second: Kamailio = start_kamailio(**options)
        dlg = second.carriers["value"].invite(did, user="carrier")
        assert dlg.final is not None and dlg.final.code == 200
        assert phone.wait_request("INVITE").ruri.startswith(f"sip:{user}@")
        second.carriers["value"].bye(dlg)
    finally:
        phone.close()


def test_shared_registrations_reach_a_device_through_another_node(
    start_kamailio, pg_dialgate: RealDialgate
) -> None:
    options = {"db_url": pg_dialgate.server.db_url, "switch_url": pg_dialgate.url,
               "switch_token": pg_dialgate.token, "registrations": "shared",
               "dialgate_server": pg_dialgate.server}
    node_a: Kamailio = start_kamailio(server_id=11, **options)
    node_b: Kamailio = start_kamailio(server_id=12, **options)
    user, password, did = _did_line(pg_dialgate, "5145580002")
    phone = SipAgent(node_a.addr, domain=REALM, uas=answer())
    try:
        assert phone.register(user, password)[-1].code == 200
        assert [sid for _c, sid in _locations(pg_dialgate, user)] == [11]
        dlg = node_b.carriers["value"].invite(did, user="carrier")
        assert dlg.final is not None and dlg.final.code == 200
        assert phone.wait_request("INVITE").ruri.startswith(f"sip:{user}@")
        node_b.carriers["value"].bye(dlg)
        assert phone.register(user, password, expires=0)[-1].code == 200  # un-REGISTER
        assert _locations(pg_dialgate, user) == []
    finally:
        phone.close()
        node_a.stop()
        node_b.stop()
