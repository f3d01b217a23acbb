"""Use cases for accounts, sub accounts and their settings.

Every function takes the unit of work first and scopes every query to the account it names;
a sub account is addressed as ``<main>_<username>`` and only ever looked up under its main account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from dialgate.adapters import passwords
from dialgate.adapters.db.models import (
    AccountRow,
    AuditRow,
    DidRow,
    ForwardingRow,
    MailboxRow,
    PolicyChangeRow,
    PopRow,
    PortalSessionRow,
    RoutingTargetRow,
    SubAccountRow,
    SubscriberRow,
    TransactionRow,
)
from dialgate.config import get_settings
from dialgate.domain import catalogs
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from dialgate.lazy import lazy_import
from dialgate.services import notifications
from dialgate.services.uow import UnitOfWork

if TYPE_CHECKING:
    from dialgate.adapters import geo
else:  # phonenumbers and Babel load only when a settings change is validated
    geo = lazy_import("dialgate.adapters.geo")

ACCOUNT_NUMBER = re.compile(r"\d{4,10}")
SUB_USERNAME = re.compile(r"[A-Za-z0-9]{1,12}")


# --- lookups ----------------------------------------------------------------------------------


def split_subject(subject: str) -> tuple[str, str | None]:
    """``100000`` -> (100000, None); ``100000_office`` -> (100000, office)."""
    main, sep, user = subject.partition("_")
    return main, (user if sep else None)


def find_account(uow: UnitOfWork, number: str) -> AccountRow | None:
    return uow.session.scalars(select(AccountRow).where(AccountRow.number == number)).first()


def get_account(uow: UnitOfWork, number: str) -> AccountRow:
    row = find_account(uow, number)
    if row is None:
        raise NotFound("account", number)
    return row


def find_account_by_login(uow: UnitOfWork, login: str) -> AccountRow | None:
    """Accounts log in with their number or their email."""
    column = AccountRow.email if "@" in login else AccountRow.number
    value = login.strip().lower() if "@" in login else login.strip()
    return uow.session.scalars(select(AccountRow).where(column == value)).first()


def find_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow | None:
    return uow.session.scalars(
        select(SubAccountRow).where(
            SubAccountRow.account_id == account.id, SubAccountRow.username == username
        )
    ).first()


def get_subaccount(uow: UnitOfWork, account: AccountRow, username: str) -> SubAccountRow:
    row = find_subaccount(uow, account, username)
    if row is None:
        raise NotFound("sub account", f"{account.number}_{username}")
    return row


def list_subaccounts(uow: UnitOfWork, account: AccountRow) -> list[SubAccountRow]:
    return list(
        uow.session.scalars(
            select(SubAccountRow)
            .where(SubAccountRow.account_id == account.id)
            .order_by(SubAccountRow.username)
        )
    )


def load_settings(row: AccountRow | SubAccountRow) -> dict[str, Any]:
    return {key: s.from_json(key, value) for key, value in (row.settings or {}).items()}


def dump_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: s.to_json(key, value) for key, value in values.items()}


def validation_context(uow: UnitOfWork, account: AccountRow) -> v.ValidationContext:
    mailboxes = uow.session.scalars(
        select(MailboxRow.mailbox).where(MailboxRow.account_id == account.id)
    )
    subs = uow.session.scalars(
        select(SubAccountRow.name).where(SubAccountRow.account_id == account.id)
    )
    targets: dict[str, set[str]] = {}
    for kind, ref in uow.session.execute(
        select(RoutingTargetRow.kind, RoutingTargetRow.ref).where(
            RoutingTargetRow.account_id == account.id
        )
    ):
        targets.setdefault(kind, set()).add(ref)
    forwardings = uow.session.scalars(
        select(ForwardingRow.id).where(ForwardingRow.account_id == account.id)
    )
    targets.setdefault("fwd", set()).update(str(ident) for ident in forwardings)
    pops = uow.session.scalars(select(PopRow.name))
    return v.ValidationContext(
        account=account.number,
        email=account.email,
        mailboxes=frozenset(mailboxes),
        subaccounts=frozenset(subs),
        targets={header: frozenset(names) for header, names in targets.items()},
        pops=frozenset(pops) or frozenset(p.name for p in catalogs.DEFAULT_POPS),
        countries=frozenset(c.code for c in geo.countries()),
    )


# --- catalog data -------------------------------------------------------------------------------


def sync_pops(uow: UnitOfWork) -> None:
    """Make the POP table match the catalog (run by ``db upgrade`` and ``demo``)."""
    existing = {row.id: row for row in uow.session.scalars(select(PopRow))}
    for pop in catalogs.DEFAULT_POPS:
        row = existing.get(pop.id) or PopRow(id=pop.id)
        row.name, row.city, row.hostname, row.country = (
            pop.name,
            pop.city,
            pop.hostname,
            pop.country,
        )
        uow.session.add(row)


# --- internal helpers ---------------------------------------------------------------------------


def policy_changed(uow: UnitOfWork, account: AccountRow) -> None:
    """Record that the account's call policy changed (for every process's snapshot cache)."""
    uow.session.execute(
        update(AccountRow).where(AccountRow.id == account.id).values(version=AccountRow.version + 1)
    )
    uow.session.add(PolicyChangeRow(account=account.number))
    uow.touched.add(account.number)


def audit(
    uow: UnitOfWork,
    account: AccountRow,
    changes: Sequence[s.Change],
    *,
    subject: str | None = None,
    actor: str = "system",
) -> None:
    """Append changes to the account's audit log (values already redacted by the caller)."""
    for change in changes:
        uow.session.add(
            AuditRow(
                account_id=account.id,
                subject=subject or account.number,
                actor=actor,
                key=change.key,
                old=change.old,
                new=change.new,
            )
        )


