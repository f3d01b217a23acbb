"""Call policy: every reason, every setting that affects a call, sub accounts, and the order."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dialgate.adapters.rate_data import demo_decks
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.numbering import NumberClass
from dialgate.domain.policy import SIP_CODES, STEPS, AuthorizeRequest, decide
from tests.unit.policy_support import (
    MAIN,
    SUB,
    call,
    deck,
    main_settings,
    snapshot,
    sub_settings,
)

INTL = {"allow_international": "yes"}
UK_MOBILE = "011447012345678"
UK_LANDLINE = "011442079460123"


def steps(decision: Any) -> list[str]:
    return [s for s, _, _ in decision.trace]


# --- account -------------------------------------------------------------------------------------


def test_an_unknown_account_is_refused_with_404() -> None:
    d = call(None, "2125551234", account="999999")
    assert (d.allow, d.reason, d.sip_code, d.action) == (False, "unknown_account", 404, "reject")
    assert d.trace == (("account", "deny", "no account 999999"),)


def test_a_snapshot_of_another_account_is_never_used() -> None:
    d = decide(snapshot(), AuthorizeRequest.checked("100001", "2125551234"))
    assert d.reason == "unknown_account"


def test_a_disabled_account_cannot_call() -> None:
    d = call(snapshot(enabled=False), "2125551234")
    assert (d.allow, d.reason, d.sip_code) == (False, "account_disabled", 403)


# --- encryption, IP and POP restrictions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("transport", "srtp", "allowed"),
    [("udp", False, False), ("tcp", True, False), ("tls", False, False), ("tls", True, True)],
)
def test_encrypted_sip_requires_tls_and_srtp(transport: str, srtp: bool, allowed: bool) -> None:
    d = call(snapshot(main_settings(encrypted_sip="yes")), "2125551234",
             transport=transport, srtp=srtp)
    assert d.allow is allowed
    if not allowed:
        assert (d.reason, d.sip_code) == ("encryption_required", 488)


def test_unencrypted_calls_are_fine_when_encryption_is_off() -> None:
    assert call(snapshot(), "2125551234", transport="udp").allow


IP_ON = {"ip_restriction_enabled": "yes",
         "ip_restriction": "203.0.113.0/24, 198.51.100.7, 2001:db8::/32, pbx.example.com"}


@pytest.mark.parametrize(
    ("source", "allowed"),
    [
        ("203.0.113.99", True),  # inside the CIDR range
        ("198.51.100.7", True),  # the exact address
        ("198.51.100.8", False),
        ("2001:db8::5", True),
        ("2001:db9::5", False),
        ("192.0.2.10", True),  # what pbx.example.com resolved to
        ("10.0.0.1", False),
        (None, False),  # no source address: fail closed
    ],
)
def test_ip_restriction_allows_only_listed_addresses_ranges_and_resolved_hosts(
    source: str | None, allowed: bool
) -> None:
    snap = snapshot(main_settings(**IP_ON), resolved_hosts={"pbx.example.com": ["192.0.2.10"]})
    d = call(snap, "2125551234", source_ip=source)
    assert d.allow is allowed
    if not allowed:
        assert (d.reason, d.sip_code) == ("ip_not_allowed", 403)


def test_an_unresolved_host_name_allows_nothing() -> None:
    snap = snapshot(main_settings(ip_restriction_enabled="yes", ip_restriction="pbx.example.com"))
    assert call(snap, "2125551234", source_ip="192.0.2.10").reason == "ip_not_allowed"


def test_ip_restriction_off_ignores_the_source_address() -> None:
    assert call(snapshot(), "2125551234", source_ip="10.9.8.7").allow


@pytest.mark.parametrize(("pop", "allowed"), [("montreal1", True), ("toronto1", True),
                                              ("seattle1", False), (None, False)])
def test_pop_restriction_allows_only_listed_pops(pop: str | None, allowed: bool) -> None:
    snap = snapshot(main_settings(pop_restriction_enabled="yes",
                                  pop_restriction="montreal1,toronto1"))
    d = call(snap, "2125551234", pop=pop)
    assert d.allow is allowed
    if not allowed:
        assert (d.reason, d.sip_code) == ("pop_not_allowed", 403)


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialed", ["123", "9005551234", "abc", "+4470"])
def test_invalid_numbers_are_refused_with_484(dialed: str) -> None:
    d = call(snapshot(), dialed)
    assert (d.reason, d.sip_code) == ("invalid_number", 484)


@pytest.mark.parametrize("dialed", ["5145551212", "12125551212", "+18005551212"])
def test_npa_555_1212_is_always_blocked_even_with_411_allowed(dialed: str) -> None:
    d = call(snapshot(main_settings(allow_411="yes")), dialed)
    assert (d.reason, d.sip_code) == ("blocked_number", 403)
    assert d.destination is not None
    assert d.destination.klass is NumberClass.DIRECTORY_ASSISTANCE


def test_411_is_refused_unless_allowed() -> None:
    d = call(snapshot(), "411")
    assert (d.reason, d.sip_code) == ("directory_assistance_disabled", 403)


def test_411_costs_a_flat_99_cents_when_allowed() -> None:
    d = call(snapshot(main_settings(allow_411="yes")), "411")
    assert (d.allow, d.action) == (True, "call")
    assert d.flat_fee == Decimal("0.99")
    assert d.rate_per_minute == 0
    assert d.route is None
    assert d.max_duration_s == 14400


def test_411_needs_a_balance_covering_its_flat_fee() -> None:
    d = call(snapshot(main_settings(allow_411="yes"), balance="0.98"), "411")
    assert (d.reason, d.sip_code) == ("insufficient_balance", 402)


def test_star_97_reaches_the_account_s_mailbox() -> None:
    d = call(snapshot(main_settings(voicemail="1001")), "*97")
    assert (d.allow, d.action, d.mailbox) == (True, "voicemail", "1001")


def test_star_97_without_a_mailbox_lets_voicemail_ask_for_it() -> None:
    d = call(snapshot(), "*97")
    assert (d.action, d.mailbox) == ("voicemail", None)


@pytest.mark.parametrize(("code", "moh"), [("***89", "tropics"), ("***92", "easy_listening"),
                                           ("***99", "spa_sounds"), ("***100", "bleep")])
def test_music_on_hold_test_codes_play_their_class(code: str, moh: str) -> None:
    d = call(snapshot(balance="0"), code)
    assert (d.allow, d.action, d.moh_class) == (True, "moh_test", moh)


# --- international lock, countries, rates --------------------------------------------------------


@pytest.mark.parametrize("dialed", [UK_LANDLINE, "8765551234", "8095551234", "+33612345678"])
def test_international_call_is_denied_when_international_is_disabled(dialed: str) -> None:
    d = call(snapshot(), dialed)
    assert (d.reason, d.sip_code) == ("international_disabled", 403)


@pytest.mark.parametrize("dialed", ["2125551234", "5145551234", "9075551234", "8005551234"])
def test_us_and_canada_are_always_allowed(dialed: str) -> None:
    d = call(snapshot(main_settings(allowed_countries="FR")), dialed)
    assert d.allow


@pytest.mark.parametrize(
    ("countries", "dialed", "allowed"),
    [
        ("ALL", UK_LANDLINE, True),
        ("FR", UK_LANDLINE, False),
        ("GB,FR", UK_LANDLINE, True),
        ("GB", "8765551234", False),  # Jamaica is a country to allow, like any other
        ("JM", "8765551234", True),
        ("GB", "+441534123456", False),  # Jersey is not the UK
    ],
)
def test_only_allowed_countries_can_be_called(countries: str, dialed: str, allowed: bool) -> None:
    d = call(snapshot(main_settings(**INTL, allowed_countries=countries)), dialed)
    assert d.allow is allowed
    if not allowed:
        assert (d.reason, d.sip_code) == ("country_not_allowed", 403)


def test_a_destination_without_a_rate_in_the_chosen_deck_is_refused_with_404() -> None:
    d = call(snapshot(main_settings(**INTL)), "+6777412345")  # Solomon Islands: not in the deck
    assert (d.reason, d.sip_code) == ("no_rate", 404)


def test_canada_without_a_rate_is_refused_with_404() -> None:
    decks = {"value": deck("value", [("44", "UK", "0.01", 60)]),
             "premium": deck("premium", [("44", "UK", "0.02", 60)])}
    assert call(snapshot(decks=decks), "5145551234").reason == "no_rate"


@pytest.mark.parametrize(("route", "limit", "allowed"), [
    ("premium", "0.150", False),  # the seed: 4470 at $0.3048 is above $0.150
    ("value", "0.150", False),
    ("premium", "0.3048", True),  # at the limit is fine
    ("premium", "", True),  # empty: no cap
])
def test_international_max_rate_refuses_dearer_destinations(
    route: str, limit: str, allowed: bool
) -> None:
    snap = snapshot(main_settings(**INTL, international_route=route, international_max_rate=limit))
    d = call(snap, UK_MOBILE)
    assert d.allow is allowed
    if not allowed:
        assert (d.reason, d.sip_code) == ("rate_above_limit", 403)
    else:
        assert d.rate_per_minute == Decimal("0.3048")


def test_the_international_limit_uses_the_rate_of_the_route_actually_chosen() -> None:
    decks = {"value": deck("value", [("4470", "UK mobile", "0.1000", 60)]),
             "premium": deck("premium", [("4470", "UK mobile", "0.3048", 60)])}
    limit = {**INTL, "international_max_rate": "0.150"}
    value = call(snapshot(main_settings(**limit, international_route="value"), decks=decks),
                 UK_MOBILE)
    premium = call(snapshot(main_settings(**limit, international_route="premium"), decks=decks),
                   UK_MOBILE)
    assert value.allow and value.rate_per_minute == Decimal("0.1000")
    assert premium.reason == "rate_above_limit"


def test_the_international_limit_does_not_apply_to_domestic_calls() -> None:
    snap = snapshot(main_settings(international_max_rate="0.001"))
    assert call(snap, "9075551234").allow  # Alaska at $0.035 on Premium


# --- routes, carriers and prices -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "dialed", "route", "rate", "guaranteed"),
    [
        ({}, "2125551234", "premium", "0.01", True),  # US48: Premium at a cent, always
        ({"canada_route": "value"}, "5145551234", "value", "0.0050", False),
        ({"canada_route": "premium"}, "5145551234", "premium", "0.0100", True),
        ({}, "9075551234", "premium", "0.0350", False),  # Alaska: rated per prefix on Premium
        ({}, "8085551234", "premium", "0.0150", False),  # Hawaii
        ({"tollfree_route": "value"}, "8005551234", "value", "0", False),
        ({"tollfree_route": "premium"}, "8005551234", "premium", "0.0106", True),
        ({**INTL, "international_route": "value"}, UK_LANDLINE, "value", "0.0095", False),
        ({**INTL, "international_route": "premium"}, UK_LANDLINE, "premium", "0.0120", False),
    ],
)
def test_each_class_takes_its_route_rate_and_caller_id_guarantee(
    changes: dict[str, str], dialed: str, route: str, rate: str, guaranteed: bool
) -> None:
    d = call(snapshot(main_settings(**changes)), dialed, caller_id="5145550100")
    assert (d.allow, d.route, d.rate_per_minute, d.caller_id_guaranteed) == (
        True, route, Decimal(rate), guaranteed,
    )


@pytest.mark.parametrize(
    ("carrier", "pop", "expected"),
    [
        ("server_default", "montreal1", "canadian"),
        ("server_default", "vancouver1", "canadian"),
        ("server_default", "seattle1", "american"),
        ("server_default", "london1", "american"),
        ("server_default", None, "american"),
        ("american", "montreal1", "american"),
        ("canadian", "seattle1", "canadian"),
    ],
)
def test_toll_free_carrier_follows_the_setting_or_the_pop_s_country(
    carrier: str, pop: str | None, expected: str
) -> None:
    d = call(snapshot(main_settings(tollfree_carrier=carrier)), "8885551234", pop=pop)
    assert d.carrier == expected


def test_only_toll_free_calls_have_a_carrier() -> None:
    assert call(snapshot(), "2125551234", pop="montreal1").carrier is None


# --- balance and duration ------------------------------------------------------------------------


def test_a_call_the_balance_cannot_pay_for_is_refused_with_402() -> None:
    d = call(snapshot(balance="0.00"), "2125551234")
    assert (d.reason, d.sip_code) == ("insufficient_balance", 402)


def test_a_snapshot_with_another_balance_decides_as_one_compiled_with_it() -> None:
    decks = demo_decks()
    poor = snapshot(balance="0.00", decks=decks)
    topped_up = poor.with_balance(Decimal("0.50"))
    compiled = snapshot(balance="0.50", decks=decks)
    assert topped_up == compiled and topped_up.balance_trace == compiled.balance_trace
    for dialed in ("2125551234", "011447012345678", "5145551234"):
        assert call(topped_up, dialed) == call(compiled, dialed)
    assert call(poor, "2125551234").reason == "insufficient_balance"
    assert call(topped_up, "2125551234").allow


def test_free_toll_free_calls_need_no_balance() -> None:
    assert call(snapshot(balance="0.00"), "8005551234").allow


def test_premium_toll_free_calls_need_a_balance() -> None:
    snap = snapshot(main_settings(tollfree_route="premium"), balance="0.00")
    assert call(snap, "8005551234").reason == "insufficient_balance"


@pytest.mark.parametrize(
    ("changes", "balance", "dialed", "seconds"),
    [
        ({}, "0.05", "2125551234", 300),  # 5 cents at a cent a minute
        ({}, "1000", "2125551234", 14400),  # the domestic cap (default)
        ({"max_call_time_domestic": "600"}, "1000", "2125551234", 600),
        ({"max_call_time_domestic": "600"}, "1000", "8005551234", 600),  # free, still capped
        ({**INTL}, "1000", UK_LANDLINE, 3600),  # the international cap (default)
        ({**INTL, "max_call_time_international": "120"}, "1000", UK_LANDLINE, 120),
        ({**INTL, "max_call_time_international": "7200"}, "0.10", UK_LANDLINE, 600),
    ],
)
def test_max_duration_is_the_class_cap_or_what_the_balance_pays_for(
    changes: dict[str, str], balance: str, dialed: str, seconds: int
) -> None:
    d = call(snapshot(main_settings(**changes), balance=balance), dialed)
    assert d.max_duration_s == seconds


def test_max_duration_counts_whole_billing_increments() -> None:
    decks = {"value": deck("value", [("44", "UK", "0.0600", 6)]),
             "premium": deck("premium", [("44", "UK", "0.0700", 6)])}
    d = call(snapshot(main_settings(**INTL), balance="0.05", decks=decks), UK_LANDLINE)
    assert (d.increment_s, d.max_duration_s) == (6, 48)


# --- caller ID and emergency ---------------------------------------------------------------------


def test_the_account_caller_id_number_wins_over_the_device_s() -> None:
    d = call(snapshot(main_settings(callerid_number="4165550199")), "2125551234",
             caller_id="5145550100")
    assert d.caller_id == "4165550199"


def test_without_a_caller_id_number_the_device_s_is_passed() -> None:
    assert call(snapshot(), "2125551234", caller_id="5145550100").caller_id == "5145550100"


def test_emergency_uses_the_caller_s_number_when_it_is_an_e911_enabled_did() -> None:
    snap = snapshot(main_settings(e911_callerid="5145550000"), e911_dids=["15145550100"])
    d = call(snap, "911", caller_id="+15145550100")
    assert (d.allow, d.action, d.caller_id) == (True, "emergency", "5145550100")


def test_emergency_falls_back_to_the_e911_default_caller_id() -> None:
    snap = snapshot(main_settings(e911_callerid="5145550000"), e911_dids=["5145550100"])
    d = call(snap, "911", caller_id="4165550199")
    assert (d.allow, d.caller_id) == (True, "5145550000")


def test_emergency_without_an_e911_caller_id_gets_the_busy_tone() -> None:
    d = call(snapshot(e911_dids=["5145550100"]), "911", caller_id="4165550199")
    assert (d.allow, d.reason, d.sip_code) == (False, "e911_no_callerid", 486)


def test_emergency_skips_balance_price_country_and_time_limits() -> None:
    snap = snapshot(
        main_settings(e911_callerid="5145550000", allowed_countries="FR",
                      international_max_rate="0", max_call_time_domestic="60"),
        balance="-20",
    )
    d = call(snap, "911")
    assert (d.allow, d.action, d.max_duration_s, d.route, d.rate_per_minute) == (
        True, "emergency", None, None, None,
    )
    skipped = {s for s, outcome, _ in d.trace if outcome == "skip"}
    assert {"allowed_countries", "rate", "international_max_rate", "balance",
            "max_duration"} <= skipped


# --- dialing modes -------------------------------------------------------------------------------


def test_5145551234_is_montreal_in_nanp_mode() -> None:
    d = call(snapshot(main_settings(dialing_mode="nanp")), "5145551234")
    assert d.destination is not None
    assert (d.destination.klass, d.destination.country) == (NumberClass.CANADA, "CA")


def test_5145551234_is_peru_in_e164_mode() -> None:
    refused = call(snapshot(main_settings(dialing_mode="e164")), "5145551234")
    assert refused.reason == "international_disabled"
    d = call(snapshot(main_settings(dialing_mode="e164", **INTL)), "5145551234")
    assert d.destination is not None
    assert (d.destination.country, d.destination.e164, d.rate_per_minute) == (
        "PE", "+5145551234", Decimal("0.0200"),
    )


# --- sub accounts --------------------------------------------------------------------------------


def test_a_sub_account_has_its_own_international_lock() -> None:
    main = main_settings(**INTL)
    assert call(snapshot(main), UK_LANDLINE).allow
    d = call(snapshot(main, sub=sub_settings(main)), UK_LANDLINE)
    assert (d.reason, decide(None, AuthorizeRequest(SUB, "1")).reason) == (
        "international_disabled", "unknown_account",
    )
    assert call(snapshot(main, sub=sub_settings(main, allow_international="yes")),
                UK_LANDLINE).allow


def test_a_sub_account_inherits_the_main_account_s_countries_and_rate_limit() -> None:
    main = main_settings(**INTL, allowed_countries="FR", international_max_rate="0.150",
                         international_route="premium")
    sub = sub_settings(main, allow_international="yes")
    assert call(snapshot(main, sub=sub), UK_LANDLINE).reason == "country_not_allowed"
    main_gb = main_settings(**INTL, allowed_countries="GB", international_max_rate="0.150",
                            international_route="premium")
    sub_gb = sub_settings(main_gb, allow_international="yes")
    assert call(snapshot(main_gb, sub=sub_gb), UK_MOBILE).reason == "rate_above_limit"


def test_a_sub_account_has_its_own_ip_and_pop_restrictions() -> None:
    main = main_settings(ip_restriction_enabled="yes", ip_restriction="203.0.113.1",
                         pop_restriction_enabled="yes", pop_restriction="montreal1")
    assert call(snapshot(main), "2125551234", source_ip="10.0.0.1").reason == "ip_not_allowed"
    free_sub = snapshot(main, sub=sub_settings(main))
    assert call(free_sub, "2125551234", source_ip="10.0.0.1", pop="seattle1").allow
    locked = sub_settings(main, ip_restriction_enabled="yes", ip_restriction="10.0.0.0/8")
    assert call(snapshot(main, sub=locked), "2125551234", source_ip="203.0.113.1").reason == (
        "ip_not_allowed"
    )


@pytest.mark.parametrize(
    ("key", "value", "dialed", "check"),
    [
        ("canada_route", "premium", "5145551234", lambda d: d.route == "premium"),
        ("dialing_mode", "e164", "5145551234", lambda d: d.reason == "international_disabled"),
        ("callerid_number", "4165550199", "2125551234", lambda d: d.caller_id == "4165550199"),
        ("voicemail", "2002", "*97", lambda d: d.mailbox == "2002"),
        ("encrypted_sip", "yes", "2125551234", lambda d: d.reason == "encryption_required"),
        ("tollfree_carrier", "canadian", "8005551234", lambda d: d.carrier == "canadian"),
    ],
)
def test_a_sub_account_override_replaces_the_main_account_s_value(
    key: str, value: str, dialed: str, check: Any
) -> None:
    main = main_settings(voicemail="1001", callerid_number="5145550100")
    d = call(snapshot(main, sub=sub_settings(main, **{key: value})), dialed, pop="seattle1")
    assert check(d)
    assert not check(call(snapshot(main, sub=sub_settings(main)), dialed, pop="seattle1"))


def test_a_sub_account_without_an_override_inherits_the_main_account_s_value() -> None:
    main = main_settings(canada_route="premium")
    d = call(snapshot(main, sub=sub_settings(main)), "5145551234")
    assert d.route == "premium"


# --- order ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "request_args", "dialed", "reason"),
    [
        # an IP-restricted call to a blocked country reports the IP first
        ({**INTL, "allowed_countries": "FR", "ip_restriction_enabled": "yes",
          "ip_restriction": "203.0.113.1"}, {"source_ip": "10.0.0.1"}, UK_LANDLINE,
         "ip_not_allowed"),
        ({"encrypted_sip": "yes", "ip_restriction_enabled": "yes",
          "ip_restriction": "203.0.113.1"}, {"source_ip": "10.0.0.1"}, "2125551234",
         "encryption_required"),
        ({"ip_restriction_enabled": "yes", "ip_restriction": "203.0.113.1",
          "pop_restriction_enabled": "yes", "pop_restriction": "montreal1"},
         {"source_ip": "10.0.0.1", "pop": "seattle1"}, "2125551234", "ip_not_allowed"),
        ({"pop_restriction_enabled": "yes", "pop_restriction": "montreal1"},
         {"pop": "seattle1"}, "123", "pop_not_allowed"),
        ({"allowed_countries": "FR"}, {}, UK_LANDLINE, "international_disabled"),
        ({**INTL, "allowed_countries": "FR"}, {}, "+6777412345", "country_not_allowed"),
        ({**INTL, "international_max_rate": "0.01"}, {}, "+6777412345", "no_rate"),
        ({**INTL, "international_max_rate": "0.150"}, {}, UK_MOBILE, "rate_above_limit"),
        ({"pop_restriction_enabled": "yes", "pop_restriction": "montreal1"},
         {"pop": "seattle1"}, "911", "pop_not_allowed"),
        ({"encrypted_sip": "yes"}, {}, "911", "encryption_required"),
    ],
)
def test_the_first_broken_rule_in_the_issue_s_order_is_reported(
    changes: dict[str, str], request_args: dict[str, Any], dialed: str, reason: str
) -> None:
    d = call(snapshot(main_settings(**changes), balance="0"), dialed, **request_args)
    assert d.reason == reason


def test_a_disabled_account_is_reported_before_anything_else() -> None:
    snap = snapshot(main_settings(encrypted_sip="yes"), enabled=False, balance="0")
    assert call(snap, "123", source_ip="10.0.0.1").reason == "account_disabled"


def test_an_allowed_call_traces_every_step_in_order() -> None:
    d = call(snapshot(main_settings(**INTL)), UK_LANDLINE)
    assert steps(d) == list(STEPS)
    assert all(outcome in ("pass", "skip") for _, outcome, _ in d.trace)


def test_the_decision_is_the_json_response_contract() -> None:
    d = call(snapshot(main_settings(**INTL, international_route="premium")), UK_MOBILE,
             caller_id="5145550100", pop="montreal1", source_ip="203.0.113.5")
    body = json.loads(json.dumps(d.to_json()))
    assert set(body) == {
        "allow", "action", "sip_code", "reason", "message", "destination", "route", "carrier",
        "rate_per_minute", "increment_s", "flat_fee", "max_duration_s", "caller_id",
        "caller_id_guaranteed", "mailbox", "moh_class", "trace",
    }
    assert body["destination"] == {"e164": "+447012345678", "class": "international",
                                   "country": "GB", "region": "Europe",
                                   "name": "United Kingdom - Mobile"}
    assert (body["rate_per_minute"], body["increment_s"], body["flat_fee"]) == ("0.3048", 60, None)
    assert body["max_duration_s"] == 1920  # $10 at $0.3048/min: 32 whole minutes
    assert body["trace"][0] == {"step": "account", "outcome": "pass", "detail": "enabled"}
    assert body["message"]


def test_a_refusal_carries_a_human_message_and_no_price() -> None:
    body = call(snapshot(), UK_LANDLINE).to_json()
    assert body["allow"] is False and body["action"] == "reject"
    assert body["rate_per_minute"] is None and body["route"] is None
    assert "International calls are disabled" in body["message"]
    assert body["trace"][-1]["outcome"] == "deny"


def test_every_reason_has_its_sip_code() -> None:
    assert SIP_CODES == {
        "ok": 200, "unknown_account": 404, "account_disabled": 403, "encryption_required": 488,
        "ip_not_allowed": 403, "pop_not_allowed": 403, "invalid_number": 484,
        "blocked_number": 403, "directory_assistance_disabled": 403,
        "international_disabled": 403, "country_not_allowed": 403, "no_rate": 404,
        "rate_above_limit": 403, "insufficient_balance": 402, "e911_no_callerid": 486,
    }


@pytest.mark.parametrize(("field", "kwargs"), [
    ("transport", {"transport": "sctp"}),
    ("source_ip", {"source_ip": "300.1.1.1"}),
    ("source_ip", {"source_ip": "pbx.example.com"}),
    ("dialed", {"dialed": ""}),
])
def test_a_malformed_request_is_a_validation_error(field: str, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"dialed": "2125551234", **kwargs}
    with pytest.raises(ValidationFailed) as info:
        AuthorizeRequest.checked(MAIN, args.pop("dialed"), **args)
    assert info.value.errors[0].field == field


def test_deciding_a_call_never_parses_with_phonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    snap = snapshot(main_settings(**INTL))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("phonenumbers.parse on the hot path")

    monkeypatch.setattr(phonenumbers, "parse", refuse)
    for dialed in ("2125551234", UK_MOBILE, "5145551234", "8005551234", "911", "+5145551234"):
        call(snap, dialed)


# --- properties ----------------------------------------------------------------------------------

routes = st.sampled_from(["value", "premium"])
country_lists = st.sampled_from(["ALL", "GB", "FR,DE", "JM,DO", "PE,MX,GB"])
modes = st.sampled_from(["nanp", "e164"])
balances = st.decimals(min_value=Decimal(-50), max_value=Decimal(500), places=2)
international_dialed = st.sampled_from([
    UK_LANDLINE, UK_MOBILE, "+33612345678", "8765551234", "18095551234", "+5145551234",
    "0052155123456", "+861381234567", "+6777412345", "0111441534123456",
])
any_settings = st.fixed_dictionaries({
    "canada_route": routes,
    "international_route": routes,
    "tollfree_route": routes,
    "allowed_countries": country_lists,
    "international_max_rate": st.sampled_from(["", "0", "0.150", "5"]),
    "dialing_mode": modes,
    "allow_411": st.booleans(),
    "max_call_time_international": st.integers(60, 86400),
})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings, balances, international_dialed)
def test_with_international_disabled_no_international_destination_is_allowed(
    changes: dict[str, Any], balance: Decimal, dialed: str
) -> None:
    d = call(snapshot(main_settings(**changes, allow_international="no"), balance=balance), dialed)
    assume(d.destination is not None and d.destination.klass is NumberClass.INTERNATIONAL)
    assert not d.allow


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings, balances, st.booleans())
def test_emergency_is_never_refused_for_balance(
    changes: dict[str, Any], balance: Decimal, international: bool
) -> None:
    settings_ = main_settings(**changes, allow_international=international,
                              e911_callerid="5145550000")
    d = call(snapshot(settings_, balance=balance), "911")
    assert (d.allow, d.action, d.reason) == (True, "emergency", "ok")


dialed_anything = st.one_of(
    international_dialed,
    st.sampled_from(["2125551234", "5145551234", "8005551234", "9075551234", "411", "911",
                     "*97", "***90", "5145551212", "123"]),
    st.text(alphabet="0123456789+*", max_size=16).filter(bool),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings, balances, dialed_anything, st.booleans())
def test_the_trace_follows_the_issue_s_order_and_ends_where_the_decision_was_made(
    changes: dict[str, Any], balance: Decimal, dialed: str, international: bool
) -> None:
    d = call(snapshot(main_settings(**changes, allow_international=international),
                      balance=balance), dialed)
    names = steps(d)
    assert names == [s for s in STEPS if s in names]  # in order, none repeated
    assert d.sip_code == SIP_CODES[d.reason]
    if d.allow:
        assert d.reason == "ok" and "deny" not in {o for _, o, _ in d.trace}
    else:
        assert d.trace[-1][1] == "deny" and d.action == "reject"


callable_dialed = st.sampled_from([
    UK_LANDLINE, UK_MOBILE, "+33612345678", "8765551234", "0052155123456", "+861381234567",
    "2125551234", "5145551234", "8005551234", "9075551234", "8085551234", "411",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings, st.decimals(min_value=Decimal("0.02"), max_value=Decimal(500), places=6),
       callable_dialed)
def test_an_allowed_call_never_outlasts_its_cap_or_the_balance(
    changes: dict[str, Any], balance: Decimal, dialed: str
) -> None:
    changes = {**changes, "allowed_countries": "ALL", "international_max_rate": "",
               "dialing_mode": "nanp", "allow_411": "yes", "allow_international": "yes"}
    snap = snapshot(main_settings(**changes), balance=balance)
    d = call(snap, dialed)
    assume(d.allow)
    assert d.max_duration_s is not None and d.rate_per_minute is not None
    cap = (snap.max_call_time_international
           if d.destination is not None and d.destination.klass is NumberClass.INTERNATIONAL
           else snap.max_call_time_domestic)
    assert 0 < d.max_duration_s <= cap
    cost = d.rate_per_minute * d.max_duration_s / 60 + (d.flat_fee or 0)
    assert cost <= balance
