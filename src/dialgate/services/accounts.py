"""Use cases for main accounts, sub accounts and their settings.

Every use case takes a ``Database`` (it opens and commits its own transaction) or a unit of work
to join (``uow.use_case``), and scopes every query to the account it names;
a sub account is addressed as ``<main>_<username>`` and only ever looked up under its main account.
What these use cases share lives beside them: ``lookups`` (finding accounts, reading settings),
``subscribers`` (Kamailio's subscriber rows), ``audit`` (the audit log and its history),
``policy_feed`` (the change feed), ``mailboxes`` (mailboxes and routing targets), ``pops``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from dialgate.adapters.db import repo_accounts as repo
from dialgate.adapters.db.models import (
    AccountRow,
    AuditRow,
    PortalSessionRow,
    SubAccountRow,
    TransactionRow,
)
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.errors import Conflict, FieldError, ValidationFailed
from dialgate.lazy import lazy_import
from dialgate.services import subscribers
from dialgate.services.audit import audit
from dialgate.services.lookups import (
    dump_settings,
    find_account,
    find_subaccount,
    get_account,
    get_subaccount,
    list_subaccounts,
    load_settings,
    split_subject,
    validation_context,
)
from dialgate.services.policy_feed import policy_changed
from dialgate.services.uow import UnitOfWork, query, use_case

if TYPE_CHECKING:
    from dialgate.adapters import passwords
    from dialgate.services import notifications
else:  # argon2, Babel and phonenumbers load only for the use cases that need them, not for
    # every CLI command that reads an account (``dialgate authorize``, ``balance``)
    passwords = lazy_import("dialgate.adapters.passwords")
    notifications = lazy_import("dialgate.services.notifications")

ACCOUNT_NUMBER = re.compile(r"\d{4,10}")
SUB_USERNAME = re.compile(r"[A-Za-z0-9]{1,12}")


def _sub_effective(main: Mapping[str, Any], sub: Mapping[str, Any]) -> dict[str, Any]:
    return s.effective_settings(main, sub).values


# --- use cases ----------------------------------------------------------------------------------


# An opening balance is a first deposit (bounded the same way) that may be zero.
OPENING_BALANCE = v.Money(low=Decimal(0), high=Decimal(100000), places=2)


@use_case
def create_account(
    uow: UnitOfWork,
    *,
    number: str,
    email: str,
    password: str,
    balance: Decimal | None = None,
    language: str = "en",
    actor: str = "system",
) -> AccountRow:
    errors: list[FieldError] = []
    if not ACCOUNT_NUMBER.fullmatch(number):
        errors.append(
            FieldError(
                "number", "invalid_account_number", f"must be 4 to 10 digits; got {number!r}"
            )
        )
    ctx = v.ValidationContext(account=number, email=email)
    try:
        (email_norm,) = v.EmailList().parse(email, ctx)
    except v.InvalidValue as exc:
        errors.append(exc.field_error("email"))
        email_norm = email
    try:
        v.Password().parse(password, ctx)
    except v.InvalidValue as exc:
        errors.append(exc.field_error("password"))
    if language not in catalogs.LANGUAGES:
        errors.append(
            FieldError(
                "language", "invalid_choice", f"must be one of {', '.join(catalogs.LANGUAGES)}"
            )
        )
    if balance is not None:
        try:
            balance = OPENING_BALANCE.parse(balance, ctx)
        except v.InvalidValue as exc:
            errors.append(exc.field_error("balance"))
    if errors:
        raise ValidationFailed(errors)
    if find_account(uow, number) is not None:
        raise Conflict("account_exists", f"account {number} already exists", field="number")
    email_norm = email_norm.lower()
    if repo.account_by_email(uow.session, email_norm) is not None:
        raise Conflict("email_in_use", f"{email_norm} is used by another account", field="email")

    ctx = v.ValidationContext(account=number, email=email_norm)
    values = s.defaults(ctx)
    account = AccountRow(
        number=number,
        email=email_norm,
        language=language,
        portal_password_hash=passwords.hash_password(password),
        settings=dump_settings(values),
        balance=Decimal(0),
    )
    uow.session.add(account)
    uow.session.flush()
    # The seed: the SIP password starts equal to the portal password (stored only as digests).
    subscribers.set_subscriber(
        uow, number, realm=uow.realm, password=password, effective=values, enabled=account.enabled
    )
    if balance:
        uow.session.add(
            TransactionRow(
                account_id=account.id, kind="deposit", amount=balance, description="Opening balance"
            )
        )
        account.balance = balance
    uow.session.add(
        AuditRow(
            account_id=account.id, subject=number, actor=actor, key="account", old="", new="created"
        )
    )
    policy_changed(uow, account)
    return account


REASON_MAX = 200


@use_case
def set_account_enabled(
    uow: UnitOfWork, number: str, enabled: bool, *, reason: str | None, actor: str
) -> bool:
    """Suspend (fraud, non-payment) or restore a main account with its sub accounts.

    Everything follows in the same transaction: the call policy of every process (through the
    change feed: calls are refused with ``account_disabled``), Kamailio's subscriber rows
    (REGISTER is refused) and the audit log, as key ``account_enabled`` with ``true``/``false``
    values; a reason is appended to the new value (``false; reason: unpaid invoice``), as other
    audit rows carry details (``voipms_api``). Returns False, writing nothing, when the account
    already is in that state. Raises NotFound for an unknown account, ValidationFailed for a
    reason longer than ``REASON_MAX`` characters.
    """
    account = get_account(uow, number)
    why = (reason or "").strip()
    if len(why) > REASON_MAX:
        raise ValidationFailed.single(
            "reason", "too_long", f"must be at most {REASON_MAX} characters"
        )
    if account.enabled == enabled:
        return False
    flag = v.Boolean()
    old, new = flag.display(account.enabled), flag.display(enabled)
    account.enabled = enabled
    names = [account.number, *(sub.name for sub in list_subaccounts(uow, account))]
    subscribers.set_enabled(uow, names, enabled)
    audit(
        uow,
        account,
        (s.Change("account_enabled", old, f"{new}; reason: {why}" if why else new),),
        actor=actor,
    )
    policy_changed(uow, account)
    return True


@dataclass(frozen=True, slots=True)
class SettingsView:
    """What ``settings show`` prints: each key's value and where it comes from."""

    subject: str
    values: dict[str, Any]
    sources: dict[str, str]  # key -> main | sub | override

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.subject,
            "settings": {key: s.to_json(key, value) for key, value in self.values.items()},
            "sources": dict(self.sources),
        }


