"""``route_inbound``: the one code path for "where does this DID call go next".

Served to Kamailio as ``POST /switch/v1/inbound`` with ``{"did", "event"}`` (and optionally the
routes already ``tried``); the CLI's ``dialgate inbound`` prints the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from dialgate.adapters.db.models import (
    AccountRow,
    DidRow,
    ForwardingRow,
    PopRow,
    RoutingTargetRow,
)
from dialgate.domain import inbound as d
from dialgate.domain import settings as s
from dialgate.domain.errors import ValidationFailed
from dialgate.services import dids, forwardings, lookups
from dialgate.services.uow import UnitOfWork


class InboundResult:
    """The domain answer plus what only the database knows (owner, POP host name)."""

    def __init__(self, account: str, route: d.InboundRoute, pop_host: str | None) -> None:
        self.account = account
        self.route = route
        self.pop_host = pop_host

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, **self.route.to_json(), "pop_host": self.pop_host}


def _did_routing(row: DidRow) -> d.DidRouting:
    return d.DidRouting(
        number=row.number,
        routing=row.routing,
        failover_busy=row.failover_busy,
        failover_unreachable=row.failover_unreachable,
        failover_noanswer=row.failover_noanswer,
        pop=row.pop,
        dial_time=row.dial_time,
        cnam_lookup=row.cnam_lookup,
    )


def directory(uow: UnitOfWork, account: AccountRow) -> d.Directory:
    main = lookups.load_settings(account)
    endpoints = {
        account.number: d.SipEndpoint(main["inbound_protocol"], main["device_type"]),
    }
    for sub in lookups.list_subaccounts(uow, account):
        effective = s.effective_settings(main, lookups.load_settings(sub)).values
        endpoints[sub.name] = d.SipEndpoint(effective["inbound_protocol"], effective["device_type"])
    forwards = {
        str(row.id): forwardings.to_domain(row)
        for row in uow.session.scalars(
            select(ForwardingRow).where(ForwardingRow.account_id == account.id)
        )
    }
    data: dict[str, dict[str, Any]] = {}
    for target in uow.session.scalars(
        select(RoutingTargetRow).where(RoutingTargetRow.account_id == account.id)
    ):
        data[f"{target.kind}:{target.ref}"] = {"name": target.name, **(target.data or {})}
    own = {
        row.number: _did_routing(row)
        for row in uow.session.scalars(select(DidRow).where(DidRow.account_id == account.id))
    }
    return d.Directory(endpoints=endpoints, forwards=forwards, dids=own, target_data=data)


def route_inbound(
    uow: UnitOfWork,
    did: str,
    *,
    event: str = "new",
    tried: Sequence[str] = (),
    account: str | None = None,
) -> InboundResult:
    """Where a call to ``did`` goes next after ``event`` (new|busy|unreachable|noanswer).

    ``account`` scopes the lookup to that account's DIDs (the API passes the caller's account).
    """
    try:
        ev = d.Event(event)
    except ValueError:
        raise ValidationFailed.single(
            "event", "invalid_choice", "must be one of new, busy, unreachable, noanswer"
        ) from None
    if account is None:  # the switch: a carrier's call names only the DID
        row = dids.get_did_in_service(uow, did)
    else:
        row = dids.get_did(uow, did, account=account)
    owner = uow.session.get_one(AccountRow, row.account_id)
    decision = d.route(_did_routing(row), directory(uow, owner), event=ev, tried=tried)
    host = uow.session.scalars(select(PopRow.hostname).where(PopRow.name == row.pop)).first()
    return InboundResult(owner.number, decision, host)
