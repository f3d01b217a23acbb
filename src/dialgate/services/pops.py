"""The POP table, kept equal to the catalog."""

from __future__ import annotations

from sqlalchemy import select

from dialgate.adapters.db.models import PopRow
from dialgate.domain import catalogs
from dialgate.services.uow import UnitOfWork, use_case


@use_case
def sync_pops(uow: UnitOfWork) -> None:
    """Make the POP table match the catalog (run by ``db upgrade`` and ``demo``)."""
    existing = {row.id: row for row in uow.session.scalars(select(PopRow))}
    for pop in catalogs.DEFAULT_POPS:
        row = existing.get(pop.id) or PopRow(id=pop.id)
        row.name, row.city, row.hostname, row.country = (
            pop.name,
            pop.city,
            pop.hostname,
            pop.country,
        )
        uow.session.add(row)
