"""Numbering: what was dialed, per dialing mode, and which class it falls in."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialgate.domain.numbering import DialedKind, NumberClass, classify, normalize
from tests.unit.policy_support import plan

C = NumberClass


@pytest.mark.parametrize(
    ("dialed", "mode", "klass", "country", "e164"),
    [
        # nanp mode: 10 or 11 digits are NANP, 011/00 start international numbers
        ("5145551234", "nanp", C.CANADA, "CA", "+15145551234"),
        ("15145551234", "nanp", C.CANADA, "CA", "+15145551234"),
        ("(514) 555-1234", "nanp", C.CANADA, "CA", "+15145551234"),
        ("2125551234", "nanp", C.US48, "US", "+12125551234"),
        ("9075551234", "nanp", C.US_OTHER, "US", "+19075551234"),  # Alaska
        ("8085551234", "nanp", C.US_OTHER, "US", "+18085551234"),  # Hawaii
        ("7875551234", "nanp", C.US_OTHER, "PR", "+17875551234"),  # Puerto Rico
        ("3405551234", "nanp", C.US_OTHER, "VI", "+13405551234"),  # US Virgin Islands
        ("6715551234", "nanp", C.US_OTHER, "GU", "+16715551234"),  # Guam
        ("8005551234", "nanp", C.TOLLFREE, None, "+18005551234"),
        ("18335551234", "nanp", C.TOLLFREE, None, "+18335551234"),
        ("8445551234", "nanp", C.TOLLFREE, None, "+18445551234"),
        ("8555551234", "nanp", C.TOLLFREE, None, "+18555551234"),
        ("8665551234", "nanp", C.TOLLFREE, None, "+18665551234"),
        ("8775551234", "nanp", C.TOLLFREE, None, "+18775551234"),
        ("8885551234", "nanp", C.TOLLFREE, None, "+18885551234"),
        ("8765551234", "nanp", C.INTERNATIONAL, "JM", "+18765551234"),  # Jamaica
        ("8095551234", "nanp", C.INTERNATIONAL, "DO", "+18095551234"),  # Dominican Republic
        ("8295551234", "nanp", C.INTERNATIONAL, "DO", "+18295551234"),
        ("8495551234", "nanp", C.INTERNATIONAL, "DO", "+18495551234"),
        ("011447012345678", "nanp", C.INTERNATIONAL, "GB", "+447012345678"),
        ("00447012345678", "nanp", C.INTERNATIONAL, "GB", "+447012345678"),
        ("+447012345678", "nanp", C.INTERNATIONAL, "GB", "+447012345678"),
        ("+441534123456", "nanp", C.INTERNATIONAL, "JE", "+441534123456"),  # Jersey shares +44
        ("+5145551234", "nanp", C.INTERNATIONAL, "PE", "+5145551234"),
        # e164 mode: the country code comes first; 011/00/+ still work
        ("5145551234", "e164", C.INTERNATIONAL, "PE", "+5145551234"),  # +51 Peru
        ("15145551234", "e164", C.CANADA, "CA", "+15145551234"),
        ("447012345678", "e164", C.INTERNATIONAL, "GB", "+447012345678"),
        ("011447012345678", "e164", C.INTERNATIONAL, "GB", "+447012345678"),
        ("0033612345678", "e164", C.INTERNATIONAL, "FR", "+33612345678"),
        ("+12125551234", "e164", C.US48, "US", "+12125551234"),
        ("18765551234", "e164", C.INTERNATIONAL, "JM", "+18765551234"),
    ],
)
def test_dialed_numbers_are_normalized_and_classified_per_dialing_mode(
    dialed: str, mode: str, klass: NumberClass, country: str | None, e164: str
) -> None:
    result = classify(normalize(dialed, mode), plan())
    assert (result.klass, result.country, result.e164) == (klass, country, e164)


@pytest.mark.parametrize("mode", ["nanp", "e164"])
@pytest.mark.parametrize(
    ("dialed", "klass"),
    [
        ("911", C.EMERGENCY),
        ("411", C.DIRECTORY_ASSISTANCE),
        ("*97", C.VOICEMAIL),
        ("***89", C.MOH_TEST),
        ("*** 95", C.MOH_TEST),
        ("***100", C.MOH_TEST),
    ],
)
def test_service_codes_are_recognized_in_both_dialing_modes(
    dialed: str, mode: str, klass: NumberClass
) -> None:
    number = normalize(dialed, mode)
    assert number.kind is DialedKind.SERVICE
    assert classify(number, plan()).klass is klass


@pytest.mark.parametrize("mode", ["nanp", "e164"])
@pytest.mark.parametrize("npa", ["514", "212", "800", "876"])
def test_npa_555_1212_is_blocked_directory_assistance(mode: str, npa: str) -> None:
    result = classify(normalize(f"1{npa}5551212", mode), plan())
    assert result.klass is C.DIRECTORY_ASSISTANCE
    assert result.blocked


@pytest.mark.parametrize(
    ("dialed", "mode"),
    [
        ("", "nanp"),
        ("123", "nanp"),  # neither 10 nor 11 digits
        ("5551234", "nanp"),  # 7-digit local dialing is not supported
        ("25145551234", "nanp"),  # 11 digits not starting with 1
        ("abc", "nanp"),
        ("514-555-12x4", "nanp"),
        ("٥١٤٥٥٥١٢٣٤", "nanp"),  # non-ASCII digits
        ("*98", "nanp"),
        ("***88", "nanp"),
        ("***101", "nanp"),
        ("9005551234", "nanp"),  # premium-rate 900 is not dialable
        ("5005551234", "nanp"),  # personal 500 numbers
        ("3115551234", "nanp"),  # N11 is not an area code
        ("5140551234", "nanp"),  # exchanges never start with 0
        ("5141551234", "nanp"),  # ... or 1
        ("0", "nanp"),
        ("011", "nanp"),
        ("+", "e164"),
        ("+0441234", "e164"),
        ("+4470", "e164"),  # too short for the UK
        ("+1234567890123456", "e164"),  # longer than E.164 allows
        ("2125551234", "e164"),  # +212 Morocco, wrong length
        ("0125551234", "e164"),
    ],
)
def test_malformed_or_unassigned_numbers_are_invalid(dialed: str, mode: str) -> None:
    assert classify(normalize(dialed, mode), plan()).klass is C.INVALID


def test_the_plan_covers_nanp_from_phonenumbers_without_hand_typed_area_codes() -> None:
    npa = plan().npa
    assert {k for k, v in npa.items() if v.klass is C.TOLLFREE} == {
        "800", "833", "844", "855", "866", "877", "888",
    }
    canada = {k for k, v in npa.items() if v.klass is C.CANADA}
    assert {"204", "416", "514", "604", "867", "902"} <= canada
    assert len(canada) > 40
    assert sum(v.klass is C.US48 for v in npa.values()) > 300
    assert {"907", "808"} <= {k for k, v in npa.items() if v.klass is C.US_OTHER}


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_country_of_every_region_s_example_numbers_matches_phonenumbers(region: str) -> None:
    for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        result = classify(normalize(e164, "nanp"), plan())
        expected = phonenumbers.region_code_for_number(example)
        assert result.klass is not C.INVALID, e164
        if example.country_code != 1:
            assert result.klass is C.INTERNATIONAL
        if result.klass is not C.TOLLFREE:
            assert result.country == expected, e164


nanp_numbers = st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(nanp_numbers)
def test_ten_eleven_and_plus_one_forms_of_a_nanp_number_are_the_same_call(digits: str) -> None:
    forms = {normalize(d, "nanp") for d in (digits, "1" + digits, "+1" + digits, "0111" + digits)}
    assert len(forms) == 1


@settings(max_examples=400, deadline=None)
@given(nanp_numbers)
def test_nanp_numbers_phonenumbers_finds_valid_get_its_region(digits: str) -> None:
    number = phonenumbers.parse("+1" + digits)
    if not phonenumbers.is_valid_number(number) or digits[3:] == "5551212":
        return
    result = classify(normalize(digits, "nanp"), plan())
    region = phonenumbers.region_code_for_number(number)
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE and region in (
        "US", "CA"
    ):
        assert result.klass is C.TOLLFREE  # the NANP-wide 8XX codes
    elif phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.TOLL_FREE:
        # A toll-free range of one NANP country (e.g. the Bahamas' 242-300) is free only inside
        # that country: from Canada or the US it is an international call to that country.
        assert (result.klass, result.country) == (C.INTERNATIONAL, region)
    elif phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    ):
        assert result.klass is C.INVALID
    else:
        assert result.country == phonenumbers.region_code_for_number(number)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_normalize_never_fails_on_arbitrary_input(text: str) -> None:
    for mode in ("nanp", "e164"):
        result = classify(normalize(text, mode), plan())
        assert result.klass in set(NumberClass)
        if result.e164 is not None:
            assert result.e164[1:].isdigit() and len(result.e164) <= 16
