"""The app-wide ``PolicyCache`` (one per process, like the switch's), created on first use.

Same behaviour as ``entrypoints.api.policy.get_policy_cache``: the cache lives on
``app.state.policy_cache`` so every entrypoint of the app shares its compiled snapshots and its
invalidation feed. (Kept here until the two are merged into one shared helper.)
"""

from __future__ import annotations

import threading

from fastapi import Request

from dialgate.services.authorize import PolicyCache
from dialgate.services.uow import Database

_lock = threading.Lock()


def get_policy_cache(request: Request) -> PolicyCache:
    state = request.app.state
    cache: PolicyCache | None = getattr(state, "policy_cache", None)
    if cache is None:
        with _lock:  # one cache per app: each registers a commit hook on the database
            cache = getattr(state, "policy_cache", None)
            if cache is None:
                db: Database = state.db
                cache = PolicyCache(db)
                state.policy_cache = cache
    return cache