@query
def show_settings(uow: UnitOfWork, subject: str) -> SettingsView:
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    sub = None if username is None else load_settings(get_subaccount(uow, account, username))
    effective = s.effective_settings(load_settings(account), sub)
    return SettingsView(subject, effective.values, effective.sources)


def _end_portal_sessions(uow: UnitOfWork, account: AccountRow, *, keep: str | None) -> None:
    query = delete(PortalSessionRow).where(PortalSessionRow.account_id == account.id)
    if keep:
        query = query.where(PortalSessionRow.id_hash != passwords.token_digest(keep))
    uow.session.execute(query)


@use_case
def update_settings(
    uow: UnitOfWork,
    subject: str,
    changes: Mapping[str, object],
    *,
    actor: str,
    hashed: Mapping[str, tuple[str, str]] | None = None,
    keep_session: str | None = None,
) -> s.Outcome:
    """Apply a change set to a main or sub account, all or nothing, with its audit trail.

    ``hashed``: secrets the caller already hashed outside the transaction (key -> (plain text,
    argon2 hash)), so that argon2 does not run while the transaction holds its locks. A new
    portal password ends every portal session of the account, but ``keep_session``'s (the
    cookie token of the portal session that made the change)."""
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    ctx = validation_context(uow, account)
    main = load_settings(account)
    if username is None:
        outcome = s.apply_changes(current=main, changes=changes, ctx=ctx)
        if not outcome.changes:
            return outcome
        account.settings = dump_settings(outcome.values)
        if "portal_password" in outcome.secrets:
            plain = outcome.secrets["portal_password"]
            ready = (hashed or {}).get("portal_password")
            if ready is not None and ready[0] == plain:
                account.portal_password_hash = ready[1]
            else:
                account.portal_password_hash = passwords.hash_password(plain)
            _end_portal_sessions(uow, account, keep=keep_session)
        subscribers.set_subscriber(
            uow,
            account.number,
            realm=uow.realm,
            password=outcome.secrets.get("sip_password"),
            effective=outcome.values,
            enabled=account.enabled,
        )
        # Sub accounts inherit from the main account: their SIP attributes may change too.
        for sub in list_subaccounts(uow, account):
            subscribers.set_subscriber(
                uow,
                sub.name,
                realm=uow.realm,
                password=None,
                effective=_sub_effective(outcome.values, load_settings(sub)),
                enabled=account.enabled,
            )
    else:
        sub = get_subaccount(uow, account, username)
        outcome = s.apply_changes(
            current=load_settings(sub), changes=changes, ctx=ctx, sub=True, inherited=main
        )
        if not outcome.changes:
            return outcome
        sub.settings = dump_settings(outcome.values)
        sub.version += 1
        subscribers.set_subscriber(
            uow,
            sub.name,
            realm=uow.realm,
            password=outcome.secrets.get("sip_password"),
            effective=_sub_effective(main, outcome.values),
            enabled=account.enabled,
        )
    audit(uow, account, outcome.changes, subject=subject, actor=actor)
    policy_changed(uow, account)
    notifications.on_settings_changed(uow, account, subject, outcome.changes)
    return outcome


