"""The main account and its settings: ``/v1/account``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from dialgate.adapters import passwords, ratelimit
from dialgate.domain.errors import ValidationFailed
from dialgate.domain.settings import Tab
from dialgate.entrypoints import guards
from dialgate.entrypoints.api.deps import ApiCaller, DbDep
from dialgate.entrypoints.api.problems import problem_responses
from dialgate.entrypoints.api.schemas import (
    AccountPublic,
    HistoryEntryPublic,
    MainSettingsUpdate,
    SettingsPublic,
)
from dialgate.services import accounts, audit, lookups, portal_auth
from dialgate.services.uow import Database

router = APIRouter(prefix="/v1/account", tags=["account"], responses=problem_responses(401, 422))


def settings_public(view: accounts.SettingsView) -> dict[str, Any]:
    data = view.to_json()
    return {"account": data["account"], "settings": data["settings"]}


@router.get("", response_model=AccountPublic, summary="The account of this API key")
def get_account(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        row = lookups.get_account(uow, caller.account)
        return {
            "account": row.number,
            "email": row.email,
            "language": row.language,
            "enabled": row.enabled,
            "balance": str(row.balance),
            "created_at": row.created_at,
            "subaccounts": [sub.name for sub in lookups.list_subaccounts(uow, row)],
        }


@router.get("/settings", response_model=SettingsPublic, summary="Every setting of the account")
def get_settings(db: DbDep, caller: ApiCaller) -> dict[str, Any]:
    with db.uow(write=False) as uow:
        return settings_public(accounts.show_settings(uow, caller.account))


@router.patch(
    "/settings",
    response_model=SettingsPublic,
    summary="Change any subset of the settings, all or nothing",
    description='Send only the keys to change. `null` or `""` resets a key to its default. '
    "If any value is invalid nothing changes and every broken rule is listed.",
)
async def patch_settings(
    request: Request, db: DbDep, caller: ApiCaller, body: MainSettingsUpdate
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    current = changes.pop("current_portal_password", None)
    hashed = None
    if changes.get("portal_password") not in (None, ""):
        # An API key alone must not be enough to take over the portal (and, through it, the
        # account's email and API settings): the current password is asked, as the portal
        # asks it. argon2 runs in the bounded pool, outside any transaction.
        new = str(changes["portal_password"])
        try:
            await _check_current_portal_password(request, db, caller.account, current)
            hashed = {"portal_password": (new, await guards.hash_pool(request).hash(new))}
        except passwords.HashPoolBusy:
            raise HTTPException(
                503, "too many password checks right now; retry", {"Retry-After": "1"}
            ) from None

    def apply() -> accounts.SettingsView:
        accounts.update_settings(db, caller.account, changes, actor=caller.actor, hashed=hashed)
        return accounts.show_settings(db, caller.account)

    return settings_public(await run_in_threadpool(apply))


# Wrong current passwords, per account: whoever holds an API key gets a few tries, not a
# guessing oracle for the portal password.
CURRENT_PASSWORD_FAILURES = ratelimit.parse("5/15minutes")


async def _check_current_portal_password(
    request: Request, db: Database, account: str, current: str | None
) -> None:
    if not current:
        raise ValidationFailed.single(
            "current_portal_password",
            "required",
            "the current portal password is required to change portal_password",
        )
    throttle = guards.throttle(request)
    if throttle.exhausted(CURRENT_PASSWORD_FAILURES, "api-current-password", account):
        raise ValidationFailed.single(
            "current_portal_password",
            "too_many_attempts",
            "too many wrong current passwords; try again in 15 minutes",
        )

    def stored() -> str:
        with db.uow(write=False) as uow:
            return portal_auth.password_hash_of(uow, account)

    ok = await guards.hash_pool(request).verify(await run_in_threadpool(stored), current)
    if not ok:
        throttle.hit(CURRENT_PASSWORD_FAILURES, "api-current-password", account)
        raise ValidationFailed.single(
            "current_portal_password", "wrong_password", "the current portal password is wrong"
        )


@router.get(
    "/settings/history",
    response_model=list[HistoryEntryPublic],
    summary="Settings changes of the account and its sub accounts, newest first",
)
def get_history(
    db: DbDep,
    caller: ApiCaller,
    tab: Annotated[Tab | None, Query(description="Only this tab of the settings page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, str]]:
    with db.uow(write=False) as uow:
        entries = audit.settings_history(
            uow, caller.account, tab=tab.value if tab else None, limit=limit
        )
    return [e.to_json() for e in entries]
