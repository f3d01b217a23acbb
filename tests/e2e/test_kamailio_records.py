"""Call records to a Dialgate of their own (``kamailio-config --records-url``): the POP asks
the switch Dialgate about every call and posts what ended to the records URL, with the same
switch token, so recording calls never competes with the decisions calls wait on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from dialgate.adapters.db.models import CdrRow

from .conftest import REALM, RealDialgate, StartKamailio
from .sip.sipclient import SipAgent, free_port, reject
from .standin import StandInSwitch


def test_call_records_go_to_the_records_url_and_decisions_to_the_switch(
    start_kamailio: StartKamailio, dialgate: RealDialgate,
    account: Callable[..., tuple[str, str]],
) -> None:
    records = StandInSwitch(token=dialgate.token)
    records_url = records.start(free_port())
    try:
        pop = start_kamailio(records_url=records_url)
        pop.carriers["value"].uas = reject(486, "Busy Here")
        caller = SipAgent(pop.addr, domain=REALM)
        try:
            user, password = account()
            # International calls are off by default: the real Dialgate refuses this one...
            refused = caller.invite("01144201234567", user=user, password=password)
            assert refused.final is not None and refused.final.code == 403
            # ... and allows this one, which the carrier answers busy.
            busy = caller.invite("5145551234", user=user, password=password)
            assert busy.final is not None and busy.final.code == 486
        finally:
            caller.close()

        def has_busy_call(batch: Any) -> bool:
            return any(record.get("call_id") == busy.call_id for record in batch)

        batch = records.wait_for("/switch/v1/cdrs", has_busy_call, timeout=10)
        record = next(r for r in batch if r["call_id"] == busy.call_id)
        assert (record["account"], record["disposition"]) == (user, "busy")
        posted = [r for r in records.requests if r.path == "/switch/v1/cdrs"]
        assert all(r.headers["authorization"].startswith("Basic ") for r in posted)
        # The records endpoint was asked nothing else, and the switch Dialgate recorded nothing.
        assert {r.path for r in records.requests} == {"/switch/v1/cdrs"}
        with dialgate.db.uow(write=False) as uow:
            stored = uow.session.scalar(
                select(func.count()).select_from(CdrRow).where(CdrRow.call_id == busy.call_id))
        assert stored == 0
    finally:
        records.stop()
