"""The names an account gave its things, so pages can show "Reception (1001)" instead of
``vm:1001``: sub accounts, mailboxes, routing targets (forwardings, IVRs, queues, ring groups,
time conditions) and API keys. One read, scoped to the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from dialgate.adapters.db.models import ApiKeyRow, ForwardingRow, MailboxRow, RoutingTargetRow
from dialgate.services import accounts
from dialgate.services.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Named:
    ref: str  # what the routing value holds: 100000_office, 1001, 1
    name: str  # the customer's own label; may be empty


@dataclass(frozen=True, slots=True)
class Names:
    account: str
    # Per routing header (account, vm, fwd, ivr, queue, grp, tc): the targets, in a stable order.
    targets: dict[str, tuple[Named, ...]] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # key prefix -> key name

    def name_of(self, header: str, ref: str) -> str:
        for item in self.targets.get(header, ()):
            if item.ref == ref:
                return item.name
        return ""


def account_names(uow: UnitOfWork, account_number: str) -> Names:
    account = accounts.get_account(uow, account_number)
    targets: dict[str, list[Named]] = {"account": [Named(account.number, "")]}
    for sub in accounts.list_subaccounts(uow, account):
        targets["account"].append(
            Named(sub.name, str(accounts.load_settings(sub).get("description") or ""))
        )
    targets["vm"] = [
        Named(row.mailbox, row.name)
        for row in uow.session.scalars(
            select(MailboxRow)
            .where(MailboxRow.account_id == account.id)
            .order_by(MailboxRow.mailbox)
        )
    ]
    # A forwarding reads as its description and number: "Mobile, +15145550199".
    targets["fwd"] = [
        Named(str(row.id), ", ".join(p for p in (row.description, row.phone_number) if p))
        for row in uow.session.scalars(
            select(ForwardingRow)
            .where(ForwardingRow.account_id == account.id)
            .order_by(ForwardingRow.id)
        )
    ]
    for row in uow.session.scalars(
        select(RoutingTargetRow)
        .where(RoutingTargetRow.account_id == account.id)
        .order_by(RoutingTargetRow.kind, RoutingTargetRow.ref)
    ):
        targets.setdefault(row.kind, []).append(Named(row.ref, row.name))
    keys = {
        row.prefix: row.name
        for row in uow.session.scalars(select(ApiKeyRow).where(ApiKeyRow.account_id == account.id))
    }
    return Names(
        account=account.number,
        targets={k: tuple(v) for k, v in targets.items()},
        api_keys=keys,
    )
