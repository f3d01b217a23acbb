"""Forwarded legs (leg="forward"): outbound calls of the DID's account that start at the switch.

Every limit on where the call goes and what it costs applies as for a device's call; only the
checks about the device (encryption, source address, POP) do not, and the caller ID is the one
the switch gives.
"""

from __future__ import annotations

import pytest

from dialgate.domain.errors import ValidationFailed
from dialgate.domain.policy import AuthorizeRequest
from tests.unit.policy_support import call, main_settings, snapshot

UK_MOBILE = "+447012345678"
LOCKED_DOWN = {
    "encrypted_sip": "yes",
    "ip_restriction_enabled": "yes",
    "ip_restriction": "203.0.113.7",
    "pop_restriction_enabled": "yes",
    "pop_restriction": "toronto1",
    "callerid_number": "5145550100",
}


def test_a_forward_skips_the_device_checks_but_keeps_the_original_caller_id() -> None:
    snap = snapshot(main_settings(**LOCKED_DOWN))
    device = call(snap, "2125551234", source_ip="198.51.100.1", caller_id="4165550123")
    forward = call(snap, "+12125551234", pop="montreal1", caller_id="4165550123", leg="forward")
    assert device.reason == "encryption_required"
    assert (forward.allow, forward.caller_id) == (True, "4165550123")
    outcome = {s: o for s, o, _ in forward.trace}
    assert [outcome[s] for s in ("encryption", "ip_restriction", "pop_restriction")] == [
        "skip", "skip", "skip"]


@pytest.mark.parametrize(
    ("settings", "balance", "reason", "code"),
    [
        ({}, "10.00", "international_disabled", 403),
        ({"allow_international": "yes", "allowed_countries": "FR"}, "10.00",
         "country_not_allowed", 403),
        ({"allow_international": "yes", "international_max_rate": "0.01"}, "10.00",
         "rate_above_limit", 403),
        ({"allow_international": "yes"}, "0.00", "insufficient_balance", 402),
    ],
)
def test_a_forward_is_refused_exactly_as_a_device_call(
    settings: dict[str, str], balance: str, reason: str, code: int
) -> None:
    snap = snapshot(main_settings(**settings), balance=balance)
    forward = call(snap, UK_MOBILE, caller_id="4165550123", leg="forward")
    device = call(snap, UK_MOBILE, caller_id="4165550123")
    assert (forward.allow, forward.reason, forward.sip_code) == (False, reason, code)
    assert (device.reason, device.sip_code) == (reason, code)


def test_a_forward_gets_the_rate_and_a_max_duration_limited_by_the_balance() -> None:
    snap = snapshot(main_settings(allow_international="yes"), balance="2.00")
    forward = call(snap, UK_MOBILE, leg="forward")
    device = call(snap, UK_MOBILE)
    assert forward.allow and forward.rate_per_minute == device.rate_per_minute
    assert forward.max_duration_s == device.max_duration_s
    assert forward.max_duration_s is not None and forward.max_duration_s < 14400


def test_an_unknown_leg_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as err:
        AuthorizeRequest.checked("100000", "2125551234", leg="transfer")
    assert err.value.errors[0].field == "leg"
