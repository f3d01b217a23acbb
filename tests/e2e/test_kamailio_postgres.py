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

from dialgate.adapters.db.models import CdrRow
from dialgate.services import billing

from .conftest import REALM, Kamailio, RealDialgate, real_dialgate
from .sip.sipclient import SipAgent


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
                                   switch_url=pg_dialgate.url, switch_token=pg_dialgate.token)
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