def _set_subscriber(
    uow: UnitOfWork,
    username: str,
    *,
    password: str | None,
    effective: Mapping[str, Any],
    enabled: bool,
) -> None:
    """Keep Kamailio's subscriber row (digests + SIP attributes) in step, same transaction.

    ``enabled`` is the main account's flag: a sub account of a disabled account is disabled.
    """
    realm = get_settings().sip_realm
    row = uow.session.scalars(
        select(SubscriberRow).where(
            SubscriberRow.username == username, SubscriberRow.domain == realm
        )
    ).first()
    if row is None:
        if password is None:
            raise RuntimeError(f"no SIP password for new subscriber {username}")
        row = SubscriberRow(username=username, domain=realm, password="")
        uow.session.add(row)
    if password is not None:
        row.ha1 = passwords.sip_ha1(username, realm, password)
        row.ha1b = passwords.sip_ha1b(username, realm, password)
    row.max_expiry = int(effective["max_expiry"])
    row.encrypted_sip = 1 if effective["encrypted_sip"] else 0
    row.nat = str(effective["nat"])
    row.enabled = 1 if enabled else 0


def _set_subscribers_enabled(uow: UnitOfWork, account: AccountRow, enabled: bool) -> None:
    """The main account's and every sub account's subscriber rows follow the account's flag.

    Matched by user name in every domain (like ``delete_subaccount``): a row left under an
    old realm must not stay usable when the account is disabled.
    """
    names = [account.number, *(sub.name for sub in list_subaccounts(uow, account))]
    uow.session.execute(
        update(SubscriberRow)
        .where(SubscriberRow.username.in_(names))
        .values(enabled=1 if enabled else 0)
    )


def _sub_effective(main: Mapping[str, Any], sub: Mapping[str, Any]) -> dict[str, Any]:
    return s.effective_settings(main, sub).values


# --- use cases ----------------------------------------------------------------------------------


