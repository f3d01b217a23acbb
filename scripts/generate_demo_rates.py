"""Write the demo rate decks, src/dialgate/data/rates_{value,premium}.csv.

The prices are the demo's own (realistic wholesale levels, Value cheaper than Premium); the
prefixes are not typed here: Canadian, US non-48 and Caribbean area codes come from the numbering
plan compiled from phonenumbers, country codes from phonenumbers too. Run it again after a
phonenumbers upgrade: `.venv/bin/python scripts/generate_demo_rates.py`.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import phonenumbers

from dialgate.adapters.numbering_data import compile_numbering_plan
from dialgate.domain.numbering import NumberClass

OUT = Path(__file__).resolve().parent.parent / "src" / "dialgate" / "data"
INCREMENT = 60

# (value, premium) USD per minute.
CANADA = ("0.0050", "0.0100")
# US outside the 48 states, by place (Alaska, Hawaii) or territory.
US_OTHER = {
    "Alaska": ("0.0250", "0.0350"),
    "Hawaii": ("0.0100", "0.0150"),
    "PR": ("0.0110", "0.0160"),
    "VI": ("0.0350", "0.0450"),
    "GU": ("0.0600", "0.0800"),
    "MP": ("0.0700", "0.0900"),
    "AS": ("0.1500", "0.1900"),
}
CARIBBEAN_DEFAULT = ("0.1200", "0.1500")
CARIBBEAN = {
    "JM": ("0.1450", "0.1700"),
    "DO": ("0.0650", "0.0850"),
    "BS": ("0.0900", "0.1100"),
    "TT": ("0.0800", "0.1000"),
}
COUNTRIES = {
    "GB": ("0.0095", "0.0120"), "FR": ("0.0110", "0.0140"), "DE": ("0.0120", "0.0150"),
    "MX": ("0.0150", "0.0190"), "IN": ("0.0150", "0.0210"), "CN": ("0.0120", "0.0160"),
    "PH": ("0.1200", "0.1500"), "AU": ("0.0200", "0.0250"), "BR": ("0.0250", "0.0320"),
    "PE": ("0.0200", "0.0260"), "IT": ("0.0130", "0.0170"), "ES": ("0.0120", "0.0150"),
    "NL": ("0.0140", "0.0180"), "BE": ("0.0190", "0.0240"), "CH": ("0.0250", "0.0320"),
    "IE": ("0.0150", "0.0200"), "PT": ("0.0180", "0.0230"), "PL": ("0.0200", "0.0260"),
    "IL": ("0.0200", "0.0260"), "JP": ("0.0350", "0.0450"), "KR": ("0.0180", "0.0230"),
    "HK": ("0.0150", "0.0190"), "SG": ("0.0150", "0.0190"), "NZ": ("0.0280", "0.0350"),
    "ZA": ("0.0600", "0.0750"), "NG": ("0.1200", "0.1500"), "EG": ("0.1100", "0.1400"),
    "MA": ("0.1900", "0.2400"), "AR": ("0.0300", "0.0380"), "CL": ("0.0250", "0.0320"),
    "CO": ("0.0220", "0.0280"), "VN": ("0.0900", "0.1100"), "PK": ("0.0950", "0.1200"),
    "BD": ("0.0500", "0.0650"), "RU": ("0.0600", "0.0800"), "TR": ("0.0700", "0.0900"),
    "HT": ("0.2500", "0.3100"), "CU": ("0.9500", "1.1000"), "GT": ("0.1300", "0.1600"),
    "SV": ("0.1500", "0.1900"), "HN": ("0.1700", "0.2100"), "VE": ("0.0800", "0.1000"),
    "SE": ("0.0150", "0.0190"), "NO": ("0.0150", "0.0190"), "DK": ("0.0150", "0.0190"),
    "FI": ("0.0250", "0.0320"), "AT": ("0.0200", "0.0250"), "GR": ("0.0180", "0.0230"),
    "UA": ("0.1300", "0.1600"), "SA": ("0.1200", "0.1500"), "AE": ("0.1500", "0.1900"),
    "KE": ("0.1500", "0.1900"), "TH": ("0.0300", "0.0400"), "MY": ("0.0250", "0.0320"),
    "ID": ("0.0500", "0.0650"), "TW": ("0.0300", "0.0400"),
}
# Mobile ranges priced apart from the country (the seed: UK mobile 4470 at $0.3048 on Premium).
MOBILE = {
    "4470": ("0.2850", "0.3048"),
    **{f"447{d}": ("0.0380", "0.0450") for d in range(1, 10)},
    "336": ("0.0350", "0.0420"), "337": ("0.0350", "0.0420"),
    "4915": ("0.0450", "0.0550"), "4916": ("0.0450", "0.0550"), "4917": ("0.0450", "0.0550"),
    "614": ("0.0450", "0.0550"),
}


def rows() -> list[tuple[str, str, tuple[str, str]]]:
    plan = compile_numbering_plan()
    out: list[tuple[str, str, tuple[str, str]]] = []
    for npa, info in sorted(plan.npa.items()):
        if info.klass is NumberClass.CANADA:
            place = "" if info.name == plan.countries["CA"].name else f" - {info.name}"
            out.append((f"1{npa}", f"Canada{place}", CANADA))
        elif info.klass is NumberClass.US_OTHER:
            country = info.country or "US"
            if country == "US":
                out.append((f"1{npa}", f"United States - {info.name}", US_OTHER[info.name]))
            else:
                out.append((f"1{npa}", plan.countries[country].name, US_OTHER[country]))
        elif info.klass is NumberClass.INTERNATIONAL and info.country:
            prices = CARIBBEAN.get(info.country, CARIBBEAN_DEFAULT)
            out.append((f"1{npa}", plan.countries[info.country].name, prices))
    for iso, prices in COUNTRIES.items():
        code = phonenumbers.country_code_for_region(iso)
        out.append((str(code), plan.countries[iso].name, prices))
    for prefix, prices in MOBILE.items():
        iso = phonenumbers.region_code_for_country_code(int(prefix[:2]))
        out.append((prefix, f"{plan.countries[iso].name} - Mobile", prices))
    return sorted(out)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    data = rows()
    for index, route in enumerate(("value", "premium")):
        with (OUT / f"rates_{route}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(("prefix", "destination", "rate", "increment"))
            for prefix, destination, prices in data:
                assert Decimal(prices[0]) < Decimal(prices[1]), prefix
                writer.writerow((prefix, destination, prices[index], INCREMENT))
        print(f"wrote {len(data)} rates to {OUT / f'rates_{route}.csv'}")


if __name__ == "__main__":
    main()
