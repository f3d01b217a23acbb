"""CPU priority (adapters/priority.py): nice is per thread on Linux, never raised, and a session
leader lowers its autogroup too. Each case runs in a thread or a child process of its own, so
the test runner's own priority is never changed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from dialgate.adapters import passwords, priority


def in_thread(fn: Callable[[], list[int]]) -> list[int]:
    seen: list[int] = []

    def run() -> None:
        seen.extend(fn())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return seen


def test_a_thread_lowers_itself_only_and_never_raises_its_priority() -> None:
    base = priority.current()

    def lower() -> list[int]:
        priority.lower_thread(min(base + 5, 19))
        first = priority.current()
        priority.lower_thread(base)  # asking for less: nothing changes
        return [first, priority.current()]

    assert in_thread(lower) == [min(base + 5, 19)] * 2
    assert priority.current() == base  # the calling thread is untouched


SCRIPT = """
from pathlib import Path
import os, threading
from dialgate.adapters import priority
priority.set_process_nice(7)
seen = []
t = threading.Thread(target=lambda: seen.append(priority.current()))
t.start(); t.join()
group = Path("/proc/self/autogroup").read_text().split("nice")[1]
print(priority.current(), seen[0], group.strip())
"""


def run_script(new_session: bool) -> list[int]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, start_new_session=new_session)
    assert done.returncode == 0, done.stderr
    return [int(word) for word in done.stdout.split()]


def test_a_session_leader_lowers_its_scheduling_group_and_its_threads_inherit() -> None:
    base = priority.current()
    this_session = Path("/proc/self/autogroup").read_text()
    assert run_script(new_session=True) == [max(base, 7), max(base, 7), 7]
    shared = run_script(new_session=False)
    assert shared[:2] == [max(base, 7), max(base, 7)]
    # Not a session leader: the group is the test runner's, and stays as it was.
    assert Path("/proc/self/autogroup").read_text() == this_session


def test_the_hash_pool_runs_argon2_at_its_own_nice() -> None:
    base = priority.current()
    pool = passwords.HashPool(workers=1, queue=1, nice=min(base + 4, 19))
    stored = passwords.hash_password("Secret123x")

    def threads() -> set[int]:
        return {int(tid) for tid in os.listdir("/proc/self/task")}

    try:
        before = threads()
        assert asyncio.run(pool.verify(stored, "Secret123x")) is True
        started = threads() - before
        assert len(started) == 1  # the pool's thread, started for the check
        assert os.getpriority(os.PRIO_PROCESS, started.pop()) == min(base + 4, 19)
        assert priority.current() == base
    finally:
        pool.shutdown()
