"""The names an account gave its things, so pages can show "Reception (1001)" instead of
``vm:1001``: sub accounts, mailboxes, routing targets (forwardings, IVRs, queues, ring groups,
time conditions) and API keys. One read, scoped to the account.
"""

from __future__ import annotations

from sqlalchemy import select

from dialgate.adapters.db.models import ApiKeyRow, ForwardingRow, MailboxRow, RoutingTargetRow
from dialgate.domain.names import Named, Names
from dialgate.services import lookups
from dialgate.services.uow import UnitOfWork

__all__ = ["Named", "Names", "account_names"]


def account_names(uow: UnitOfWork, account_number: str) -> Names:
    account = lookups.get_account(uow, account_number)
    targets: dict[str, list[Named]] = {"account": [Named(account.number, "")]}
    for sub in lookups.list_subaccounts(uow, account):
        targets["account"].append(
            Named(sub.name, str(lookups.load_settings(sub).get("description") or ""))
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