# An opening balance is a first deposit (bounded the same way) that may be zero.
OPENING_BALANCE = v.Money(low=Decimal(0), high=Decimal(100000), places=2)


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
    if uow.session.scalars(select(AccountRow).where(AccountRow.email == email_norm)).first():
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
    _set_subscriber(uow, number, password=password, effective=values, enabled=account.enabled)
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
    _set_subscribers_enabled(uow, account, enabled)
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
        _set_subscriber(
            uow,
            account.number,
            password=outcome.secrets.get("sip_password"),
            effective=outcome.values,
            enabled=account.enabled,
        )
        # Sub accounts inherit from the main account: their SIP attributes may change too.
        for sub in list_subaccounts(uow, account):
            _set_subscriber(
                uow,
                sub.name,
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
        _set_subscriber(
            uow,
            sub.name,
            password=outcome.secrets.get("sip_password"),
            effective=_sub_effective(main, outcome.values),
            enabled=account.enabled,
        )
    audit(uow, account, outcome.changes, subject=subject, actor=actor)
    policy_changed(uow, account)
    notifications.on_settings_changed(uow, account, subject, outcome.changes)
    return outcome


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
    _set_subscriber(
        uow,
        name,
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


def delete_subaccount(uow: UnitOfWork, subject: str, *, actor: str) -> None:
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    if username is None:
        raise ValidationFailed.single("account", "not_a_subaccount", f"{subject} is a main account")
    sub = get_subaccount(uow, account, username)
    target = f"account:{sub.name}"
    routed = uow.session.scalars(
        select(DidRow.number).where(
            DidRow.account_id == account.id,
            (DidRow.routing == target)
            | (DidRow.failover_busy == target)
            | (DidRow.failover_unreachable == target)
            | (DidRow.failover_noanswer == target),
        )
    ).all()
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
    uow.session.execute(delete(SubscriberRow).where(SubscriberRow.username == sub.name))
    uow.session.delete(sub)
    audit(
        uow, account, (s.Change("subaccount", "created", "deleted"),), subject=sub.name, actor=actor
    )
    policy_changed(uow, account)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    subject: str
    actor: str
    key: str
    old: str
    new: str
    tab: str

    def to_json(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "account": self.subject,
            "actor": self.actor,
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "tab": self.tab,
        }


def settings_history(
    uow: UnitOfWork, subject: str, *, tab: str | None = None, limit: int = 500
) -> list[AuditEntry]:
    main_number, username = split_subject(subject)
    account = get_account(uow, main_number)
    query = select(AuditRow).where(AuditRow.account_id == account.id)
    if username is not None:
        get_subaccount(uow, account, username)
        query = query.where(AuditRow.subject == subject)
    rows = uow.session.scalars(query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit))
    out = []
    for row in rows:
        spec = s.SPECS_BY_KEY.get(row.key)
        row_tab = spec.tab.value if spec else ("general" if row.key == "description" else "account")
        if tab is None or row_tab == tab:
            out.append(
                AuditEntry(row.at, row.subject, row.actor, row.key, row.old, row.new, row_tab)
            )
    return out


def add_mailbox(uow: UnitOfWork, account_number: str, mailbox: str, *, name: str = "") -> None:
    account = get_account(uow, account_number)
    if not re.fullmatch(r"\d{1,10}", mailbox):
        raise ValidationFailed.single("mailbox", "invalid_mailbox", "must be 1 to 10 digits")
    uow.session.add(MailboxRow(account_id=account.id, mailbox=mailbox, name=name))


def add_routing_target(
    uow: UnitOfWork,
    account_number: str,
    kind: str,
    ref: str,
    *,
    name: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    account = get_account(uow, account_number)
    # Call forwardings are entries of their own (services.forwardings).
    if kind not in ("ivr", "queue", "grp", "tc"):
        raise ValidationFailed.single("kind", "invalid_choice", "must be ivr, queue, grp or tc")
    uow.session.add(
        RoutingTargetRow(
            account_id=account.id, kind=kind, ref=ref, name=name, data=dict(data or {})
        )
    )
