"""The systemd units in deploy/systemd pass ``systemd-analyze verify`` without a warning.

The units name the production path ``/opt/dialgate/bin/dialgate``; verify checks that
ExecStart is executable, so the copies checked here point at this checkout's ``dialgate``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
DIALGATE = str(Path(sys.executable).with_name("dialgate"))


def verify(directory: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: install Debian's systemd package (.ci/run)"
    return subprocess.run([analyze, "verify", *sorted(map(str, directory.glob("*.service")))],
                          capture_output=True, text=True, timeout=60)


def _copy(tmp_path: Path, unit: str, replace: tuple[str, str] | None = None) -> Path:
    text = (UNITS / unit).read_text().replace("/opt/dialgate/bin/dialgate", DIALGATE)
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    (tmp_path / unit).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    "unit", ["dialgate-serve.service", "dialgate-switch.service", "dialgate-records.service",
             "dialgate-worker.service"]
)
def test_unit_verifies_cleanly(tmp_path: Path, unit: str) -> None:
    text = (UNITS / unit).read_text()
    assert "ExecStart=/opt/dialgate/bin/dialgate " in text
    assert "PROMETHEUS_MULTIPROC_DIR=/run/dialgate/metrics" in text
    done = verify(_copy(tmp_path, unit))
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # no warnings either


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key is reported."""
    done = verify(_copy(tmp_path, "dialgate-worker.service", ("Restart=", "Restrat=")))
    assert "Unknown key" in done.stderr and "Restrat" in done.stderr


def test_units_run_commands_that_exist() -> None:
    for unit in UNITS.glob("*.service"):
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                args = line.removeprefix("ExecStart=").split()[1:]
                help_run = subprocess.run([DIALGATE, args[0], "--help"], capture_output=True,
                                          text=True, timeout=60)
                assert help_run.returncode == 0, help_run.stderr
                for option in (a for a in args if a.startswith("--")):
                    assert option in help_run.stdout, (unit.name, option)


def test_the_switch_unit_gets_the_cpu_before_the_web_unit() -> None:
    """A flood of the web role must not take the switch role's CPU (docs/operations.md)."""
    def keys(unit: str) -> dict[str, str]:
        lines = (UNITS / unit).read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")

    switch, web = keys("dialgate-switch.service"), keys("dialgate-serve.service")
    assert "--role switch" in switch["ExecStart"] and "--role web" in web["ExecStart"]
    assert int(switch["CPUWeight"]) >= 10 * int(web["CPUWeight"])
    assert int(switch["Nice"]) < 0 <= int(web.get("Nice", "0"))


def test_call_records_wait_behind_the_decisions() -> None:
    """The records unit takes Kamailio's call-record batches (--records-url) at a tenth of the
    switch unit's CPU weight (docs/performance.md, round 3); its role never connects to evapi
    (tests/integration/test_serve.py)."""
    def keys(unit: str) -> dict[str, str]:
        lines = (UNITS / unit).read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")

    switch, records = keys("dialgate-switch.service"), keys("dialgate-records.service")
    assert "--role records" in records["ExecStart"] and "--port 8002" in records["ExecStart"]
    assert int(switch["CPUWeight"]) >= 10 * int(records["CPUWeight"])
    assert int(switch["Nice"]) < int(records["Nice"])
