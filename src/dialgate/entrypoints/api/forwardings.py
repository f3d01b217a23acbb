"""The account's call forwarding entries: ``/v1/forwardings``.

A forwarding is a phone number DIDs route or fail over to as ``fwd:<id>``; calls forwarded
there are outbound calls of the account (decided, limited and charged like a device's).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import (
    ForwardingCreate,
    ForwardingPublic,
    ForwardingUpdate,
)
from dialgate.services import forwardings

router = APIRouter(
    prefix="/v1/forwardings", tags=["call forwarding"], responses=problem_responses(401)
)

Ident = Annotated[
    int, Path(ge=1, le=2**62, description="The forwarding's id (a DID routes to fwd:<id>)")
]


@router.get("", response_model=list[ForwardingPublic], summary="All forwardings of the account")
def list_forwardings(db: DbDep, caller: ApiCaller) -> list[dict[str, Any]]:
    with db.uow(write=False) as uow:
        return [e.to_json() for e in forwardings.list_forwardings(uow, caller.account)]


@router.post(
    "",
    response_model=ForwardingPublic,
    status_code=201,
    summary="Add a forwarding",
    description="`phone_number` is read with the account's dialing mode (`nanp`: 10 digits or "
    "011 + international; `e164`: country code first) and returned in E.164.",
    responses=problem_responses(422),
)
def create_forwarding(db: DbDep, caller: ApiCaller, body: ForwardingCreate) -> dict[str, Any]:
    entry = forwardings.add_forwarding(
        db, caller.account, body.model_dump(exclude_unset=True), actor=caller.actor
    )
    return entry.to_json()


@router.get(
    "/{forwarding}",
    response_model=ForwardingPublic,
    summary="One forwarding",
    responses=problem_responses(404, 422),
)
def get_forwarding(db: DbDep, caller: ApiCaller, forwarding: Ident) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return forwardings.get_forwarding(uow, caller.account, forwarding).to_json()


@router.patch(
    "/{forwarding}",
    response_model=ForwardingPublic,
    summary="Change any subset of a forwarding, all or nothing",
    responses=problem_responses(404, 422),
)
def patch_forwarding(
    db: DbDep, caller: ApiCaller, forwarding: Ident, body: ForwardingUpdate
) -> dict[str, Any]:
    forwardings.set_forwarding(
        db, caller.account, forwarding, body.model_dump(exclude_unset=True), actor=caller.actor
    )
    with db.uow(write=False) as uow:
        return forwardings.get_forwarding(uow, caller.account, forwarding).to_json()


@router.delete(
    "/{forwarding}",
    status_code=204,
    summary="Delete a forwarding (refused while a DID routes or fails over to it)",
    responses=problem_responses(404, 409, 422),
)
def delete_forwarding(db: DbDep, caller: ApiCaller, forwarding: Ident) -> Response:
    forwardings.delete_forwarding(db, caller.account, forwarding, actor=caller.actor)
    return Response(status_code=204)
