"""Compile the numbering plan from ``phonenumbers`` data into the lookup tables of
``domain.numbering`` (once per process; about a second, mostly loading the geocoding data).

Nothing here is typed by hand except two facts that are not area codes: which ISO regions are US
territories, and which US states are outside the contiguous 48.
"""

from __future__ import annotations

import re
from functools import lru_cache

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberDesc
from phonenumbers.geodata import GEOCODE_DATA

from dialgate.adapters import geo
from dialgate.domain.catalogs import Region
from dialgate.domain.numbering import (
    CountryCodeInfo,
    CountryInfo,
    Matcher,
    NpaInfo,
    NumberClass,
    NumberingPlan,
    full_matcher,
    prefix_matcher,
)

NANP_CODE = 1
# Regions of NANP that are US territories: domestic, but not the contiguous 48 states.
US_TERRITORIES = frozenset({"AS", "GU", "MP", "PR", "VI"})
# States outside the contiguous 48, as phonenumbers' geocoder names them.
NON_CONTIGUOUS_STATES = frozenset({"Alaska", "AK", "Hawaii", "HI"})
# Exchanges used to probe whether a region's patterns cover an area code: patterns restrict
# some exchanges, so several are tried.
_PROBE_NUMBERS = tuple(f"{nxx}{line}" for nxx in ("234", "345", "456", "567", "678", "789",
                                                   "890", "902", "212", "333")
                       for line in ("4567", "0100"))
_TYPE_DESCS = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
               "personal_number", "voip", "pager", "uan", "voicemail")
# Types dialed and rated like ordinary US or Canadian numbers. Premium-rate (900) and personal
# (5XX) numbers are left out: they are not dialable here, so they classify as invalid.
_ORDINARY_TYPES = ("fixed_line", "mobile", "voip", "uan", "pager", "shared_cost", "voicemail")


def _meta(region: str) -> PhoneMetadata:
    md = PhoneMetadata.metadata_for_region(region)
    if md is None:
        raise LookupError(f"phonenumbers has no metadata for {region}")
    return md


def _pattern(desc: PhoneNumberDesc | None) -> str:
    """A number-type pattern, or one that matches nothing when the type does not exist."""
    pattern = desc.national_number_pattern if desc is not None else None
    return str(pattern) if pattern else "(?!)"


def _lengths(md: PhoneMetadata | None) -> frozenset[int]:
    desc = md.general_desc if md is not None else None
    return frozenset(desc.possible_length or ()) if desc is not None else frozenset()


def _type_pattern(md: PhoneMetadata, types: tuple[str, ...] = _TYPE_DESCS) -> re.Pattern[str]:
    """Numbers of these types in the region, as phonenumbers' number_type recognises them."""
    return re.compile("|".join(f"(?:{_pattern(getattr(md, name, None))})" for name in types))


def _countries() -> dict[str, CountryInfo]:
    out = {
        c.code: CountryInfo(c.code, c.name("en"), c.region.value) for c in geo.countries()
    }
    for code in sorted(geo.DOMESTIC):
        out[code] = CountryInfo(code, geo.country_name(code), Region.AMERICAS.value)
    return out


def _place(npa: str) -> str | None:
    entry = GEOCODE_DATA.get(f"1{npa}")
    return entry.get("en") if entry else None


def _nanp(countries: dict[str, CountryInfo]) -> dict[str, NpaInfo]:
    regions = COUNTRY_CODE_TO_REGION_CODE[NANP_CODE]
    us = _meta("US")
    tollfree = re.compile(_pattern(us.toll_free))
    # phonenumbers' own rule: regions with leading digits own those area codes; the US and
    # Canada are told apart by their full patterns.
    by_leading = [
        (re.compile(str(md.leading_digits)), region)
        for region in regions
        if (md := _meta(region)).leading_digits
    ]
    canada = _type_pattern(_meta("CA"), _ORDINARY_TYPES)
    ordinary_us = _type_pattern(us, _ORDINARY_TYPES)
    table: dict[str, NpaInfo] = {}
    for n in range(200, 1000):
        npa = str(n)
        samples = [npa + rest for rest in _PROBE_NUMBERS]
        if any(tollfree.fullmatch(s) for s in samples):
            table[npa] = NpaInfo(NumberClass.TOLLFREE, None, Region.AMERICAS.value,
                                 "Toll-free (US/Canada)")
            continue
        region = next((r for pat, r in by_leading if pat.fullmatch(npa)), None)
        if region is None and any(canada.fullmatch(s) for s in samples):
            region = "CA"
        if region is None and any(ordinary_us.fullmatch(s) for s in samples):
            region = "US"
        if region is None:
            continue  # unassigned, N11, premium 900, personal 5XX: not dialable
        country = countries.get(region)
        place = _place(npa)
        name = place or (country.name if country else region)
        if region == "CA":
            klass = NumberClass.CANADA
        elif region == "US":
            state = (place or "").rsplit(", ", 1)[-1]
            klass = NumberClass.US_OTHER if state in NON_CONTIGUOUS_STATES else NumberClass.US48
        elif region in US_TERRITORIES:
            klass = NumberClass.US_OTHER
        else:
            klass = NumberClass.INTERNATIONAL
        region_name = country.region if country else Region.AMERICAS.value
        table[npa] = NpaInfo(klass, region, region_name, name)
    return table


def _country_codes() -> dict[str, CountryCodeInfo]:
    out: dict[str, CountryCodeInfo] = {}
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if code == NANP_CODE:
            continue
        if regions == ("001",):
            lengths = _lengths(PhoneMetadata.metadata_for_nongeo_region(code))
            out[str(code)] = CountryCodeInfo(str(code), None, lengths)
            continue
        metas = [(r, _meta(r)) for r in regions]
        lengths = frozenset().union(*(_lengths(md) for _, md in metas))
        matchers: list[tuple[Matcher, str]] = []
        if len(metas) > 1:
            # Same order and rule as phonenumbers' region_code_for_number: leading digits if
            # the region has them, else "the number is of a known type there".
            for region, md in metas:
                if md.leading_digits:
                    matchers.append((prefix_matcher(str(md.leading_digits)), region))
                else:
                    matchers.append((full_matcher(_type_pattern(md).pattern), region))
        out[str(code)] = CountryCodeInfo(str(code), regions[0], lengths, tuple(matchers))
    return out


@lru_cache(maxsize=1)
def compile_numbering_plan() -> NumberingPlan:
    """The numbering tables, compiled once per process from phonenumbers and CLDR."""
    countries = _countries()
    return NumberingPlan(npa=_nanp(countries), country_codes=_country_codes(), countries=countries)
