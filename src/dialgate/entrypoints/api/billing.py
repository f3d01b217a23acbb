"""The prepaid balance and the ledger: ``/v1/balance`` and ``/v1/transactions``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dialgate.entrypoints.amounts import amounts
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import BalancePublic, TransactionPublic
from dialgate.services import billing

router = APIRouter(prefix="/v1", tags=["billing"], responses=problem_responses(401))


@router.get(
    "/balance", response_model=BalancePublic, summary="Balance, spending and call totals"
)
def get_balance(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        view = billing.balance(uow, caller.account).to_json()
    return amounts(view, ("current_balance", "spent_total", "spent_today"))


@router.get(
    "/transactions",
    response_model=list[TransactionPublic],
    summary="Ledger entries between two UTC dates (both included), oldest first",
    responses=problem_responses(422),
)
def get_transactions(
    db: DbDep,
    caller: ApiCaller,
    date_from: Annotated[date, Query(alias="from", description="YYYY-MM-DD (UTC)")],
    date_to: Annotated[date, Query(alias="to", description="YYYY-MM-DD (UTC), not before from")],
) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        rows = billing.transaction_history(uow, caller.account, date_from, date_to)
    return [amounts(t.to_json(), ("amount",)) for t in rows]
