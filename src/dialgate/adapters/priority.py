"""CPU priority of Dialgate's own processes and threads (Linux ``nice``).

On a node that runs both roles, the switch role (calls waiting on an answer) must get a core
before the web role (the portal and the APIs, what a stranger can flood) and before argon2
(a third of a second of CPU per check, on purpose). ``nice`` says so to the kernel, with two
catches this module deals with:

- Linux keeps a niceness per *thread*, and a new thread inherits its creator's. So a process
  is lowered before it starts any thread or worker process (``set_process_nice``), and the hash
  pool's threads lower themselves when they start (``lower_thread``).
- With autogroup (``/proc/sys/kernel/sched_autogroup_enabled``, on by default in most
  kernels), the scheduler first shares the CPU equally between *sessions*, and nice only counts
  inside one. A role started in a session of its own (systemd, ``setsid``, a supervisor) would
  then get as much CPU as the switch whatever its nice. A session leader therefore also sets
  its session group's nice (``/proc/self/autogroup``), which then covers only itself and its
  children. Under systemd with the cpu controller, units are cgroups and ``CPUWeight=`` is the
  knob between them (deploy/systemd).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def current() -> int:
    """This thread's niceness."""
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lower_thread(nice: int) -> None:
    """Make the calling thread at least ``nice`` (never raises its priority: an unprivileged
    process may not, and a thread already nicer stays so)."""
    tid = threading.get_native_id()  # PRIO_PROCESS with a thread id: that thread alone
    if nice > os.getpriority(os.PRIO_PROCESS, tid):
        os.setpriority(os.PRIO_PROCESS, tid, nice)


def group_nice(autogroup: Path = AUTOGROUP) -> int | None:
    """The nice of this process's session scheduling group, or None when it has none: with
    autogroup off, or in the root group (init's session, where CI runners and containers often
    start), where the kernel shows an empty file."""
    try:
        text = autogroup.read_text()
    except OSError:
        return None
    _, found, value = text.partition(" nice ")
    return int(value) if found else None


def set_process_nice(nice: int, autogroup: Path = AUTOGROUP) -> None:
    """Make this process at least ``nice`` (a negative ``nice``: exactly that, which needs
    CAP_SYS_NICE, e.g. root): the calling thread (call it before any other thread or worker
    process starts, they inherit it) and, when this process leads its session, the session's
    scheduling group."""
    if nice < 0:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except PermissionError:
            raise PermissionError(
                f"a nice of {nice} (a higher priority) needs CAP_SYS_NICE: run as root or set "
                "it with systemd's Nice="
            ) from None
    else:
        lower_thread(nice)
    if os.getsid(0) != os.getpid():
        # Not a session leader: the group is shared with whoever started us (a shell, a test
        # runner), so it is not ours to change; nice already counts against the others there.
        return
    try:
        current_group = group_nice(autogroup)
        if current_group is not None and (nice < 0 or nice > current_group):
            autogroup.write_text(str(nice))
    except (OSError, ValueError):
        log.warning("could not set the scheduling group's nice", exc_info=True)
