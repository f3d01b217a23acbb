"""Credentials for the machine interfaces: customer API keys, switch tokens and VoIP.ms API access.

- Customer API keys (``Authorization: Bearer dg_<id>.<secret>``) belong to one main account and
  see only it and its sub accounts.
- Switch tokens (``sw_<id>.<secret>``) let the SIP servers call the switch endpoints; they belong
  to no account and are useless on the customer API (and the reverse).
- VoIP.ms API access: the account's email plus an API password (argon2id), off until enabled, and
  only from the allowed IPs.

Keys and tokens are shown once at creation and stored as SHA-256 digests (they are long and
random); the VoIP.ms API password is chosen by a person, so it gets argon2id.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select

from dialgate.adapters import passwords
from dialgate.adapters.db.models import (
    AccountRow,
    ApiKeyRow,
    SwitchTokenRow,
    VoipmsApiRow,
)
from dialgate.domain import settings as s
from dialgate.domain import values as v
from dialgate.domain.errors import (
    AuthenticationFailed,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from dialgate.services import audit, lookups, notifications
from dialgate.services.uow import Database, UnitOfWork, use_case

T = TypeVar("T")

API_KEY_PREFIX = "dg"
SWITCH_TOKEN_PREFIX = "sw"  # noqa: S105 - a token prefix, not a secret
# Marked in ``uow.touched`` when a switch token is revoked, so caches of checked tokens (the
# switch endpoints') drop them at commit.
SWITCH_TOKENS_CHANGED = "__switch_tokens__"
# VoIP.ms lets customers allow every address with 0.0.0.0; we keep that meaning.
ANY_IP = "0.0.0.0"  # noqa: S104 - a marker in a list, never bound to


def _denied(
    cls: type[AuthenticationFailed | PermissionDenied], code: str, message: str
) -> Exception:
    exc = cls(message)
    exc.code = code  # the transports tell these apart (e.g. VoIP.ms statuses)
    return exc


def _check_name(name: str) -> str:
    name = name.strip()
    if len(name) > 64 or any(ord(ch) < 32 for ch in name):
        raise ValidationFailed.single(
            "name", "invalid_name", "must be at most 64 printable characters"
        )
    return name


def _lookup_id(token: str) -> str | None:
    """The public id part of ``<prefix>_<id>.<secret>``, or None if the token is malformed."""
    ident, sep, secret = token.partition(".")
    if not sep or not secret or len(ident) > 16:
        return None
    return ident


# --- customer API keys ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@use_case
def create_api_key(uow: UnitOfWork, account_number: str, *, name: str = "") -> tuple[KeyInfo, str]:
    """A new key for a main account: its public info and the secret (shown once, never stored)."""
    account = lookups.get_account(uow, account_number)
    token, ident = passwords.new_token(API_KEY_PREFIX)
    row = ApiKeyRow(
        account_id=account.id,
        name=_check_name(name),
        prefix=ident,
        key_hash=passwords.token_digest(token),
        created_at=uow.now(),
    )
    uow.session.add(row)
    audit.audit(uow, account, [s.Change("api_key", "", f"created {ident}")])
    return KeyInfo(ident, row.name, row.created_at, None), token


def list_api_keys(uow: UnitOfWork, account_number: str) -> list[KeyInfo]:
    account = lookups.get_account(uow, account_number)
    rows = uow.session.scalars(
        select(ApiKeyRow).where(ApiKeyRow.account_id == account.id).order_by(ApiKeyRow.id)
    )
    return [KeyInfo(r.prefix, r.name, r.created_at, r.revoked_at) for r in rows]


@use_case
def revoke_api_key(uow: UnitOfWork, account_number: str, key_id: str) -> None:
    account = lookups.get_account(uow, account_number)
    row = uow.session.scalars(
        select(ApiKeyRow).where(ApiKeyRow.account_id == account.id, ApiKeyRow.prefix == key_id)
    ).first()
    if row is None:
        raise NotFound("API key", key_id)
    if row.revoked_at is None:
        row.revoked_at = uow.now()
        audit.audit(
            uow, account, [s.Change("api_key", f"created {key_id}", f"revoked {key_id}")]
        )


def authenticate_api_key(uow: UnitOfWork, token: str | None) -> AccountRow:
    """The main account a bearer key belongs to; AuthenticationFailed for anything else."""
    if not token:
        raise _denied(AuthenticationFailed, "missing_credentials", "an API key is required")
    ident = _lookup_id(token)
    row = None
    if ident is not None and ident.startswith(f"{API_KEY_PREFIX}_"):
        row = uow.session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == ident)).first()
    if (
        row is None
        or row.revoked_at is not None
        or not passwords.token_matches(token, row.key_hash)
    ):
        raise _denied(AuthenticationFailed, "invalid_credentials", "invalid or revoked API key")
    account = uow.session.get(AccountRow, row.account_id)
    if account is None or not account.enabled:
        raise _denied(AuthenticationFailed, "account_disabled", "the account is disabled")
    return account


# --- switch tokens ------------------------------------------------------------------------------


@use_case
def create_switch_token(uow: UnitOfWork, *, name: str = "") -> tuple[KeyInfo, str]:
    token, ident = passwords.new_token(SWITCH_TOKEN_PREFIX)
    row = SwitchTokenRow(
        name=_check_name(name),
        prefix=ident,
        token_hash=passwords.token_digest(token),
        created_at=uow.now(),
    )
    uow.session.add(row)
    return KeyInfo(ident, row.name, row.created_at, None), token


@use_case
def create_switch_token_for(
    uow: UnitOfWork, *, name: str, use: Callable[[str], T]
) -> tuple[KeyInfo, str, T]:
    """A new switch token and what ``use`` builds with it (a switch's config): the token is
    kept only if ``use`` succeeds, so a config refused for a bad option leaves no stray token."""
    info, token = create_switch_token(uow, name=name)
    return info, token, use(token)


def list_switch_tokens(uow: UnitOfWork) -> list[KeyInfo]:
    rows = uow.session.scalars(select(SwitchTokenRow).order_by(SwitchTokenRow.id))
    return [KeyInfo(r.prefix, r.name, r.created_at, r.revoked_at) for r in rows]


@use_case
def revoke_switch_token(uow: UnitOfWork, token_id: str) -> None:
    row = uow.session.scalars(
        select(SwitchTokenRow).where(SwitchTokenRow.prefix == token_id)
    ).first()
    if row is None:
        raise NotFound("switch token", token_id)
    if row.revoked_at is None:
        row.revoked_at = uow.now()
        uow.touched.add(SWITCH_TOKENS_CHANGED)


def authenticate_switch_token(uow: UnitOfWork, token: str | None) -> KeyInfo:
    if not token:
        raise _denied(AuthenticationFailed, "missing_credentials", "a switch token is required")
    ident = _lookup_id(token)
    row = None
    if ident is not None and ident.startswith(f"{SWITCH_TOKEN_PREFIX}_"):
        row = uow.session.scalars(
            select(SwitchTokenRow).where(SwitchTokenRow.prefix == ident)
        ).first()
    if (
        row is None
        or row.revoked_at is not None
        or not passwords.token_matches(token, row.token_hash)
    ):
        raise _denied(AuthenticationFailed, "invalid_credentials", "invalid or revoked token")
    return KeyInfo(row.prefix, row.name, row.created_at, row.revoked_at)


MAX_REMEMBERED_DIGESTS = 64  # switch tokens in use at once: one per POP, a few in a rotation


class SwitchTokenCache:
    """Switch tokens already checked, for ``ttl`` seconds (built like the ``PolicyCache``).

    The switch asks on every call; looking its token up costs a transaction (about 1-2 ms on
    SQLite under load), more than the decision itself. A revocation committed through the same
    ``Database`` empties the cache at once (commit hook); one made by another process is
    honoured within ``ttl``.
    """

    def __init__(
        self, db: Database, *, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[KeyInfo, float]] = {}
        self._digests: dict[str, str] = {}  # token -> its digest, for tokens that passed check
        db.after_commit_hooks.append(self._on_commit)

    def _on_commit(self, touched: set[str]) -> None:
        if SWITCH_TOKENS_CHANGED in touched:
            self._known.clear()
            self._digests.clear()

    def _check(self, token: str | None) -> KeyInfo:
        with self._db.uow(write=False) as uow:
            return authenticate_switch_token(uow, token)

    def peek(self, token: str) -> KeyInfo | None:
        """The token's key if it was checked within ``ttl``; never touches the database."""
        hit = self._known.get(self._digest(token))
        if hit is not None and hit[1] > self._clock():
            return hit[0]
        return None

    def _digest(self, token: str) -> str:
        # A switch sends the same token with every call: its SHA-256 is computed once, not per
        # call (a few per cent of the evapi path). Only tokens already checked are remembered,
        # so random tokens cannot grow the map.
        digest = self._digests.get(token)
        return digest if digest is not None else passwords.token_digest(token)

    def check(self, token: str | None) -> KeyInfo:
        """The token's key, from the cache or the database (then kept for ``ttl``)."""
        if not token:
            return self._check(token)  # raises: no credentials
        known = self.peek(token)
        if known is not None:
            return known
        now = self._clock()
        info = self._check(token)
        digest = passwords.token_digest(token)
        self._known[digest] = (info, now + self._ttl)
        if len(self._digests) >= MAX_REMEMBERED_DIGESTS:
            self._digests.clear()
        self._digests[token] = digest
        return info


# --- VoIP.ms-compatible API access ------------------------------------------------------------


def _parse_allowed_ips(ips: Sequence[str]) -> list[str]:
    out: list[str] = []
    errors: list[FieldError] = []
    for raw in ips:
        item = raw.strip()
        if item == ANY_IP:
            out.append(item)
            continue
        try:
            out.append(
                str(ipaddress.ip_network(item, strict=False))
                if "/" in item
                else str(ipaddress.ip_address(item))
            )
        except ValueError:
            errors.append(
                FieldError("allow_ip", "invalid_ip", f"not an IP address or range: {raw!r}")
            )
    if errors:
        raise ValidationFailed(errors)
    return list(dict.fromkeys(out))


def _api_state(row: VoipmsApiRow | None) -> tuple[bool, list[str]]:
    if row is None:
        return False, []
    return bool(row.enabled), list((row.allowed_ips or {}).get("ips", []))


def _ip_list(ips: Sequence[str]) -> str:
    return ",".join(ips) or "none"


@use_case
def enable_voipms_api(
    uow: UnitOfWork, account_number: str, *, password: str, allowed_ips: Sequence[str] = ()
) -> list[str]:
    """Turn the VoIP.ms-compatible API on with this password and these IPs (replacing both).

    What changed (on/off, password, allowed IPs) is emailed under ``notify_api_changes`` in this
    transaction; the password only ever appears as ``***``."""
    account = lookups.get_account(uow, account_number)
    try:
        ctx = v.ValidationContext(account=account.number, email=account.email)
        v.Password().parse(password, ctx)
    except v.InvalidValue as exc:
        raise ValidationFailed([exc.field_error("password")]) from None
    ips = _parse_allowed_ips(allowed_ips)
    row = uow.session.get(VoipmsApiRow, account.id)
    was_enabled, old_ips = _api_state(row)
    same_password = row is not None and passwords.verify_password(row.password_hash, password)
    if row is None:
        row = VoipmsApiRow(account_id=account.id)
        uow.session.add(row)
    row.enabled = True
    row.password_hash = passwords.hash_password(password)
    row.allowed_ips = {"ips": ips}
    audit.audit(uow, account, [s.Change("voipms_api", s.MASK, f"enabled; IPs: {_ip_list(ips)}")])
    changes: list[s.Change] = []
    if not was_enabled:
        changes.append(s.Change("voipms_api", "disabled", "enabled"))
    if not same_password:
        changes.append(s.Change("api_password", s.MASK, s.MASK))
    if old_ips != ips:
        changes.append(s.Change("api_allowed_ips", _ip_list(old_ips), _ip_list(ips)))
    if changes:
        notifications.on_api_changed(uow, account, changes)
    return ips


@use_case
def disable_voipms_api(uow: UnitOfWork, account_number: str) -> None:
    account = lookups.get_account(uow, account_number)
    row = uow.session.get(VoipmsApiRow, account.id)
    if row is not None and row.enabled:
        row.enabled = False
        audit.audit(uow, account, [s.Change("voipms_api", "enabled", "disabled")])
        notifications.on_api_changed(uow, account, [s.Change("voipms_api", "enabled", "disabled")])


def _ip_allowed(client_ip: str | None, allowed: Sequence[str]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    for entry in allowed:
        if entry == ANY_IP:
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True, slots=True)
class VoipmsCredentials:
    """What a VoIP.ms API call is checked against, read in a short read transaction so that the
    argon2 check runs outside it (and in the caller's bounded pool)."""

    account: str | None  # None: no such email, or no API password set
    password_hash: str
    allowed_ips: tuple[str, ...]
    usable: bool  # the API and the account are both enabled


def voipms_credentials(uow: UnitOfWork, username: str) -> VoipmsCredentials:
    account = lookups.find_account_by_login(uow, username) if "@" in username else None
    row = uow.session.get(VoipmsApiRow, account.id) if account is not None else None
    if account is None or row is None or not row.password_hash:
        return VoipmsCredentials(None, "", (), False)
    _enabled, ips = _api_state(row)
    return VoipmsCredentials(
        account.number, row.password_hash, tuple(ips), bool(row.enabled and account.enabled)
    )


def check_voipms_source(
    username: str | None, password: str | None, creds: VoipmsCredentials, client_ip: str | None
) -> None:
    """The checks that come before the password, so that from an address the account does not
    allow no password is ever checked (and nothing is learnt): missing credentials, then the
    allow-list. An unknown email allows no address, so it answers exactly like a known one
    called from elsewhere."""
    if not username or not password:
        raise _denied(AuthenticationFailed, "missing_credentials", "username or password missing")
    if creds.account is None or not _ip_allowed(client_ip, creds.allowed_ips):
        raise _denied(PermissionDenied, "ip_not_enabled", "this IP is not enabled for API use")


def check_voipms_verified(creds: VoipmsCredentials, verified: bool) -> str:
    """After the password check: the account number, or why not."""
    if not verified or creds.account is None:
        raise _denied(AuthenticationFailed, "invalid_credentials", "username or password wrong")
    if not creds.usable:
        raise _denied(PermissionDenied, "api_not_enabled", "the API is not enabled")
    return creds.account


def authenticate_voipms(
    uow: UnitOfWork,
    *,
    username: str | None,
    password: str | None,
    client_ip: str | None,
) -> str:
    """The account number behind VoIP.ms API credentials (``api_username`` is the account's
    email), all checks in order, for callers without a hash pool (the HTTP facade runs the same
    steps with argon2 outside the transaction).

    Raises AuthenticationFailed (``missing_credentials``, ``invalid_credentials``) or
    PermissionDenied (``ip_not_enabled``, ``api_not_enabled``).
    """
    creds = voipms_credentials(uow, username or "")
    check_voipms_source(username, password, creds, client_ip)
    verified = verified_recently(creds.password_hash, password or "") or passwords.verify_password(
        creds.password_hash, password or ""
    )
    if verified:
        remember_verified(creds.password_hash, password or "")
    return check_voipms_verified(creds, verified)


# Scripts call the VoIP.ms API many times a minute with the same password; argon2id costs
# about a third of a second per check, so a successful check is remembered for a while, keyed
# by a digest of the stored hash (salted, and changed by a new password) and the password.
_VERIFIED: dict[str, float] = {}
_VERIFIED_TTL_S = 300.0
_VERIFIED_MAX = 4096


def _verified_key(stored_hash: str, password: str) -> str:
    return hashlib.sha256(f"{stored_hash}\0{password}".encode()).hexdigest()


def verified_recently(stored_hash: str, password: str) -> bool:
    return bool(stored_hash) and _VERIFIED.get(_verified_key(stored_hash, password), 0.0) > (
        time.monotonic()
    )


def remember_verified(stored_hash: str, password: str) -> None:
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[_verified_key(stored_hash, password)] = time.monotonic() + _VERIFIED_TTL_S