@use_case
def create_subaccount(
    uow: UnitOfWork,
    account_number: str,
    username: str,
    *,
    password: str,
    changes: Mapping[str, object] | None = None,
    actor: str,
) -> SubAccountRow:
    account = get_account(uow, account_number)
    if not SUB_USERNAME.fullmatch(username):
        raise ValidationFailed.single(
            "username", "invalid_username", f"must be 1 to 12 letters or digits; got {username!r}"
        )
    if find_subaccount(uow, account, username) is not None:
        raise Conflict(
            "used_username",
            f"sub account {account.number}_{username} already exists",
            field="username",
        )
    ctx = validation_context(uow, account)
    main = load_settings(account)
    outcome = s.apply_changes(
        current=s.sub_defaults(),
        changes={**(changes or {}), "sip_password": password},
        ctx=ctx,
        sub=True,
        inherited=main,
    )
    name = f"{account.number}_{username}"
    sub = SubAccountRow(
        account_id=account.id, username=username, name=name, settings=dump_settings(outcome.values)
    )
    uow.session.add(sub)
    uow.session.flush()
    subscribers.set_subscriber(
        uow,
        name,
        realm=uow.realm,
        password=password,
        effective=_sub_effective(main, outcome.values),
        enabled=account.enabled,
    )
    audit(
        uow,
        account,
        (s.Change("subaccount", "", "created"), *outcome.changes),
        subject=name,
        actor=actor,
    )
    policy_changed(uow, account)
    return sub


@use_case
def delete_subaccount(uow: UnitOfWork, subject: str, *, actor: str) -> None:
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    if username is None:
        raise ValidationFailed.single("account", "not_a_subaccount", f"{subject} is a main account")
    sub = get_subaccount(uow, account, username)
    target = f"account:{sub.name}"
    routed = repo.dids_routed_to(uow.session, account.id, target)
    main = load_settings(account)
    uses_default = [
        k
        for k in (
            "did_routing",
            "did_failover_busy",
            "did_failover_unreachable",
            "did_failover_noanswer",
        )
        if main.get(k) == target
    ]
    if routed or uses_default:
        where = ", ".join([*routed, *(f"setting {k}" for k in uses_default)])
        raise Conflict("account_with_dids", f"{sub.name} cannot be deleted: {where} route to it")
    subscribers.delete_subscriber(uow, sub.name)
    uow.session.delete(sub)
    audit(
        uow, account, (s.Change("subaccount", "created", "deleted"),), subject=sub.name, actor=actor
    )
    policy_changed(uow, account)
