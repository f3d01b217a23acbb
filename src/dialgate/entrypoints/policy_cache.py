"""The app-wide ``PolicyCache``: one per process, shared by every HTTP entrypoint that decides
calls (the REST simulate endpoint, the portal's "Test a number", ``/switch/v1/authorize``).

It is created on first use, never per request: a cache per request would rebuild the compiled
snapshot (SQL, parsing) on every call and defeat the design's "no SQL on the hot path". Use it as
``cache: PolicyCacheDep`` or call ``get_policy_cache(request)``.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from dialgate.services.authorize import PolicyCache
from dialgate.services.uow import Database

# Sync endpoints run in a thread pool: two first requests must not build two caches.
_create_lock = threading.Lock()


def app_policy_cache(app: FastAPI) -> PolicyCache:
    """``app.state.policy_cache``, created once from ``app.state.db`` if nobody has yet."""
    state = app.state
    cache: PolicyCache | None = getattr(state, "policy_cache", None)
    if cache is None:
        with _create_lock:
            cache = getattr(state, "policy_cache", None)
            if cache is None:
                db: Database = state.db
                cache = PolicyCache(db)
                state.policy_cache = cache
    return cache


def get_policy_cache(request: Request) -> PolicyCache:
    """The FastAPI dependency form of ``app_policy_cache``."""
    return app_policy_cache(request.app)


PolicyCacheDep = Annotated[PolicyCache, Depends(get_policy_cache)]
