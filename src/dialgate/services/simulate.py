"""``POST /v1/calls/simulate`` (and the portal's "test a number"): the decision and trace for a
number a customer's account might dial, through ``authorize_call`` like the switch."""

from __future__ import annotations

from dialgate.domain.errors import NotFound
from dialgate.domain.policy import AuthorizeRequest, Decision
from dialgate.services import accounts, lookups
from dialgate.services.authorize import PolicyCache, authorize_call
from dialgate.services.uow import UnitOfWork


def caller_subject(uow: UnitOfWork, account: str, subaccount: str | None) -> str:
    """``account`` or one of its own sub accounts (``office`` or ``100000_office``); anything
    else, another account's sub account included, does not exist."""
    if subaccount is None:
        return lookups.get_account(uow, account).number
    main, sep, user = subaccount.partition("_")
    if not sep:
        main, user = account, subaccount
    row = lookups.find_account(uow, account) if main == account else None
    if (
        row is None
        or not accounts.SUB_USERNAME.fullmatch(user)
        or lookups.find_subaccount(uow, row, user) is None
    ):
        raise NotFound("sub account", subaccount)
    return f"{row.number}_{user}"


def simulate_call(
    uow: UnitOfWork,
    cache: PolicyCache,
    account: str,
    dialed: str,
    *,
    subaccount: str | None = None,
    source_ip: str | None = None,
    pop: str | None = None,
    caller_id: str | None = None,
    transport: str = "udp",
    srtp: bool = False,
) -> Decision:
    """What the switch would answer if ``account`` (or its ``subaccount``) dialed ``dialed``."""
    subject = caller_subject(uow, account, subaccount)
    request = AuthorizeRequest.checked(
        subject,
        dialed,
        source_ip=source_ip,
        pop=pop,
        caller_id=caller_id,
        transport=transport,
        srtp=srtp,
    )
    return authorize_call(cache, request)
