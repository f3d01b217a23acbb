"""The switch transport kamailio-config ships by default (evapi): fail closed, fast, and
recover without restarting Kamailio."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from dialgate.entrypoints.switch.kamailio import DEFAULT_TRANSPORT

from .conftest import Kamailio, RealDialgate
from .sip.sipclient import SipAgent


def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_the_shared_pop_runs_the_default_transport(kamailio: Kamailio) -> None:
    cfg = (Path(kamailio.ctl).parent / "kamailio.cfg").read_text()
    assert DEFAULT_TRANSPORT == "evapi"
    assert 'loadmodule "evapi.so"' in cfg
    assert "evapi_async_unicast(" in cfg


def test_paused_dialgate_gives_503_once_and_calls_flow_again_when_it_resumes(
    ua: SipAgent, account, dialgate: RealDialgate, kamailio: Kamailio, carriers
) -> None:
    user, password = account()
    warm = ua.invite("5145551234", user=user, password=password)
    assert warm.final is not None and warm.final.code == 200
    ua.bye(warm)
    carriers["value"].received.clear()
    proc = dialgate.server.proc
    assert proc is not None
    log_from = len(kamailio.log_text())
    # Paused, Dialgate keeps its connection open but answers nothing: Kamailio must not wait
    # for it longer than the authorize time-out, and must not relay the call.
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        dlg = ua.invite("5145551234", user=user, password=password)
        assert dlg.final is not None
        assert (dlg.final.code, dlg.final.reason) == (503, "Call Authorization Unavailable")
        assert "no answer from Dialgate within 800 ms" in kamailio.log_text()[log_from:]
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    # Resumed, Dialgate answers the one request it was sent (no retry was queued): the answer
    # comes too late and is dropped, the refused call stays refused and never reaches a carrier.
    _wait_for(lambda: "late answer" in kamailio.log_text()[log_from:], "the late answer")
    again = ua.invite("5145551234", user=user, password=password)
    assert again.final is not None and again.final.code == 200
    ua.bye(again)
    late = kamailio.log_text()[log_from:]
    assert late.count("late answer") == 1
    assert late.count("no answer from Dialgate") == 1
    invites = [m for m in carriers["value"].received
               if not m.is_response and m.method == "INVITE"]
    assert len(invites) == 1  # the call placed after the resume only
