"""Run the ``dialgate`` command as a user would: a real process against a real database."""

from __future__ import annotations

import os
import subprocess
import sys


def dialgate(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DIALGATE_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "dialgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
