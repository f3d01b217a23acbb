"""The provider's operators: creation, console log-in (argon2id password, then a TOTP code for
admins), sessions with CSRF tokens, the failed-login lockout, admin API keys, and the operator
audit log every console and admin-API action writes.

Roles: ``admin`` may do everything; ``support`` may look at everything and suspend or restore
accounts, but never moves money (``require_money``).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp

from dialgate.adapters import passwords
from dialgate.adapters.db import repo_operators as repo
from dialgate.adapters.db.models import (
    AdminApiKeyRow,
    OperatorAuditRow,
    OperatorRow,
    OperatorSessionRow,
)
from dialgate.domain.errors import (
    AuthenticationFailed,
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from dialgate.services.uow import UnitOfWork, use_case

ROLES = ("admin", "support")
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
SESSION_HOURS = 8
MIN_PASSWORD = 12
KEY_PREFIX = "dgadm"
ISSUER = "Dialgate"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}")

# Operator log-ins keep a per-operator lockout: operators are few and known, and a locked-out
# operator is let back in by another admin (customers' portal uses per-source throttles).
DELAY_STEP = 0.25  # seconds added per consecutive failure
MAX_DELAY = 2.0


class LoginFailed(AuthenticationFailed):
    """Wrong email or password. ``delay``: seconds the transport should wait before answering."""

    code = "login_failed"

    def __init__(self, delay: float) -> None:
        super().__init__("wrong email or password")
        self.delay = delay


class AccountLocked(AuthenticationFailed):
    """Too many failed logins; the operator accepts none until ``until`` (UTC)."""

    code = "account_locked"

    def __init__(self, until: datetime, delay: float) -> None:
        super().__init__(f"too many failed logins; locked until {until:%H:%M} UTC")
        self.until = until
        self.delay = delay


class CodeReused(LoginFailed):
    """A right TOTP code that was already accepted once (or an older one than the last
    accepted): every code is good for one log-in, so a code seen by someone else is useless."""

    code = "totp_reused"

    def __init__(self, delay: float) -> None:
        AuthenticationFailed.__init__(
            self, "this code was already used; wait for the next code of your app")
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Operator:
    """Who acts: an operator, its role, and through what (console, admin-api:<key>, cli)."""

    id: int
    email: str
    role: str
    via: str

    @property
    def can_move_money(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """How the customer-side audit log names an operator's change."""
        return f"operator:{self.email}"[:64]


CLI = Operator(0, "cli", "admin", "cli")


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    operator: Operator
    csrf_token: str
    mfa_done: bool
    needs_totp: bool

    @property
    def complete(self) -> bool:
        return self.mfa_done or not self.needs_totp

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token)


def _operator(row: OperatorRow, via: str) -> Operator:
    return Operator(row.id, row.email, row.role, via)


def find(uow: UnitOfWork, email: str) -> OperatorRow | None:
    return repo.operator_by_email(uow.session, email.strip().lower())


@use_case
def create_operator(
    uow: UnitOfWork, email: str, role: str, password: str
) -> tuple[OperatorRow, str | None]:
    """A new operator; for an admin also its TOTP secret (returned once, to enrol an app)."""
    errors = []
    address = email.strip().lower()
    if not _EMAIL.fullmatch(address):
        errors.append(FieldError("email", "invalid_email", "must be an email address"))
    if role not in ROLES:
        errors.append(FieldError("role", "invalid_choice", "must be admin or support"))
    if len(password) < MIN_PASSWORD:
        errors.append(FieldError("password", "too_short",
                                 f"must be at least {MIN_PASSWORD} characters"))
    if errors:
        raise ValidationFailed(errors)
    if find(uow, address) is not None:
        raise Conflict("operator_exists", "an operator with this email exists", field="email")
    secret = pyotp.random_base32() if role == "admin" else None
    row = OperatorRow(email=address, role=role, password_hash=passwords.hash_password(password),
                      totp_secret=secret, enabled=True, failed_logins=0)
    uow.session.add(row)
    uow.session.flush()
    audit(uow, CLI, "operator.create", address, f"role={role}")
    return row, secret


