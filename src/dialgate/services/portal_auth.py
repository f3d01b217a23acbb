"""Portal log-in: passwords, server-side sessions, CSRF tokens and the failed-login lockout.

The session cookie carries a random token; the database keeps only its SHA-256 (a stolen
database cannot be replayed as cookies). Each session has its own CSRF token, checked on every
POST by the portal.

Failed logins slow down: the caller is told to wait ``delay`` seconds before answering (growing
with each failure), and after ``MAX_FAILED_LOGINS`` the account is locked for
``LOCK_MINUTES``. Wrong passwords and unknown logins look the same to the caller.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from dialgate.adapters import metrics, passwords
from dialgate.adapters.db.models import AccountRow, PortalSessionRow
from dialgate.domain import catalogs
from dialgate.domain.errors import AuthenticationFailed, FieldError, ValidationFailed
from dialgate.services import accounts
from dialgate.services.uow import UnitOfWork

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
log = logging.getLogger(__name__)
DELAY_STEP = 0.25  # seconds added per consecutive failure
MAX_DELAY = 2.0
# Verified against when the login is unknown, so that case costs the same time as a bad password.
_DUMMY_HASH = passwords.hash_password("not-a-real-password-Dummy0")


class LoginFailed(AuthenticationFailed):
    """Wrong login or password. ``delay``: seconds the transport should wait before answering."""

    code = "login_failed"

    def __init__(self, delay: float) -> None:
        super().__init__("wrong account number, email or password")
        self.delay = delay


class AccountLocked(AuthenticationFailed):
    """Too many failed logins; the account accepts none until ``until`` (UTC)."""

    code = "account_locked"

    def __init__(self, until: datetime, delay: float) -> None:
        super().__init__(f"too many failed logins; locked until {until:%H:%M} UTC")
        self.until = until
        self.delay = delay


class AccountSuspended(AuthenticationFailed):
    """The right password for a suspended account: the customer is told, nothing opens."""

    code = "account_suspended"

    def __init__(self, number: str) -> None:
        super().__init__("this account is suspended")
        self.number = number
        self.delay = 0.0


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


def _now() -> datetime:
    return datetime.now(UTC)


def _delay(failures: int) -> float:
    return min(DELAY_STEP * failures, MAX_DELAY)


def _open_session(uow: UnitOfWork, account: AccountRow, now: datetime) -> NewSession:
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
    return NewSession(
        token, PortalSession(account.id, account.number, account.email, account.language, csrf)
    )


def _failed(account: str | None, why: str) -> None:
    metrics.LOGIN_FAILURES.inc()
    log.info("portal login refused", extra={"account": account, "why": why})


def login(
    uow: UnitOfWork,
    login_name: str,
    password: str,
    *,
    now: datetime | None = None,
    max_failed: int = MAX_FAILED_LOGINS,
    lock_minutes: int = LOCK_MINUTES,
) -> NewSession:
    """Check a login (account number or email) and password and open a session.

    Raises ``LoginFailed`` or ``AccountLocked``; both carry the delay to apply; the right
    password of a suspended account raises ``AccountSuspended``. The caller must
    commit in every case: failures are counted in the same transaction.
    """
    now = now or _now()
    account = accounts.find_account_by_login(uow, login_name) if login_name.strip() else None
    if account is None:
        passwords.verify_password(_DUMMY_HASH, password)
        _failed(None, "unknown_login")
        raise LoginFailed(DELAY_STEP)
    if account.locked_until is not None and account.locked_until > now:
        _failed(account.number, "locked")
        raise AccountLocked(account.locked_until, MAX_DELAY)
    if not account.enabled and passwords.verify_password(account.portal_password_hash, password):
        # Like REGISTER's "Account Disabled": only the right password learns of the suspension.
        raise AccountSuspended(account.number)
    if not account.enabled or not passwords.verify_password(account.portal_password_hash, password):
        account.failed_logins = (account.failed_logins or 0) + 1
        delay = _delay(account.failed_logins)
        _failed(account.number, "wrong_password" if account.enabled else "disabled")
        if account.failed_logins >= max_failed:
            account.failed_logins = 0
            account.locked_until = now + timedelta(minutes=lock_minutes)
            metrics.LOGIN_LOCKOUTS.inc()
            log.warning("portal account locked", extra={"account": account.number,
                                                        "minutes": lock_minutes})
            raise AccountLocked(account.locked_until, delay)
        raise LoginFailed(delay)
    account.failed_logins = 0
    account.locked_until = None
    if passwords.needs_rehash(account.portal_password_hash):
        account.portal_password_hash = passwords.hash_password(password)
    # Old sessions of this account that have expired are cleaned up on the way.
    uow.session.execute(
        delete(PortalSessionRow).where(
            PortalSessionRow.account_id == account.id, PortalSessionRow.expires_at <= now
        )
    )
    return _open_session(uow, account, now)


def resolve(
    uow: UnitOfWork, token: str | None, *, now: datetime | None = None
) -> PortalSession | None:
    """The session a cookie token names, or None if it is unknown or expired."""
    if not token:
        return None
    now = now or _now()
    row = uow.session.get(PortalSessionRow, passwords.token_digest(token))
    if row is None or row.expires_at <= now:
        return None
    account = uow.session.get(AccountRow, row.account_id)
    if account is None or not account.enabled:
        return None
    return PortalSession(
        account.id, account.number, account.email, account.language, row.csrf_token
    )


def logout(uow: UnitOfWork, token: str | None) -> None:
    if token:
        uow.session.execute(
            delete(PortalSessionRow).where(
                PortalSessionRow.id_hash == passwords.token_digest(token)
            )
        )


def change_password(
    uow: UnitOfWork, session: PortalSession, *, current: str, new: str, keep_token: str
) -> None:
    """Change the portal password after checking the current one; other sessions end."""
    account = accounts.get_account(uow, session.account)
    if not passwords.verify_password(account.portal_password_hash, current):
        raise ValidationFailed(
            [FieldError("current_password", "wrong_password", "the current password is wrong")]
        )
    accounts.update_settings(
        uow, session.account, {"portal_password": new}, actor=f"portal:{session.account}"
    )
    uow.session.execute(
        delete(PortalSessionRow).where(
            PortalSessionRow.account_id == account.id,
            PortalSessionRow.id_hash != passwords.token_digest(keep_token),
        )
    )


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
    account = accounts.get_account(uow, session.account)
    account.language = language


def session_count(uow: UnitOfWork, account_id: int) -> int:
    return len(
        uow.session.scalars(
            select(PortalSessionRow.id_hash).where(PortalSessionRow.account_id == account_id)
        ).all()
    )
