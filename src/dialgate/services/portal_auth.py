"""Portal log-in: passwords, server-side sessions and CSRF tokens.

The session cookie carries a random token; the database keeps only its SHA-256 (a stolen
database cannot be replayed as cookies). Each session has its own CSRF token, checked on every
POST by the portal.

A login is three steps, so that argon2 never runs inside a transaction (on SQLite a write
transaction holds the database's one write lock): ``find_login`` reads the stored hash in a
short read transaction, the caller verifies it outside any transaction (in the bounded
``passwords.HashPool``), and ``open_session`` writes the session in a short write transaction.
An unknown login is verified against a dummy hash, so both cost the same and look the same.

Guessing is throttled by the transport per source address and per login name (see
``entrypoints/portal/routes_auth``), never by locking the account: a lock that a stranger can
trigger is a way to keep the owner out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from dialgate.adapters import passwords
from dialgate.adapters.db.models import AccountRow, PortalSessionRow
from dialgate.domain import catalogs
from dialgate.domain.errors import FieldError, ValidationFailed
from dialgate.services import accounts, lookups
from dialgate.services.uow import UnitOfWork, use_case

SESSION_HOURS = 12
# What a failed login waits before its answer (on the event loop: it costs no thread).
FAILURE_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class PortalSession:
    """Who is logged in, as the portal's routes see it."""

    account_id: int
    account: str  # main account number
    email: str
    language: str
    csrf_token: str

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # goes in the cookie; never stored
    session: PortalSession


@dataclass(frozen=True, slots=True)
class LoginTarget:
    """What a login attempt is checked against (read before any hashing)."""

    account_id: int | None  # None: no such login (checked against passwords.dummy_hash())
    account: str
    password_hash: str
    enabled: bool

    @property
    def can_log_in(self) -> bool:
        return self.account_id is not None and self.enabled


def login_key(login_name: str) -> str:
    """The login name as the throttles count it (number or email, case-folded, hashed so the
    limiter's memory never holds what strangers typed)."""
    return hashlib.sha256(login_name.strip().lower().encode()).hexdigest()[:32]


def find_login(uow: UnitOfWork, login_name: str) -> LoginTarget:
    account = lookups.find_account_by_login(uow, login_name) if login_name.strip() else None
    if account is None:
        return LoginTarget(None, "", passwords.dummy_hash(), False)
    return LoginTarget(account.id, account.number, account.portal_password_hash, account.enabled)


@use_case
def open_session(
    uow: UnitOfWork,
    target: LoginTarget,
    *,
    new_hash: str | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> NewSession:
    """A session for a login whose password was verified. ``new_hash``: the same password
    hashed with current parameters (computed by the caller outside the transaction) when
    ``passwords.needs_rehash`` said so; ``language``: the one chosen on the login page, kept
    as the account's (same transaction)."""
    now = now or uow.now()
    account = uow.session.get(AccountRow, target.account_id)
    # Checked again: the account may have been disabled (or its password changed) meanwhile.
    if account is None or not account.enabled or account.portal_password_hash != (
        target.password_hash
    ):
        raise ValidationFailed.single("login", "login_failed", "wrong login or password")
    if new_hash is not None:
        account.portal_password_hash = new_hash
    # Old sessions of this account that have expired are cleaned up on the way.
    uow.session.execute(
        delete(PortalSessionRow).where(
            PortalSessionRow.account_id == account.id, PortalSessionRow.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    uow.session.add(
        PortalSessionRow(
            id_hash=passwords.token_digest(token),
            account_id=account.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )
    opened = NewSession(
        token, PortalSession(account.id, account.number, account.email, account.language, csrf)
    )
    if language is not None:
        set_language(uow, opened.session, language)
    return opened


def device_token(secret_key: str, account: str) -> str:
    """A cookie value proving this browser logged in to ``account`` before.

    When a login name is being guessed from many addresses, its per-login budget runs out;
    browsers that carry this token for the account may still try (OWASP's "device cookie"),
    so a distributed guesser cannot keep the owner out."""
    mac = hmac.new(secret_key.encode(), f"portal-device:{account}".encode(), hashlib.sha256)
    return mac.hexdigest()


def device_ok(secret_key: str, account: str, token: str | None) -> bool:
    return bool(token) and bool(account) and hmac.compare_digest(
        device_token(secret_key, account), token or ""
    )


def resolve(
    uow: UnitOfWork, token: str | None, *, now: datetime | None = None
) -> PortalSession | None:
    """The session a cookie token names, or None if it is unknown or expired."""
    if not token:
        return None
    now = now or uow.now()
    row = uow.session.get(PortalSessionRow, passwords.token_digest(token))
    if row is None or row.expires_at <= now:
        return None
    account = uow.session.get(AccountRow, row.account_id)
    if account is None or not account.enabled:
        return None
    return PortalSession(
        account.id, account.number, account.email, account.language, row.csrf_token
    )


@use_case
def logout(uow: UnitOfWork, token: str | None) -> None:
    if token:
        uow.session.execute(
            delete(PortalSessionRow).where(
                PortalSessionRow.id_hash == passwords.token_digest(token)
            )
        )


@use_case
def change_password(
    uow: UnitOfWork,
    session: PortalSession,
    *,
    current_ok: bool,
    new: str,
    new_hash: str | None,
    keep_token: str,
) -> None:
    """Change the portal password; other sessions end. ``current_ok``: whether the current
    password was verified (by the caller, outside the transaction); ``new_hash``: ``new``
    hashed by the caller outside it (None: hashed here)."""
    if not current_ok:
        raise ValidationFailed(
            [FieldError("current_password", "wrong_password", "the current password is wrong")]
        )
    # The account's other portal sessions end with the change (update_settings does it).
    accounts.update_settings(
        uow,
        session.account,
        {"portal_password": new},
        actor=f"portal:{session.account}",
        hashed={"portal_password": (new, new_hash)} if new_hash else None,
        keep_session=keep_token,
    )


def password_hash_of(uow: UnitOfWork, account: str) -> str:
    return lookups.get_account(uow, account).portal_password_hash


@use_case
def set_language(uow: UnitOfWork, session: PortalSession, language: str) -> None:
    if language not in catalogs.LANGUAGES:
        raise ValidationFailed(
            [
                FieldError(
                    "language",
                    "invalid_choice",
                    f"must be one of {', '.join(catalogs.LANGUAGES)}",
                )
            ]
        )
    account = lookups.get_account(uow, session.account)
    account.language = language


def session_count(uow: UnitOfWork, account_id: int) -> int:
    return len(
        uow.session.scalars(
            select(PortalSessionRow.id_hash).where(PortalSessionRow.account_id == account_id)
        ).all()
    )
