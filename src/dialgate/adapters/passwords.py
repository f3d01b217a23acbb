"""Password hashing: argon2id for portal and API secrets, HA1 digests for SIP.

SIP digest authentication (RFC 2617/7616 with MD5, what deployed phones speak) needs
md5(user:realm:password) on the server side; that digest is all we keep of a SIP password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def sip_ha1(username: str, realm: str, password: str) -> str:
    # MD5 is what SIP digest auth is defined with; this is not used as a password hash.
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def sip_ha1b(username: str, realm: str, password: str) -> str:
    """The variant for clients that send user@domain as the digest username."""
    return sip_ha1(f"{username}@{realm}", realm, password)


def new_token(prefix: str, nbytes: int = 24) -> tuple[str, str]:
    """A random bearer token ``<prefix>_<id>.<secret>`` and its public id part (to look it up)."""
    ident = secrets.token_hex(4)
    return f"{prefix}_{ident}.{secrets.token_urlsafe(nbytes)}", f"{prefix}_{ident}"


def token_digest(token: str) -> str:
    """Tokens are long and random, so a plain SHA-256 is the right (fast) hash for them."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, digest: str) -> bool:
    return hmac.compare_digest(token_digest(token), digest)
