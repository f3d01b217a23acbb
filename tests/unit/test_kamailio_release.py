"""Which Kamailio releases doctor warns about: those whose dialog module can skip a BYE."""

from __future__ import annotations

import pytest

from dialgate.entrypoints.cli.ops import skips_callee_bye


@pytest.mark.parametrize(("version", "affected"), [
    ("kamailio 5.6.3 (x86_64/linux) ", True),   # Debian 12
    ("kamailio 5.7.6 (x86_64/linux)", True),    # the release the upstream report was made on
    ("kamailio 5.8.5 (x86_64/linux) 2f3e1b", True),
    ("kamailio 5.8.6 (x86_64/linux) fb71db", False),  # the fix, backported
    ("kamailio 6.0.1 (x86_64/linux)", True),
    ("kamailio 6.0.2 (x86_64/linux)", False),
    ("kamailio 6.1.0 (aarch64/linux)", False),
    ("kamailio 10.0.0 (x86_64/linux)", False),
    ("something else entirely", False),  # unreadable: no warning rather than a wrong one
])
def test_releases_before_the_upstream_fix_are_flagged(version: str, affected: bool) -> None:
    assert skips_callee_bye(version) is affected
