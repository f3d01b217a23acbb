"""Run the ``dialgate`` command: in process through Typer's runner (most tests), or as a real
process as a user would (one smoke test per command group, and what needs a process of its own).

Both hand back a ``subprocess.CompletedProcess`` (``returncode``, ``stdout``, ``stderr``), so a
test reads the same whichever way it ran. The in-process run goes through the same error
mapping as the console script (``cli.common.GuardedGroup``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from dialgate.config import get_settings
from dialgate.entrypoints.cli import app


def dialgate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A real ``python -m dialgate`` process against ``url``."""
    env = {**os.environ, "DIALGATE_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "dialgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run(url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The same command in this process (CliRunner): the environment variable is set only for
    the run, and the settings cache is cleared before and after, so nothing outlives it."""
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            list(args),
            input=input,
            env={"DIALGATE_DATABASE_URL": url},
            catch_exceptions=False,
            prog_name="dialgate",
        )
    finally:
        get_settings.cache_clear()
    return subprocess.CompletedProcess(
        ["dialgate", *args], result.exit_code, result.stdout, result.stderr
    )
