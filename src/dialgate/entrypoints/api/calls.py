"""``POST /v1/calls/simulate``: what the switch would decide for a call, with the trace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import CallSimulate, DecisionPublic
from dialgate.entrypoints.policy_cache import PolicyCacheDep
from dialgate.services import simulate

router = APIRouter(prefix="/v1/calls", tags=["calls"], responses=problem_responses(401, 422))


@router.post(
    "/simulate",
    response_model=DecisionPublic,
    summary="Decide a call the account might dial, as the switch would",
    description="Runs the same code path as `POST /switch/v1/authorize` and changes nothing. "
    "A denied call is a 200 with `allow: false` and the reason; 404 for a sub account that is "
    "not this account's.",
    responses=problem_responses(404),
)
def simulate_call(
    db: DbDep, caller: ApiCaller, cache: PolicyCacheDep, body: CallSimulate
) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        decision = simulate.simulate_call(
            uow,
            cache,
            caller.account,
            body.dialed,
            subaccount=body.subaccount,
            source_ip=body.source_ip,
            pop=body.pop,
            caller_id=body.caller_id,
            transport=body.transport,
            srtp=body.srtp,
        )
    return decision.to_json()
