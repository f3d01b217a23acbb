"""Builders shared by the numbering, rating and policy tests.

Snapshots are built the production way: the settings registry's defaults, changed through its
own validation, then ``compile_snapshot`` with the numbering plan compiled from phonenumbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from dialgate.adapters import geo
from dialgate.adapters.numbering_data import compile_numbering_plan
from dialgate.adapters.rate_data import demo_decks
from dialgate.domain import catalogs
from dialgate.domain import settings as registry
from dialgate.domain.deck import RateDeck
from dialgate.domain.numbering import NumberingPlan
from dialgate.domain.policy import AuthorizeRequest, Decision, decide
from dialgate.domain.rating import Rate
from dialgate.domain.snapshot import PolicySnapshot, compile_snapshot
from dialgate.domain.values import ValidationContext

MAIN = "100000"
SUB = "100000_office"
POP_COUNTRIES = {p.name: p.country for p in catalogs.DEFAULT_POPS}
CTX = ValidationContext(
    account=MAIN,
    email="owner@example.com",
    mailboxes=frozenset({"1001", "2002"}),
    subaccounts=frozenset({SUB}),
    countries=frozenset(c.code for c in geo.countries()),
)


def plan() -> NumberingPlan:
    return compile_numbering_plan()


def main_settings(**changes: object) -> dict[str, Any]:
    return registry.apply_changes(current=registry.defaults(CTX), changes=changes, ctx=CTX).values


def sub_settings(main: Mapping[str, Any], **changes: object) -> dict[str, Any]:
    return registry.apply_changes(
        current=registry.sub_defaults(), changes=changes, ctx=CTX, sub=True, inherited=main
    ).values


def deck(route: str, rows: Iterable[tuple[str, str, str, int]]) -> RateDeck:
    return RateDeck.build(route, (Rate(p, d, Decimal(r), i) for p, d, r, i in rows))


def snapshot(
    settings: Mapping[str, Any] | None = None,
    *,
    sub: Mapping[str, Any] | None = None,
    account: str | None = None,
    enabled: bool = True,
    balance: str | Decimal = "10.00",
    e911_dids: Iterable[str] = (),
    resolved_hosts: Mapping[str, Iterable[str]] | None = None,
    decks: Mapping[str, RateDeck] | None = None,
) -> PolicySnapshot:
    main = dict(settings) if settings is not None else main_settings()
    return compile_snapshot(
        account=account or (SUB if sub is not None else MAIN),
        enabled=enabled,
        settings=registry.effective_settings(main, sub).values,
        balance=Decimal(balance),
        pop_countries=POP_COUNTRIES,
        decks=decks if decks is not None else demo_decks(),
        plan=plan(),
        e911_dids=e911_dids,
        resolved_hosts=resolved_hosts,
    )


def call(snap: PolicySnapshot | None, dialed: str, **request: Any) -> Decision:
    account = request.pop("account", snap.account if snap is not None else MAIN)
    return decide(snap, AuthorizeRequest.checked(account, dialed, **request))
