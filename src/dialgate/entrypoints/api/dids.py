"""The account's DIDs: ``/v1/dids``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import DidPublic, DidUpdate
from dialgate.services import dids

router = APIRouter(prefix="/v1/dids", tags=["DIDs"], responses=problem_responses(401))

Number = Annotated[str, Path(description="The DID, 10 digits (a leading 1 or + is accepted)")]


@router.get("", response_model=list[DidPublic], summary="All DIDs of the account")
def list_dids(db: DbDep, caller: ApiCaller) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        return [d.to_json() for d in dids.list_dids(uow, caller.account)]


@router.get(
    "/{number}",
    response_model=DidPublic,
    summary="One DID",
    responses=problem_responses(404, 422),
)
def get_did(db: DbDep, caller: ApiCaller, number: Number) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return dids.show_did(uow, number, account=caller.account).to_json()


@router.patch(
    "/{number}",
    response_model=DidPublic,
    summary="Change a DID's routing, failover, POP, plan, CNAM, e911, description or dial time",
    description="All or nothing: if any value is invalid nothing changes and every broken rule "
    "is listed. Routing targets use the VoIP.ms notation (`account:100000_office`, `vm:1001`, "
    "`sys:hangup`, `none:`) and must exist on this account.",
    responses=problem_responses(404, 422),
)
def patch_did(db: DbDep, caller: ApiCaller, number: Number, body: DidUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    dids.set_did(db, number, changes, actor=caller.actor, account=caller.account)
    with db.uow(write=False) as uow:
        return dids.show_did(uow, number, account=caller.account).to_json()
