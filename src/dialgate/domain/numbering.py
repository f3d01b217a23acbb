"""What was dialed: normalize a dialed string per dialing mode, then classify it.

The numbering plan itself (which NANP area code belongs to which country or class, which country
code to which ISO region) is data compiled once from ``phonenumbers`` by
``adapters.numbering_data.compile_numbering_plan``; this module holds the small generic algorithm
and the plan's shape, and does no I/O. The hot path is a few string slices and dict lookups: no
``phonenumbers.parse``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from dialgate.domain import catalogs


class NumberClass(StrEnum):
    US48 = "us48"
    US_OTHER = "us_other"  # Alaska, Hawaii, US territories: domestic, rated per prefix
    CANADA = "canada"
    TOLLFREE = "tollfree"
    INTERNATIONAL = "international"
    EMERGENCY = "emergency"
    DIRECTORY_ASSISTANCE = "directory_assistance"
    VOICEMAIL = "voicemail"
    MOH_TEST = "moh_test"
    INVALID = "invalid"


# Members bound to module names for the hot path: on Python 3.11 ``NumberClass.X`` is a class
# attribute lookup that costs about ten times a global's.
_US48, _CANADA, _INTERNATIONAL, _DA = (
    NumberClass.US48, NumberClass.CANADA, NumberClass.INTERNATIONAL,
    NumberClass.DIRECTORY_ASSISTANCE,
)

# Classes that are calls to the public network in the US or Canada (the domestic time cap).
DOMESTIC_CLASSES = frozenset(
    {NumberClass.US48, NumberClass.US_OTHER, NumberClass.CANADA, NumberClass.TOLLFREE,
     NumberClass.DIRECTORY_ASSISTANCE}
)

EMERGENCY_CODE = "911"
DIRECTORY_ASSISTANCE_CODE = "411"
VOICEMAIL_CODE = "*97"
# The seed: "XXX-555-1212 is disabled ... the only way to reach directory assistance is 411".
BLOCKED_LINE = "5551212"
MOH_TEST_CODES: Mapping[str, str] = {m.test_code: m.key for m in catalogs.MUSIC_ON_HOLD}

# Separators people type between digit groups; anything else is not a number.
_SEPARATORS = str.maketrans("", "", " -.()/\t")


@dataclass(frozen=True, slots=True)
class CountryInfo:
    code: str  # ISO 3166 alpha-2
    name: str  # English name (CLDR)
    region: str | None  # world region (catalogs.Region value), None if unknown
    label: str = field(init=False, repr=False, compare=False)  # for the trace, built once

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"international: {self.name}")


@dataclass(frozen=True, slots=True)
class NpaInfo:
    """One NANP area code: its class, country and a readable place name."""

    klass: NumberClass
    country: str | None  # None for toll-free, shared by the whole plan
    region: str | None
    name: str
    label: str = field(init=False, repr=False, compare=False)  # for the trace, built once

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.klass.value}: {self.name}")


# Tells whether a national number belongs to a region sharing a country code (e.g. +44 Jersey).
Matcher = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class CountryCodeInfo:
    """One country calling code outside NANP."""

    code: str  # "44"
    main: str | None  # ISO region of the main country; None for non-geographic codes (+870)
    lengths: frozenset[int]  # possible national number lengths
    # Other regions sharing the code, tried in phonenumbers' order before falling back to main.
    regions: tuple[tuple[Matcher, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NumberingPlan:
    """Compiled lookup tables. Treat the mappings as read-only; snapshots share one plan."""

    npa: Mapping[str, NpaInfo]
    country_codes: Mapping[str, CountryCodeInfo]
    countries: Mapping[str, CountryInfo]


class DialedKind(StrEnum):
    NUMBER = "number"  # E.164 digits
    SERVICE = "service"  # 911, 411, *97, ***89..***100
    INVALID = "invalid"


_NUMBER, _SERVICE, _INVALID = DialedKind.NUMBER, DialedKind.SERVICE, DialedKind.INVALID


# The per-call results are NamedTuples, not dataclasses: they are built on every call and a
# tuple is several times cheaper to construct than a frozen dataclass.
class Normalized(NamedTuple):
    kind: DialedKind
    digits: str  # E.164 digits without "+", the service code, or "" when invalid
    detail: str  # why, for the trace


class Destination(NamedTuple):
    """Where a call goes: the ``destination`` of the authorize response, plus two flags."""

    e164: str | None  # "+15145551234"; None for service codes and invalid numbers
    klass: NumberClass
    country: str | None  # ISO alpha-2
    region: str | None  # world region
    name: str
    blocked: bool = False  # NPA-555-1212
    detail: str = ""  # what the trace says: the class and place, or why invalid or blocked

    def to_json(self) -> dict[str, Any]:
        return {"e164": self.e164, "class": self.klass.value, "country": self.country,
                "region": self.region, "name": self.name}


def normalize(dialed: str, mode: str) -> Normalized:
    """Turn what was dialed into E.164 digits (or a service code) per the dialing mode.

    ``nanp``: 10 digits, or 11 starting with 1, are NANP; 011 or 00 starts an international
    number. ``e164``: the country code comes first; 011/00 are still accepted. ``+`` always works.
    """
    # Plain ASCII digits are what switches send; check that first and skip the clean-up.
    if dialed.isascii() and dialed.isdigit():
        digits = dialed
        if digits in _SERVICE_CODES:
            return Normalized(_SERVICE, digits, digits)
        plus = False
    else:
        text = dialed.translate(_SEPARATORS)
        if text in _SERVICE_CODES:
            return Normalized(_SERVICE, text, text)
        plus = text[:1] == "+"
        digits = text[1:] if plus else text
        if not (digits.isascii() and digits.isdigit()):
            return Normalized(_INVALID, "", f"{dialed!r} is not a phone number")
    if plus:
        pass
    elif digits[0] == "0":
        if digits[:3] == "011":
            digits = digits[3:]
        elif digits[:2] == "00":
            digits = digits[2:]
    elif mode == "nanp":
        if len(digits) == 10:
            digits = "1" + digits
        elif len(digits) != 11 or digits[0] != "1":
            return Normalized(
                _INVALID, "",
                f"{dialed!r}: NANP numbers have 10 or 11 digits; dial 011 for international",
            )
    if not digits or digits[0] == "0" or len(digits) > 15:
        return Normalized(_INVALID, "", f"{dialed!r} is not a valid E.164 number")
    return Normalized(_NUMBER, digits, "+" + digits)


_SERVICE_CODES = frozenset(
    {EMERGENCY_CODE, DIRECTORY_ASSISTANCE_CODE, VOICEMAIL_CODE, *MOH_TEST_CODES}
)
_SERVICE_CLASSES: Mapping[str, Destination] = {
    code: Destination(None, klass, None, None, name, False, f"{klass.value}: {name}")
    for code, klass, name in (
        (EMERGENCY_CODE, NumberClass.EMERGENCY, "Emergency services"),
        (DIRECTORY_ASSISTANCE_CODE, NumberClass.DIRECTORY_ASSISTANCE,
         "Directory assistance (411)"),
        (VOICEMAIL_CODE, NumberClass.VOICEMAIL, "Voicemail (*97)"),
        *((code, NumberClass.MOH_TEST, f"Music on hold test: {catalogs.MOH_BY_KEY[key].label}")
          for code, key in MOH_TEST_CODES.items()),
    )
}


def _invalid(detail: str) -> Destination:
    return Destination(None, NumberClass.INVALID, None, None, "Invalid number", False, detail)


def classify(number: Normalized, plan: NumberingPlan) -> Destination:
    """The class, country and place of a normalized number, from the compiled plan only."""
    kind, digits, e164 = number  # for a number, the detail is its E.164 form
    if kind is _NUMBER:
        if digits[0] == "1":
            return _classify_nanp(digits, e164, plan)
        return _classify_international(digits, e164, plan)
    if kind is _SERVICE:
        return _SERVICE_CLASSES[digits]
    return _invalid(number.detail)


def _classify_nanp(digits: str, e164: str, plan: NumberingPlan) -> Destination:
    if len(digits) != 11:
        return _invalid(f"+{digits}: NANP numbers have 10 digits after the 1")
    info = plan.npa.get(digits[1:4])
    if info is None:
        return _invalid(f"+{digits}: area code {digits[1:4]} is not a dialable area code")
    if digits[4] in "01":
        return _invalid(f"+{digits}: exchange {digits[4:7]} cannot start with 0 or 1")
    if digits[4:] == BLOCKED_LINE:
        return Destination(
            e164, _DA, info.country, info.region,
            "Directory assistance (NPA-555-1212)", True, f"{e164} is NPA-555-1212",
        )
    return Destination(e164, info.klass, info.country, info.region, info.name, False, info.label)


def _classify_international(digits: str, e164: str, plan: NumberingPlan) -> Destination:
    codes = plan.country_codes
    # Country codes are prefix-free and 1 to 3 digits long.
    cc = codes.get(digits[:1]) or codes.get(digits[:2]) or codes.get(digits[:3])
    if cc is None:
        return _invalid(f"+{digits}: no such country code")
    national = digits[len(cc.code):]
    if len(national) not in cc.lengths:
        return _invalid(f"+{digits}: wrong length for country code {cc.code}")
    iso = cc.main
    for matches, region in cc.regions:
        if matches(national):
            iso = region
            break
    if iso is None:
        name = f"International network +{cc.code}"
        return Destination(e164, _INTERNATIONAL, None, None, name, False, f"international: {name}")
    country = plan.countries.get(iso)
    if country is None:
        return Destination(e164, _INTERNATIONAL, iso, None, iso, False, f"international: {iso}")
    return Destination(
        e164, _INTERNATIONAL, iso, country.region, country.name, False, country.label
    )


def prefix_matcher(pattern: str) -> Matcher:
    """phonenumbers' leading-digits patterns match at the start of the national number."""
    return re.compile(pattern).match


def full_matcher(pattern: str) -> Matcher:
    return re.compile(pattern).fullmatch
