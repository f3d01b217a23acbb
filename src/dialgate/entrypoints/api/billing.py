"""The prepaid balance: ``/v1/balance`` (the ledger is in ``history``: ``/v1/transactions``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dialgate.entrypoints.amounts import amounts
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import BalancePublic
from dialgate.services import billing

router = APIRouter(prefix="/v1", tags=["billing"], responses=problem_responses(401))


@router.get(
    "/balance", response_model=BalancePublic, summary="Balance, spending and call totals"
)
def get_balance(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        view = billing.balance(uow, caller.account).to_json()
    return amounts(view, ("current_balance", "spent_total", "spent_today"))
