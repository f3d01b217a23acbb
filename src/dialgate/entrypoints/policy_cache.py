"""The app-wide ``PolicyCache``: one per process, shared by every HTTP entrypoint that decides
calls (the REST simulate endpoint, the portal's "Test a number", ``/switch/v1/authorize``).

It is created on first use, never per request: a cache per request would rebuild the compiled
snapshot (SQL, parsing) on every call and defeat the design's "no SQL on the hot path". Use it as
``cache: PolicyCacheDep`` or call ``get_policy_cache(request)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Request

from dialgate.services.authorize import PolicyCache
from dialgate.services.uow import Database

T = TypeVar("T")
# Sync endpoints run in a thread pool: two first requests must not build two caches.
_create_lock = threading.Lock()


def per_app(app: FastAPI, name: str, build: Callable[[Database], T]) -> T:
    """``app.state.<name>``, built once from ``app.state.db`` if nobody has yet.

    The one pattern of the process-wide caches (this policy cache, the switch token cache):
    one per app, never per request, built on first use, emptied by the database's commit hooks.
    """
    state = app.state
    cache: T | None = getattr(state, name, None)
    if cache is None:
        with _create_lock:
            cache = getattr(state, name, None)
            if cache is None:
                cache = build(state.db)
                setattr(state, name, cache)
    return cache


def app_policy_cache(app: FastAPI) -> PolicyCache:
    """``app.state.policy_cache``, created once from ``app.state.db`` if nobody has yet."""
    return per_app(app, "policy_cache", PolicyCache)


def get_policy_cache(request: Request) -> PolicyCache:
    """The FastAPI dependency form of ``app_policy_cache``."""
    return app_policy_cache(request.app)


PolicyCacheDep = Annotated[PolicyCache, Depends(get_policy_cache)]
