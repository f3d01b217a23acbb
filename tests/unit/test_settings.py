"""The settings registry: every key's default, a valid change and each invalid form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dialgate.adapters import geo
from dialgate.domain import settings as s
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.values import InvalidValue, ValidationContext

CTX = ValidationContext(
    account="100000",
    email="owner@example.com",
    mailboxes=frozenset({"1001"}),
    subaccounts=frozenset({"100000_office"}),
    targets={
        "ivr": frozenset({"1"}),
        "queue": frozenset({"7"}),
        "grp": frozenset({"2"}),
        "tc": frozenset({"3"}),
        "fwd": frozenset({"4"}),
    },
    countries=frozenset(c.code for c in geo.countries()),
)

EXPECTED_DEFAULTS: dict[str, Any] = {
    "canada_route": "value",
    "international_route": "value",
    "tollfree_route": "value",
    "tollfree_carrier": "server_default",
    "allow_411": False,
    "allow_international": False,
    "max_call_time_domestic": 14400,
    "max_call_time_international": 3600,
    "international_max_rate": None,
    "allowed_countries": ("ALL",),
    "e911_callerid": "",
    "dialing_mode": "nanp",
    "callerid_number": "",
    "voicemail": "",
    "music_on_hold": "bleep",
    "ip_restriction_enabled": False,
    "ip_restriction": (),
    "pop_restriction_enabled": False,
    "pop_restriction": (),
    "inbound_protocol": "sip",
    "device_type": "ata",
    "notify_config_changes": True,
    "notify_e911_changes": True,
    "notify_api_changes": True,
    "balance_threshold": Decimal(5),
    "notification_emails": ("owner@example.com",),
    "did_plan": "per_minute",
    "did_cnam_lookup": False,
    "did_pop": "montreal1",
    "did_routing": "account:100000",
    "did_failover_busy": "none:",
    "did_failover_unreachable": "none:",
    "did_failover_noanswer": "none:",
    "newsletter": False,
    "nat": "yes",
    "dtmf_mode": "auto",
    "allowed_codecs": ("all",),
    "encrypted_sip": False,
    "max_expiry": 3600,
    "rtp_timeout": 60,
    "rtp_hold_timeout": 600,
}

# key -> (raw input, canonical value)
VALID: list[tuple[str, object, Any]] = [
    ("canada_route", "premium", "premium"),
    ("international_route", "PREMIUM", "premium"),
    ("tollfree_route", "premium", "premium"),
    ("tollfree_carrier", "canadian", "canadian"),
    ("allow_411", "yes", True),
    ("allow_international", "1", True),
    ("max_call_time_domestic", "60", 60),
    ("max_call_time_international", "86400", 86400),
    ("international_max_rate", "0.1500", Decimal("0.1500")),
    ("international_max_rate", "0", Decimal("0")),
    ("allowed_countries", "gb, jm,DO", ("DO", "GB", "JM")),
    ("allowed_countries", "all", ("ALL",)),
    ("e911_callerid", "1-514-555-0100".replace("-", ""), "5145550100"),
    ("dialing_mode", "e164", "e164"),
    ("callerid_number", "+447012345678", "447012345678"),
    ("callerid_number", "5145550100", "5145550100"),
    ("voicemail", "1001", "1001"),
    ("music_on_hold", "spa_sounds", "spa_sounds"),
    ("ip_restriction_enabled", "false", False),
    (
        "ip_restriction",
        "203.0.113.7, 10.0.0.0/24,2001:db8::/32, pbx.example.com",
        ("203.0.113.7", "10.0.0.0/24", "2001:db8::/32", "pbx.example.com"),
    ),
    ("pop_restriction_enabled", "no", False),
    ("pop_restriction", "montreal1,toronto1", ("montreal1", "toronto1")),
    ("inbound_protocol", "iax2", "iax2"),
    ("device_type", "pbx", "pbx"),
    ("notify_config_changes", "no", False),
    ("notify_e911_changes", "0", False),
    ("notify_api_changes", "false", False),
    ("balance_threshold", "200", Decimal("200")),
    ("balance_threshold", "", None),
    ("notification_emails", "a@example.com, b@example.org", ("a@example.com", "b@example.org")),
    ("did_plan", "flat", "flat"),
    ("did_cnam_lookup", "true", True),
    ("did_pop", "vancouver1", "vancouver1"),
    ("did_routing", "account:100000_office", "account:100000_office"),
    ("did_routing", "ivr:1", "ivr:1"),
    ("did_failover_busy", "vm:1001", "vm:1001"),
    ("did_failover_unreachable", "sys:echo", "sys:echo"),
    ("did_failover_noanswer", "queue:7", "queue:7"),
    ("did_failover_noanswer", "grp:2", "grp:2"),
    ("did_failover_noanswer", "tc:3", "tc:3"),
    ("did_failover_noanswer", "fwd:4", "fwd:4"),
    ("newsletter", "yes", True),
    ("nat", "route", "route"),
    ("dtmf_mode", "info", "info"),
    ("allowed_codecs", "g722,ulaw", ("g722", "ulaw")),
    ("encrypted_sip", "true", True),
    ("max_expiry", "60", 60),
    ("rtp_timeout", "1", 1),
    ("rtp_hold_timeout", "3600", 3600),
]

# key -> (raw input, error code)
INVALID: list[tuple[str, object, str]] = [
    ("canada_route", "cheap", "invalid_choice"),
    ("international_route", "gold", "invalid_choice"),
    ("tollfree_route", "1", "invalid_choice"),
    ("tollfree_carrier", "mexican", "invalid_choice"),
    ("allow_411", "maybe", "invalid_boolean"),
    ("allow_international", "2", "invalid_boolean"),
    ("max_call_time_domestic", "59", "out_of_range"),
    ("max_call_time_domestic", "86401", "out_of_range"),
    ("max_call_time_domestic", "1h", "invalid_integer"),
    ("max_call_time_international", "0", "out_of_range"),
    ("max_call_time_international", "12.5", "invalid_integer"),
    ("international_max_rate", "-0.01", "out_of_range"),
    ("international_max_rate", "0.12345", "too_many_decimals"),
    ("international_max_rate", "cheap", "invalid_decimal"),
    ("international_max_rate", "NaN", "invalid_decimal"),
    ("allowed_countries", "XX", "invalid_country"),
    ("allowed_countries", "US", "invalid_country"),
    ("allowed_countries", "ALL,GB", "invalid_country"),
    ("allowed_countries", " , ", "empty_list"),
    ("e911_callerid", "123", "invalid_nanp_number"),
    ("e911_callerid", "447012345678", "invalid_nanp_number"),
    ("e911_callerid", "0145550100", "invalid_nanp_number"),
    ("dialing_mode", "e.164", "invalid_choice"),
    ("callerid_number", "12ab", "invalid_callerid"),
    ("callerid_number", "0123456789", "invalid_callerid"),
    ("voicemail", "9999", "unknown_mailbox"),
    ("music_on_hold", "metal", "invalid_choice"),
    ("ip_restriction_enabled", "sure", "invalid_boolean"),
    ("ip_restriction", "300.1.1.1", "invalid_ip"),
    ("ip_restriction", "10.0.0.0/33", "invalid_ip"),
    ("ip_restriction", "bad_host!", "invalid_ip"),
    ("pop_restriction_enabled", "x", "invalid_boolean"),
    ("pop_restriction", "mars1", "invalid_pop"),
    ("inbound_protocol", "h323", "invalid_choice"),
    ("device_type", "phone", "invalid_choice"),
    ("notify_config_changes", "often", "invalid_boolean"),
    ("notify_e911_changes", "2", "invalid_boolean"),
    ("notify_api_changes", "y", "invalid_boolean"),
    ("balance_threshold", "0.5", "out_of_range"),
    ("balance_threshold", "201", "out_of_range"),
    ("balance_threshold", "5.123", "too_many_decimals"),
    ("notification_emails", "not-an-email", "invalid_email"),
    ("notification_emails", "a@example.com,broken@", "invalid_email"),
    ("did_plan", "yearly", "invalid_choice"),
    ("did_cnam_lookup", "perhaps", "invalid_boolean"),
    ("did_pop", "mars1", "invalid_pop"),
    ("did_routing", "account:999999", "unknown_target"),
    ("did_routing", "pizza:1", "invalid_target"),
    ("did_routing", "100000", "invalid_target"),
    ("did_failover_busy", "vm:9999", "unknown_target"),
    ("did_failover_unreachable", "sys:explode", "unknown_target"),
    ("did_failover_noanswer", "ivr:99", "unknown_target"),
    ("did_failover_noanswer", "none:x", "invalid_target"),
    ("newsletter", "weekly", "invalid_boolean"),
    ("nat", "maybe", "invalid_choice"),
    ("dtmf_mode", "pulse", "invalid_choice"),
    ("allowed_codecs", "opus", "invalid_codec"),
    ("allowed_codecs", "all,ulaw", "invalid_codec"),
    ("encrypted_sip", "tls", "invalid_boolean"),
    ("max_expiry", "59", "out_of_range"),
    ("max_expiry", "3601", "out_of_range"),
    ("rtp_timeout", "0", "out_of_range"),
    ("rtp_hold_timeout", "3601", "out_of_range"),
    ("portal_password", "short1A", "weak_password"),
    ("portal_password", "alllowercase1", "weak_password"),
    ("sip_password", "NODIGITSHERE", "weak_password"),
]


def current() -> dict[str, Any]:
    return s.defaults(CTX)


def test_every_setting_of_the_seed_has_a_key_and_a_default() -> None:
    assert set(s.STORED_MAIN_KEYS) == set(EXPECTED_DEFAULTS)
    assert current() == EXPECTED_DEFAULTS


def test_every_stored_key_has_valid_and_invalid_cases() -> None:
    assert {k for k, _, _ in VALID} == set(s.STORED_MAIN_KEYS)
    assert {k for k, _, _ in INVALID} == set(s.MAIN_KEYS)


@pytest.mark.parametrize(("key", "raw", "expected"), VALID)
def test_valid_value_is_stored_in_canonical_form(key: str, raw: object, expected: Any) -> None:
    outcome = s.apply_changes(current=current(), changes={key: raw}, ctx=CTX)
    assert outcome.values[key] == expected


@pytest.mark.parametrize(("key", "raw", "code"), INVALID)
def test_invalid_value_is_rejected_with_field_and_rule(key: str, raw: object, code: str) -> None:
    before = current()
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(current=before, changes={key: raw}, ctx=CTX)
    (error,) = info.value.errors
    assert (error.field, error.code) == (key, code)
    assert error.message
    assert before == current()


@pytest.mark.parametrize(
    "key", [k for k in s.STORED_MAIN_KEYS if s.SPECS_BY_KEY[k].empty_means == "default"]
)
def test_empty_value_resets_to_the_default(key: str) -> None:
    changed = {k: v for k, v, _ in VALID if k == key}
    outcome = s.apply_changes(current=current(), changes={key: changed[key]}, ctx=CTX)
    reset = s.apply_changes(current=outcome.values, changes={key: ""}, ctx=CTX)
    assert reset.values[key] == EXPECTED_DEFAULTS[key]


def test_empty_international_max_rate_means_no_cap() -> None:
    capped = s.apply_changes(current=current(), changes={"international_max_rate": "0.2"}, ctx=CTX)
    outcome = s.apply_changes(
        current=capped.values, changes={"international_max_rate": ""}, ctx=CTX
    )
    assert outcome.values["international_max_rate"] is None


def test_rtp_timeout_may_not_exceed_rtp_hold_timeout() -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(current=current(), changes={"rtp_timeout": "700"}, ctx=CTX)
    assert info.value.errors[0].code == "rtp_timeout_greater_than_rtp_hold_timeout"
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(current=current(), changes={"rtp_hold_timeout": "30"}, ctx=CTX)
    assert info.value.errors[0].field == "rtp_hold_timeout"
    both = s.apply_changes(
        current=current(), changes={"rtp_timeout": "700", "rtp_hold_timeout": "800"}, ctx=CTX
    )
    assert (both.values["rtp_timeout"], both.values["rtp_hold_timeout"]) == (700, 800)


@pytest.mark.parametrize("kind", ["ip", "pop"])
def test_enabling_a_restriction_with_an_empty_list_is_an_error(kind: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(current=current(), changes={f"{kind}_restriction_enabled": "yes"}, ctx=CTX)
    assert info.value.errors[0].code == f"missing_{kind}_restriction"


def test_update_naming_an_unknown_key_changes_nothing() -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(
            current=current(), changes={"canada_route": "premium", "colour": "red"}, ctx=CTX
        )
    assert [(e.field, e.code) for e in info.value.errors] == [("colour", "unknown_key")]


def test_every_broken_rule_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(current=current(), changes={"max_expiry": "5", "nat": "maybe"}, ctx=CTX)
    assert {e.field for e in info.value.errors} == {"max_expiry", "nat"}


def test_secrets_are_kept_apart_and_masked_in_changes() -> None:
    outcome = s.apply_changes(current=current(), changes={"sip_password": "NewSecret99"}, ctx=CTX)
    assert outcome.secrets == {"sip_password": "NewSecret99"}
    assert "sip_password" not in outcome.values
    assert [(c.key, c.old, c.new) for c in outcome.changes] == [("sip_password", "***", "***")]


def test_sub_account_override_reset_means_inherit() -> None:
    sub = {**s.sub_defaults(), "canada_route": "premium"}
    outcome = s.apply_changes(
        current=sub, changes={"canada_route": ""}, ctx=CTX, sub=True, inherited=current()
    )
    assert "canada_route" not in outcome.values
    effective = s.effective_settings(current(), outcome.values)
    assert (effective.values["canada_route"], effective.sources["canada_route"]) == (
        "value",
        "main",
    )


def test_sub_account_cannot_set_main_only_keys() -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(
            current=s.sub_defaults(),
            changes={"balance_threshold": "10"},
            ctx=CTX,
            sub=True,
            inherited=current(),
        )
    assert info.value.errors[0].code == "unknown_key"


def test_sub_account_rtp_rule_is_checked_against_inherited_values() -> None:
    with pytest.raises(ValidationFailed) as info:
        s.apply_changes(
            current=s.sub_defaults(),
            changes={"rtp_timeout": "601"},
            ctx=CTX,
            sub=True,
            inherited=current(),
        )
    assert info.value.errors[0].code == "rtp_timeout_greater_than_rtp_hold_timeout"


def test_effective_settings_report_where_each_value_comes_from() -> None:
    sub = {**s.sub_defaults(), "allow_international": True, "nat": "no"}
    effective = s.effective_settings({**current(), "allow_international": False}, sub)

    def read(key: str) -> tuple[Any, str]:
        return effective.values[key], effective.sources[key]

    assert read("allow_international") == (True, "sub")
    assert read("nat") == ("no", "override")
    assert read("dtmf_mode") == ("auto", "main")
    assert read("balance_threshold") == (Decimal(5), "main")


def test_a_main_account_obeys_its_own_settings() -> None:
    effective = s.effective_settings(current())
    assert effective.values == current()
    assert set(effective.sources.values()) == {"main"}


def test_every_key_converts_to_json_and_back_unchanged() -> None:
    for key, value in s.defaults(CTX).items():
        assert s.from_json(key, s.to_json(key, value)) == value, key
    assert s.from_json("international_max_rate", s.to_json("international_max_rate", None)) is None
    assert s.from_json("international_max_rate", "0.15") == Decimal("0.15")


def test_the_widget_and_schema_type_follow_the_value_kind() -> None:
    assert s.spec_for("allow_411").kind.widget == "checkbox"
    assert s.spec_for("nat").kind.widget == "select"
    assert list(s.spec_for("nat").choices or ()) == ["yes", "no", "route", "never"]
    assert s.spec_for("international_max_rate").kind.inputmode == "decimal"
    assert s.spec_for("did_routing").kind.widget == "target"
    assert s.spec_for("allowed_codecs").kind.json_type == list[str]


def test_international_max_rate_is_bounded_like_every_rate() -> None:
    spec = s.spec_for("international_max_rate")
    ctx = ValidationContext(account="100000", email="o@example.com")
    assert spec.parse("999.9999", ctx) == Decimal("999.9999")
    with pytest.raises(InvalidValue) as caught:
        spec.parse("1000", ctx)
    assert caught.value.code == "out_of_range"
