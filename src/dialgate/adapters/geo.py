"""Countries, their regions and localized names, from well-kept data sets.

- Which countries can be dialed and their calling codes: ``phonenumbers``.
- The continent of each country: the country-converter data set (read as a file, so the CLI does
  not pay for importing pandas).
- Country and region names in English, French and Spanish: CLDR through Babel.
"""

from __future__ import annotations

import csv
import importlib.resources
import re
from functools import lru_cache

import phonenumbers
from babel import Locale

from dialgate.domain.catalogs import Country, Region

_CONTINENT_TO_REGION = {
    "Africa": Region.AFRICA,
    "America": Region.AMERICAS,
    "Asia": Region.ASIA,
    "Europe": Region.EUROPE,
    "Oceania": Region.OCEANIA,
}
# phonenumbers lists Ascension and Tristan da Cunha apart from Saint Helena, of which they are
# part; the continent data set only knows Saint Helena.
_PART_OF = {"AC": "SH", "TA": "SH"}
# The US and Canada are the domestic service area, not "countries to allow".
DOMESTIC = frozenset({"US", "CA"})
LANGUAGES = ("en", "fr", "es")
# CLDR's UN M.49 codes for the five regions, for localized region names.
_REGION_M49 = {
    Region.AFRICA: "002",
    Region.AMERICAS: "019",
    Region.ASIA: "142",
    Region.EUROPE: "150",
    Region.OCEANIA: "009",
}


def _continents() -> dict[str, str]:
    data = importlib.resources.files("country_converter") / "country_data.tsv"
    out: dict[str, str] = {}
    with data.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            # A few rows carry a regular expression instead of the plain code (GB, GR).
            codes = re.findall(r"[A-Z]{2}", row["ISO2"])
            if codes:
                out.setdefault(codes[0], row["continent"])
    return out


@lru_cache(maxsize=1)
def countries() -> tuple[Country, ...]:
    """Every dialable country outside the US and Canada, sorted by code."""
    continents = _continents()
    locales = {lang: Locale.parse(lang) for lang in LANGUAGES}
    result = []
    for code in sorted(phonenumbers.SUPPORTED_REGIONS - DOMESTIC):
        continent = continents.get(_PART_OF.get(code, code))
        region = _CONTINENT_TO_REGION.get(continent or "")
        if region is None:
            continue
        names = {lang: loc.territories.get(code, code) for lang, loc in locales.items()}
        result.append(Country(code, region, phonenumbers.country_code_for_region(code), names))
    return tuple(result)


@lru_cache(maxsize=1)
def countries_by_code() -> dict[str, Country]:
    return {c.code: c for c in countries()}


def region_name(region: Region, language: str = "en") -> str:
    name = Locale.parse(language).territories.get(_REGION_M49[region])
    return str(name) if name else region.value


def country_name(code: str, language: str = "en") -> str:
    """A localized name for any ISO code, US and Canada included."""
    name = Locale.parse(language).territories.get(code)
    return str(name) if name else code
