"""Sub-account ids (the VoIP.ms API's ``id``) are never reused after a delete, on SQLite and on
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from dialgate.services import accounts
from dialgate.services.uow import Database


def test_a_deleted_sub_accounts_id_is_never_given_again(db: Database) -> None:
    with db.uow() as uow:
        accounts.create_account(
            uow,
            number="200000",
            email="ids@example.com",
            password="IdsPass1234",
            balance=Decimal(0),
            actor="cli",
        )
        ids = [
            accounts.create_subaccount(uow, "200000", name, password="SubPass1234", actor="cli").id
            for name in ("a", "b")
        ]
        uow.commit()
    with db.uow() as uow:
        accounts.delete_subaccount(uow, "200000_b", actor="cli")  # the highest id
        uow.commit()
    with db.uow() as uow:
        new_id = accounts.create_subaccount(
            uow, "200000", "c", password="SubPass1234", actor="cli"
        ).id
        uow.commit()
    assert new_id > max(ids), (ids, new_id)
