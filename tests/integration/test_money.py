"""Money at rest in whole micro-units on SQLite and PostgreSQL: sums are exact (the ledger sums
to the balance to the last micro-dollar, where floats drifted), and every amount a caller can
send is bounded, refused with an error naming the field, changing nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from dialgate.adapters.db.models import AccountRow, TransactionRow
from dialgate.domain import deck_csv, money
from dialgate.domain.errors import ValidationFailed
from dialgate.services import accounts, billing, lookups
from dialgate.services.uow import Database
from tests.support.records import NOW, cdr


def _account(db: Database, balance: str = "100") -> None:
    with db.uow() as uow:
        accounts.create_account(
            uow, number="100000", email="o@example.com", password="Portal1234",
            balance=Decimal(balance),
        )
        uow.commit()


def _ledger_and_balance(db: Database) -> tuple[Decimal, Decimal]:
    with db.uow(write=False) as uow:
        ledger = uow.session.scalars(select(func.sum(TransactionRow.amount))).one()
        balance = uow.session.scalars(select(AccountRow.balance)).one()
    return ledger, balance


def test_many_odd_charges_leave_the_ledger_summing_exactly_to_the_balance(db: Database) -> None:
    # 0.1 + 0.2 style amounts: 7 s at 0.013 per minute is 0.001517 each; floats drift on these.
    _account(db, "0.10")
    with db.uow() as uow:
        result = billing.record_cdrs(
            uow,
            [cdr(f"odd-{n}", seconds=7, rate_per_minute="0.013", increment_s=1)
             for n in range(300)],
            now=NOW,
        )
        uow.commit()
    assert result.recorded == 300
    ledger, balance = _ledger_and_balance(db)
    assert ledger == balance == Decimal("0.10") - 300 * Decimal("0.001517")
    assert str(balance) == "-0.355100"  # six decimals, as the API always showed them
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT balance_micros FROM accounts")).scalar_one()
    assert raw == -355100 and type(raw) is int


@pytest.mark.parametrize(
    ("amount", "code"),
    [("0", "out_of_range"), ("100000.01", "out_of_range"), ("1.001", "too_many_decimals"),
     ("1e20", "out_of_range"), ("NaN", "invalid_decimal")],
)
def test_a_deposit_out_of_bounds_is_refused_and_changes_nothing(
    db: Database, amount: str, code: str
) -> None:
    _account(db)
    with db.uow() as uow, pytest.raises(ValidationFailed) as caught:
        billing.deposit(uow, "100000", amount, now=NOW)
    assert [(e.field, e.code) for e in caught.value.errors] == [("amount", code)]
    assert _ledger_and_balance(db) == (Decimal("100.000000"), Decimal("100.000000"))


def test_a_deposit_beyond_the_highest_balance_is_refused_and_rolled_back(
    db: Database,
) -> None:
    _account(db)
    with db.uow() as uow:
        # An account at the ceiling already (an operator's adjustment): the next deposit stops.
        row = uow.session.scalars(select(AccountRow)).one()
        gap = money.MAX_BALANCE - Decimal(100)
        uow.session.add(TransactionRow(account_id=row.id, kind="adjustment", amount=gap))
        uow.session.execute(
            AccountRow.__table__.update().values(balance=AccountRow.balance + gap)
        )
        uow.commit()
    with db.uow() as uow, pytest.raises(ValidationFailed) as caught:
        billing.deposit(uow, "100000", "0.01", now=NOW)
        uow.commit()
    assert [(e.field, e.code) for e in caught.value.errors] == [("amount", "balance_too_high")]
    assert _ledger_and_balance(db) == (money.MAX_BALANCE, money.MAX_BALANCE)


@pytest.mark.parametrize(
    ("balance", "code"),
    [("-1", "out_of_range"), ("100000.01", "out_of_range"), ("1.005", "too_many_decimals")],
)
def test_an_opening_balance_out_of_bounds_is_refused(
    db: Database, balance: str, code: str
) -> None:
    with db.uow() as uow, pytest.raises(ValidationFailed) as caught:
        accounts.create_account(
            uow, number="100000", email="o@example.com", password="Portal1234",
            balance=Decimal(balance),
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("balance", code)]
    with db.uow(write=False) as uow:
        assert lookups.find_account(uow, "100000") is None


def test_a_rate_deck_with_an_absurd_rate_is_refused_whole() -> None:
    deck = "prefix,destination,rate\n44,UK,0.02\n33,France,1000.01\n"
    with pytest.raises(ValidationFailed) as caught:
        deck_csv.parse_deck_csv(deck.splitlines(keepends=True))
    assert [(e.field, e.code) for e in caught.value.errors] == [("line 3", "invalid_rate")]
    assert f"0 to {money.MAX_RATE_PER_MINUTE}" in caught.value.errors[0].message
