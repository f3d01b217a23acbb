"""Password hashing: argon2id for portal and API secrets, HA1 digests for SIP.

SIP digest authentication (RFC 2617/7616 with MD5, what deployed phones speak) needs
md5(user:realm:password) on the server side; that digest is all we keep of a SIP password.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dialgate.adapters import priority

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


_dummy: tuple[PasswordHasher, str] | None = None


def dummy_hash() -> str:
    """A hash of no one's password, made with the current parameters.

    Logins that match no account are verified against it, so they cost the same time as a wrong
    password for a real account. Made on first use (not at import, which would add an argon2 run
    to every CLI start) and again if the parameters change.
    """
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(18)))
    return _dummy[1]


class HashPoolBusy(Exception):
    """More password checks are waiting than the pool accepts: refuse instead of queueing."""


class HashPool:
    """Where argon2 runs for requests: at most ``workers`` at once, at most ``queue`` waiting.

    argon2id costs a third of a second of CPU on purpose. Run on the event loop it would stall
    every request; run inside a database transaction it would hold SQLite's write lock; run in
    an unbounded pool a flood of guesses would take every core from the call path. Here a flood
    can use ``workers`` cores at most, and the surplus is refused at once (``HashPoolBusy``).
    argon2-cffi releases the GIL while hashing, so the threads really run in parallel.
    """

    def __init__(self, workers: int, queue: int, nice: int = 0) -> None:
        self.workers = workers
        self.queue = queue
        self.nice = nice
        self.closed = False
        # Each thread lowers its own priority as it starts (Linux keeps nice per thread): a
        # core goes to the event loops, and to the switch, before it goes to a guess.
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="argon2",
            initializer=priority.lower_thread,
            initargs=(nice,),
        )
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Checks running or waiting now."""
        return self._in_flight

    def _done(self, _future: Future[Any]) -> None:
        with self._lock:
            self._in_flight -= 1
        self._slots.release()

    def _submit(self, fn: Any, *args: str) -> Future[Any]:
        if not self._slots.acquire(blocking=False):
            raise HashPoolBusy
        with self._lock:
            self._in_flight += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            with self._lock:
                self._in_flight -= 1
            self._slots.release()
            raise
        # The slot is freed when the work ends, not when a waiter gives up (a client that hung
        # up must not let more work in while its hash still runs).
        future.add_done_callback(self._done)
        return future

    async def verify(self, stored_hash: str, password: str) -> bool:
        return bool(await asyncio.wrap_future(self._submit(verify_password, stored_hash, password)))

    async def hash(self, password: str) -> str:
        return str(await asyncio.wrap_future(self._submit(hash_password, password)))

    def shutdown(self) -> None:
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


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
