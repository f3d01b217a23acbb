"""Short commands run without the cyclic garbage collector; commands that keep running get it
back (``entrypoints/cli``: ``main`` and ``common.long_running``)."""

from __future__ import annotations

import gc
import subprocess
import sys

from dialgate.entrypoints.cli.common import long_running

SHORT_COMMAND = """
import gc, sys
from dialgate.entrypoints.cli import main
sys.argv = ["dialgate", "--help"]
try:
    main()
except SystemExit as exit:
    print("exit", exit.code, "collector", gc.isenabled())
"""


def test_a_short_command_runs_without_the_cyclic_collector() -> None:
    out = subprocess.run([sys.executable, "-c", SHORT_COMMAND], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.splitlines()[-1] == "exit 0 collector False"


def test_a_long_running_command_turns_it_back_on_with_start_up_frozen() -> None:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        long_running()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()
