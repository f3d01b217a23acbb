"""A deck replaced under live traffic: the running server keeps answering from the old deck while
the new version loads in the background, then answers with the new rates; no answer fails."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx

from dialgate.adapters.rate_data import demo_rates
from tests.support.cli import dialgate
from tests.support.pg import free_port
from tests.support.server import start_server, stop_server

PROBE = {"account": "100000", "dialed": "5145551234", "source_ip": "127.0.0.1"}
NEW_RATE = Decimal("0.123456")
# Kamailio gives up on an answer after 0.8-1 s: an answer that slow is an outage.
KAMAILIO_TIMEOUT_S = 0.8


class Poller(threading.Thread):
    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.answers: list[tuple[float, float, int, str | None]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
            while not self.stop.is_set():
                start = time.monotonic()
                answer = client.post("/switch/v1/authorize", json=PROBE)
                end = time.monotonic()
                rate = answer.json().get("rate_per_minute") if answer.status_code == 200 else None
                self.answers.append((end, end - start, answer.status_code, rate))
                self.stop.wait(0.02)


def _deck_file(path: Path, route: str) -> None:
    # The route's demo deck, with a new price for the probe's prefix and a few more rows.
    lines = ["Dial Code;Destination;Price;Billing Increment"]
    for rate in demo_rates(route):
        price = NEW_RATE if rate.prefix == "1514" else rate.per_minute
        lines.append(f"{rate.prefix};{rate.destination};{price};60/60")
    lines += [f"{prefix};Extra {prefix};0.05;30/6" for prefix in range(2000, 4000)]
    path.write_text("\n".join(lines) + "\n")


def test_a_deck_replaced_under_traffic_never_fails_an_answer_and_the_new_rate_arrives(
    database_url: str, tmp_path: Path
) -> None:
    assert dialgate(database_url, "demo").returncode == 0
    created = dialgate(database_url, "switch", "token", "create", "--name", "test")
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database_url, port, tmp_path / "server.log")
    try:
        first = httpx.post(base + "/switch/v1/authorize", json=PROBE, timeout=10,
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert first["allow"] is True and Decimal(first["rate_per_minute"]) != NEW_RATE
        deck = tmp_path / "new.csv"
        _deck_file(deck, first["route"])
        poller = Poller(base, token)
        poller.start()
        deadline = time.monotonic() + 10
        while len(poller.answers) < 10:
            assert time.monotonic() < deadline, "the poller got no answers"
            time.sleep(0.02)
        out = dialgate(database_url, "rates", "import", first["route"], str(deck))
        committed = time.monotonic()
        assert out.returncode == 0, out.stderr
        deadline = committed + 5
        while not any(r == str(NEW_RATE) for _t, _l, _s, r in poller.answers[-3:]):
            assert time.monotonic() < deadline, "the new rate did not arrive within 5 s"
            time.sleep(0.02)
        poller.stop.set()
        poller.join(10)
    finally:
        stop_server(server)
    assert {status for _t, _l, status, _r in poller.answers} == {200}
    assert all(rate is not None for _t, _l, _s, rate in poller.answers)
    assert max(latency for _t, latency, _s, _r in poller.answers) < KAMAILIO_TIMEOUT_S
    rates_seen = [Decimal(rate) for _t, _l, _s, rate in poller.answers if rate is not None]
    # Old rate, then the new one, never back: one atomic swap.
    switched = rates_seen.index(NEW_RATE)
    assert NEW_RATE not in rates_seen[:switched] and set(rates_seen[switched:]) == {NEW_RATE}
