"""The alert rules and the Grafana dashboard in docs/ are valid and name metrics that exist.

``promtool`` (Debian's prometheus package) checks the rules' syntax and runs their unit tests
(``alerts_test.yml``: the alerts fire on the failure they describe, and stay quiet before).
Every ``dialgate_*`` metric they use must be one the app exposes (the text a real scrape of
``/metrics`` returns); Kamailio's names are checked against a real Kamailio in
``tests/e2e/test_kamailio_metrics.py``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dialgate.config import get_settings
from dialgate.entrypoints.web import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "prometheus-alerts.yml"
DASHBOARD = DOCS / "grafana-dashboard.json"
METRIC = re.compile(r"\b((?:dialgate|kamailio)_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: install Debian's prometheus package (.ci/run)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def referenced(text: str, prefix: str) -> set[str]:
    """Metric family names used in PromQL expressions (sample suffixes removed)."""
    names = set()
    for name in METRIC.findall(text):
        if not name.startswith(prefix):
            continue
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                name = name.removesuffix(suffix)
                break
        names.add(name)
    return names


def dashboard_exprs() -> str:
    dashboard = json.loads(DASHBOARD.read_text())
    return "\n".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_alerts_fire_on_their_failure(tmp_path: Path) -> None:
    tests = (Path(__file__).with_name("alerts_test.yml")).read_text()
    (tmp_path / "alerts_test.yml").write_text(tests.replace("RULES", str(RULES)))
    done = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_broken_rules_are_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 900", "> > 900"))
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_dashboard_panels_have_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    graphs = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(graphs) >= 15
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in graphs)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


@pytest.fixture
def exposed(app_env: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    monkeypatch.setenv("DIALGATE_METRICS_TOKEN", "dashboards-test-token")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        response = client.get("/metrics",
                              headers={"Authorization": "Bearer dashboards-test-token"})
    assert response.status_code == 200
    # (Outside multiprocess mode the library adds a `_created` gauge per counter: not ours.)
    return referenced("\n".join(line.split()[2] for line in response.text.splitlines()
                                 if line.startswith("# TYPE ")
                                 and not line.split()[2].endswith("_created")), "dialgate_")


def test_every_dialgate_metric_used_exists(exposed: set[str]) -> None:
    used = referenced(RULES.read_text(), "dialgate_") | referenced(dashboard_exprs(),
                                                                    "dialgate_")
    assert used  # the check below means something
    assert used - exposed == set()
    # And the dashboard shows every metric Dialgate exposes.
    shown = referenced(dashboard_exprs(), "dialgate_")
    assert {name for name in exposed if name.startswith("dialgate_")} - shown == set()
