"""Kamailio's own counters for Prometheus (xhttp_prom on ``--metrics-port``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from .conftest import StartKamailio
from .sip.sipclient import SipAgent, free_port

DOCS = Path(__file__).resolve().parents[2] / "docs"
KAMAILIO_METRIC = re.compile(r"\bkamailio_[a-z0-9_]+")


def _scrape(url: str) -> dict[str, float]:
    """Every sample by name, read with prometheus-client's own parser of the text format."""
    response = httpx.get(url, timeout=5)
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _options_received(values: dict[str, float]) -> float:
    return sum(v for k, v in values.items() if k.startswith("kamailio_core_rcv_requests_options"))


def test_kamailio_serves_its_counters_on_the_metrics_port(start_kamailio: StartKamailio) -> None:
    metrics_port = free_port()
    kam = start_kamailio(metrics_port=metrics_port)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    before = _options_received(_scrape(url))
    agent = SipAgent(kam.addr)
    try:
        for _ in range(3):
            assert agent.options(timeout=2).code == 200
    finally:
        agent.close()
    deadline = time.monotonic() + 10
    values = _scrape(url)
    while _options_received(values) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        values = _scrape(url)
    # At least ours (Kamailio counts a request once per receiving stage it passes).
    assert _options_received(values) >= before + 3
    assert values["kamailio_core_rcv_requests"] >= _options_received(values)
    # The other statistics groups are exported too (transactions, stateless replies, ...).
    for group in ("kamailio_tmx_", "kamailio_sl_", "kamailio_usrloc_", "kamailio_shmem_"):
        assert any(name.startswith(group) for name in values), group
    # Every Kamailio metric the dashboard and the alert rules use is one Kamailio exports.
    used = set(KAMAILIO_METRIC.findall((DOCS / "grafana-dashboard.json").read_text()
                                       + (DOCS / "prometheus-alerts.yml").read_text()))
    assert used and used <= set(values), used - set(values)
    # The SIP TCP port does not answer HTTP; the metrics port serves only /metrics.
    assert httpx.get(f"http://127.0.0.1:{kam.port}/metrics", timeout=5).status_code == 403
    assert httpx.get(f"http://127.0.0.1:{metrics_port}/other", timeout=5).status_code == 404


def test_no_metrics_port_by_default(start_kamailio: StartKamailio) -> None:
    kam = start_kamailio()
    config = (Path(kam.ctl).parent / "kamailio.cfg").read_text()
    assert "xhttp_prom" not in config and "xhttp" not in config
