"""Virtual environments with one third-party VoIP.ms client library each, built on demand and
cached under ``var/test-clients`` (keyed by the package pins and the Python version).

``voipms`` and ``voipms-python`` both install a top-level package named ``voipms``, hence one
environment per library. ``voipms-python`` does not declare its ``requests`` dependency, and
``voipms`` needs ``validators<0.21`` (later versions changed the API it imports).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "test-clients"

CLIENTS: dict[str, tuple[str, ...]] = {
    "voipms": ("voipms==0.2.6", "validators<0.21", "requests"),
    "voipms-api": ("voipms-api==1.2.1",),
    "voipms-python": ("voipms-python==0.0.2", "requests"),
}


def client_python(name: str) -> Path:
    """The interpreter of the environment holding client ``name`` (built if missing)."""
    pins = CLIENTS[name]
    key = hashlib.sha256("\n".join((*pins, sys.version)).encode()).hexdigest()[:12]
    env = CACHE / f"{name}-{key}"
    python = env / "bin" / "python"
    done = env / ".installed"
    if not done.exists():
        venv.EnvBuilder(clear=True, with_pip=True).create(env)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
            check=True,
            timeout=600,
        )
        done.touch()
    return python
