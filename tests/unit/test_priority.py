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
import threading
from dialgate.adapters import priority
priority.set_process_nice(7)
seen = []
t = threading.Thread(target=lambda: seen.append(priority.current()))
t.start(); t.join()
print(priority.current(), seen[0], priority.group_nice())
"""


def run_script(new_session: bool) -> list[str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, start_new_session=new_session)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_session_leader_lowers_its_scheduling_group_and_its_threads_inherit() -> None:
    base = priority.current()
    this_session = priority.group_nice()
    lowered = str(max(base, 7))
    # A new session gets a group of its own, which the leader lowers.
    assert run_script(new_session=True) == [lowered, lowered, "7"]
    # Not a session leader: the group is the test runner's (or the root group, which has no
    # nice, when the runner is in init's session as under some CI), and stays as it was.
    assert run_script(new_session=False) == [lowered, lowered, str(this_session)]
    assert priority.group_nice() == this_session


def test_the_root_scheduling_group_has_no_nice_and_is_left_alone(tmp_path: Path) -> None:
    # The kernel shows the root group (init's session) as an empty file, and no file at all
    # when autogroup is compiled out.
    empty = tmp_path / "autogroup"
    empty.write_text("")
    assert priority.group_nice(empty) is None
    assert priority.group_nice(tmp_path / "missing") is None
    named = tmp_path / "named"
    named.write_text("/autogroup-39501 nice 3\n")
    assert priority.group_nice(named) == 3


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
