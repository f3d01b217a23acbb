"""Read-only catalogs for the API faces: POPs (from the database), countries, music on hold, ..."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from dialgate.adapters import geo
from dialgate.adapters.db.models import PopRow
from dialgate.domain import catalogs
from dialgate.domain.errors import ValidationFailed
from dialgate.services.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class CountryView:
    code: str
    name: str
    region: str
    region_name: str
    calling_code: int


def list_pops(uow: UnitOfWork) -> list[catalogs.Pop]:
    rows = uow.session.scalars(select(PopRow).order_by(PopRow.id)).all()
    if not rows:
        return list(catalogs.DEFAULT_POPS)
    return [catalogs.Pop(r.name, r.id, r.city, r.hostname, r.country) for r in rows]


def list_countries(language: str = "en", *, domestic: bool = False) -> list[CountryView]:
    """Countries a customer can allow, localized; with ``domestic`` also the US and Canada."""
    if language not in catalogs.LANGUAGES:
        raise ValidationFailed.single(
            "language", "invalid_choice", f"must be one of {', '.join(catalogs.LANGUAGES)}"
        )
    out = [
        CountryView(
            c.code,
            c.name(language),
            c.region.value,
            geo.region_name(c.region, language),
            c.calling_code,
        )
        for c in geo.countries()
    ]
    if domestic:
        americas = geo.region_name(catalogs.Region.AMERICAS, language)
        for code in sorted(geo.DOMESTIC):
            out.append(CountryView(code, geo.country_name(code, language), "Americas", americas, 1))
        out.sort(key=lambda c: c.code)
    return out


def choices(name: str) -> dict[str, str]:
    """A simple value -> label catalog by name (see ``CHOICE_CATALOGS``)."""
    return dict(CHOICE_CATALOGS[name])


CHOICE_CATALOGS: dict[str, dict[str, str]] = {
    "codecs": catalogs.CODECS,
    "dtmf_modes": catalogs.DTMF_MODES,
    "nat": catalogs.NAT_MODES,
    "device_types": catalogs.DEVICE_TYPES,
    "protocols": catalogs.PROTOCOLS,
    "routes": catalogs.ROUTES,
    "tollfree_carriers": catalogs.TOLLFREE_CARRIERS,
    "dialing_modes": catalogs.DIALING_MODES,
    "languages": catalogs.LANGUAGES,
}
