"""Scanners against the POP: sipvicious (svmap, svwar, svcrack) learns nothing about which
accounts exist and cracks nothing it is not given; a flood from one address is cut by pike."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REALM, Kamailio
from .sip.sipclient import SipAgent


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    assert Path(found).exists(), f"{name} is missing (pip install sipvicious)"
    return found


def _run(name: str, *args: str, timeout: float = 60) -> str:
    # -b 127.0.0.1: sipvicious binds every interface otherwise. Never -R (reports home).
    out = subprocess.run([_tool(name), "-b", "127.0.0.1", *args], capture_output=True,
                         text=True, timeout=timeout)
    return out.stdout + out.stderr


def test_svmap_sees_a_sip_server_but_not_its_software_or_version(kamailio: Kamailio) -> None:
    out = _run("sipvicious_svmap", "-p", str(kamailio.port), "127.0.0.1")
    assert f"127.0.0.1:{kamailio.port}" in out, out  # found...
    assert "kamailio" not in out.lower() and "5.6" not in out, out  # ...but not identified


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_cannot_tell_existing_extensions_from_missing_ones(
    kamailio: Kamailio, account, tmp_path: Path, method: str
) -> None:
    user, _ = account()
    words = tmp_path / "users.txt"
    words.write_text("\n".join([user, "100000", "100000_office", "777777", "nobody", "42"]))
    out = _run("sipvicious_svwar", "-d", str(words), "-m", method,
               f"udp://127.0.0.1:{kamailio.port}")
    assert "Traceback" not in out, out
    for existing in (user, "100000", "100000_office"):
        assert not re.search(rf"\|\s*{existing}\s*\|", out), out


def test_answers_for_existing_and_missing_users_are_the_same(
    ua: SipAgent, account
) -> None:
    user, _ = account()

    def shape(answers: list) -> list[tuple[int, str, list[str]]]:
        return [(a.code, a.reason, sorted(k.lower() for k, _ in a.headers)) for a in answers]

    assert shape(ua.register(user, "Wrong-pass-1")) == shape(ua.register("777777", "Wrong-pass-1"))
    existing = ua.invite("5145551234", user=user, password="Wrong-pass-1")
    missing = ua.invite("5145551234", user="777777", password="Wrong-pass-1")
    assert existing.final is not None and missing.final is not None
    assert (existing.final.code, existing.final.reason) == (missing.final.code,
                                                             missing.final.reason) == (
        403, "Forbidden")


def test_svcrack_finds_a_password_only_when_given_it(
    kamailio: Kamailio, account, tmp_path: Path
) -> None:
    user, password = account()
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("\n".join(["123456", "password", "Password1", user, "Secret-1"]))
    right = tmp_path / "right.txt"
    right.write_text("\n".join(["123456", password, "password"]))
    target = f"udp://127.0.0.1:{kamailio.port}"
    # Control: the tool works against this proxy, so "nothing found" below means something.
    found = _run("sipvicious_svcrack", "-u", user, "-d", str(right), target)
    assert password in found, found
    on_existing = _run("sipvicious_svcrack", "-u", user, "-d", str(wrong), target)
    on_missing = _run("sipvicious_svcrack", "-u", "777777", "-d", str(wrong), target)
    assert "found nothing" in on_existing.lower() or "could not" in on_existing.lower(), (
        on_existing)
    # Whatever it prints for a real account, it prints for a missing one.
    assert on_existing.replace(user, "X") == on_missing.replace("777777", "X")


def test_flood_from_one_address_is_limited_by_pike(start_kamailio) -> None:
    kam: Kamailio = start_kamailio(pike_density=10)
    flooder = SipAgent(kam.addr, domain=REALM)
    try:
        answered = 0
        for _ in range(60):
            try:
                flooder.options(timeout=0.05)
                answered += 1
            except TimeoutError:
                pass
        assert 5 <= answered < 40, answered
    finally:
        flooder.close()