def provisioning_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def list_operators(uow: UnitOfWork) -> list[OperatorRow]:
    return repo.operators(uow.session)


# --- console log-in ---------------------------------------------------------------------------


def _fail(row: OperatorRow, now: datetime) -> AuthenticationFailed:
    row.failed_logins = (row.failed_logins or 0) + 1
    delay = min(DELAY_STEP * row.failed_logins, MAX_DELAY)
    if row.failed_logins >= MAX_FAILED_LOGINS:
        row.failed_logins = 0
        row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        return AccountLocked(row.locked_until, delay)
    return LoginFailed(delay)


def login(
    uow: UnitOfWork, email: str, password: str, *, now: datetime | None = None
) -> tuple[str, ConsoleSession]:
    """Password step: a new session (token for the cookie). Admins' sessions still need the
    TOTP step. Raises LoginFailed/AccountLocked, whose failure count must be committed too:
    entrypoints call ``attempt_login``."""
    now = now or uow.now()
    row = find(uow, email) if email.strip() else None
    if row is None:
        passwords.verify_password(passwords.dummy_hash(), password)
        raise LoginFailed(DELAY_STEP)
    if row.locked_until is not None and row.locked_until > now:
        raise AccountLocked(row.locked_until, MAX_DELAY)
    if not row.enabled or not passwords.verify_password(row.password_hash, password):
        raise _fail(row, now)
    if row.role != "admin":
        row.failed_logins = 0
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    repo.delete_expired_sessions(uow.session, row.id, now)
    uow.session.add(OperatorSessionRow(
        id_hash=passwords.token_digest(token), operator_id=row.id, csrf_token=csrf,
        mfa_done=False, created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    session = ConsoleSession(_operator(row, "console"), csrf, False, row.role == "admin")
    if session.complete:
        audit(uow, session.operator, "console.login", row.email)
    return token, session


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (this 30 s step or the one before), or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _claim_step(uow: UnitOfWork, op: OperatorRow, step: int) -> bool:
    """Record ``step`` as the operator's last accepted one unless it (or a later one) already
    is (``repo.claim_totp_step``: two requests racing with the same code cannot both win)."""
    if not repo.claim_totp_step(uow.session, op.id, step):
        return False
    op.totp_last_step = step
    return True


def verify_totp(
    uow: UnitOfWork, token: str | None, code: str, *, now: datetime | None = None
) -> ConsoleSession:
    """TOTP step: the code of the operator's app (this 30 s step or the one before)."""
    now = now or uow.now()
    row = uow.session.get(OperatorSessionRow, passwords.token_digest(token or ""))
    if row is None or row.expires_at <= now:
        raise AuthenticationFailed("session expired; log in again")
    op = uow.session.get(OperatorRow, row.operator_id)
    if op is None or not op.enabled or op.totp_secret is None:
        raise AuthenticationFailed("session expired; log in again")
    if op.locked_until is not None and op.locked_until > now:
        raise AccountLocked(op.locked_until, MAX_DELAY)
    clean = code.strip().replace(" ", "")
    step = _totp_step(op.totp_secret, clean, now) if clean.isdigit() else None
    if step is None:
        raise _fail(op, now)
    if not _claim_step(uow, op, step):
        failure = _fail(op, now)  # a replay counts toward the lockout like any refused code
        if isinstance(failure, AccountLocked):
            raise failure
        raise CodeReused(min(DELAY_STEP * op.failed_logins, MAX_DELAY))
    op.failed_logins = 0
    row.mfa_done = True
    operator = _operator(op, "console")
    audit(uow, operator, "console.login", op.email, "totp")
    return ConsoleSession(operator, row.csrf_token, True, True)


# A refused log-in is returned, not raised, by these two: the use case then commits, because
# the failure count (and the lockout) it wrote is part of the answer.
Refusal = LoginFailed | AccountLocked


@use_case
def attempt_login(
    uow: UnitOfWork, email: str, password: str
) -> tuple[str, ConsoleSession] | Refusal:
    """``login`` in its own transaction, kept whether it succeeded or not."""
    try:
        return login(uow, email, password)
    except (LoginFailed, AccountLocked) as refused:
        return refused


@use_case
def attempt_totp(uow: UnitOfWork, token: str | None, code: str) -> ConsoleSession | Refusal:
    """``verify_totp`` in its own transaction, kept whether it succeeded or not."""
    try:
        return verify_totp(uow, token, code)
    except (LoginFailed, AccountLocked) as refused:
        return refused


def resolve(
    uow: UnitOfWork, token: str | None, *, now: datetime | None = None
) -> ConsoleSession | None:
    if not token:
        return None
    now = now or uow.now()
    row = uow.session.get(OperatorSessionRow, passwords.token_digest(token))
    if row is None or row.expires_at <= now:
        return None
    op = uow.session.get(OperatorRow, row.operator_id)
    if op is None or not op.enabled:
        return None
    return ConsoleSession(_operator(op, "console"), row.csrf_token, row.mfa_done,
                          op.role == "admin")


@use_case
def logout(uow: UnitOfWork, token: str | None) -> None:
    if token:
        repo.delete_session(uow.session, passwords.token_digest(token))


# --- admin API keys ---------------------------------------------------------------------------


@use_case
def create_admin_key(uow: UnitOfWork, email: str, *, name: str = "") -> tuple[str, str]:
    """A new admin API key for an operator: (key id, the key, shown once)."""
    row = find(uow, email)
    if row is None:
        raise NotFound("operator", email)
    token, prefix = passwords.new_token(KEY_PREFIX)
    uow.session.add(AdminApiKeyRow(operator_id=row.id, name=name[:64], prefix=prefix,
                                   key_hash=passwords.token_digest(token)))
    audit(uow, CLI, "admin_key.create", row.email, f"key={prefix}")
    return prefix, token


def authenticate_admin_key(uow: UnitOfWork, token: str | None) -> Operator:
    """The operator an admin key acts as; customer keys and switch tokens never match (their
    prefix differs and they live in other tables)."""
    if not token or not token.startswith(KEY_PREFIX + "_"):
        raise AuthenticationFailed("an admin API key is required")
    prefix = token.partition(".")[0]
    row = repo.admin_key_by_prefix(uow.session, prefix)
    if row is None or row.revoked_at is not None or not passwords.token_matches(token,
                                                                                  row.key_hash):
        raise AuthenticationFailed("invalid admin API key")
    op = uow.session.get(OperatorRow, row.operator_id)
    if op is None or not op.enabled:
        raise AuthenticationFailed("invalid admin API key")
    return _operator(op, f"admin-api:{prefix}")


@use_case
def admin_api_request(uow: UnitOfWork, token: str | None, action: str, path: str) -> Operator:
    """The operator an admin API request acts as, with the request written to the audit log
    (committed before the request's own work, so a refused change is logged too)."""
    operator = authenticate_admin_key(uow, token)
    audit(uow, operator, action, path)
    return operator


@use_case
def revoke_admin_key(uow: UnitOfWork, prefix: str) -> None:
    row = repo.admin_key_by_prefix(uow.session, prefix)
    if row is None:
        raise NotFound("admin key", prefix)
    row.revoked_at = uow.now()
    audit(uow, CLI, "admin_key.revoke", prefix)


# --- permissions and the audit log ------------------------------------------------------------


def require_money(operator: Operator) -> None:
    if not operator.can_move_money:
        raise PermissionDenied("support operators cannot move money")


def audit(
    uow: UnitOfWork, operator: Operator, action: str, target: str = "", detail: str = ""
) -> None:
    """One row of the operator audit log (never a secret: callers pass none)."""
    uow.session.add(OperatorAuditRow(
        at=uow.now(), operator=operator.email, via=operator.via[:32], action=action[:64],
        target=target[:64], detail=detail[:1000]))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    operator: str
    via: str
    action: str
    target: str
    detail: str


def audit_log(
    uow: UnitOfWork, *, limit: int = 200, target: str | None = None
) -> list[AuditEntry]:
    return [AuditEntry(r.at, r.operator, r.via, r.action, r.target, r.detail)
            for r in repo.audit_rows(uow.session, limit=limit, target=target)]
