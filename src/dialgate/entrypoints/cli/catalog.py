"""``dialgate catalog pops|countries|moh``."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from dialgate.domain import catalogs
from dialgate.entrypoints.cli.common import console, print_json
from dialgate.lazy import lazy_import

if TYPE_CHECKING:
    from dialgate.adapters import geo
else:  # phonenumbers and Babel's locale data
    geo = lazy_import("dialgate.adapters.geo")


class CatalogName(StrEnum):
    pops = "pops"
    countries = "countries"
    moh = "moh"


def rows_for(name: CatalogName, language: str) -> list[dict[str, object]]:
    if name is CatalogName.pops:
        return [
            {
                "name": p.name,
                "id": p.id,
                "city": p.city,
                "hostname": p.hostname,
                "country": p.country,
            }
            for p in catalogs.DEFAULT_POPS
        ]
    if name is CatalogName.countries:
        return [
            {
                "code": c.code,
                "name": c.name(language),
                "region": c.region.value,
                "region_name": geo.region_name(c.region, language),
                "calling_code": c.calling_code,
            }
            for c in geo.countries()
        ]
    return [
        {"key": m.key, "label": m.label, "test_code": m.test_code, "description": m.description}
        for m in catalogs.MUSIC_ON_HOLD
    ]


def register(app: typer.Typer) -> None:
    @app.command("catalog")
    def catalog(
        name: CatalogName,
        language: str = typer.Option("en", "--language", help="en, fr or es (country names)."),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List POPs, countries (with region, localized) or music-on-hold classes."""
        if language not in catalogs.LANGUAGES:
            raise typer.BadParameter("must be en, fr or es", param_hint="--language")
        rows = rows_for(name, language)
        if as_json:
            print_json(rows)
            return
        table = Table(*rows[0].keys())
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        console.print(table)
