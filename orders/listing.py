"""The API's "my orders" pages, cached per user until one of that user's orders changes.

A page shows only columns of the user's orders (and the moves their status allows the user), so a
saved or deleted order makes its client's and coach's cached pages stale once it commits. The bulk
`.update()` in orders.services changes only `resolution_claimed_at`, which no page shows. Staff see
every order, so their pages are never cached. A write that skips the ORM's save (a shell's
`.update()`) shows within core.cache.DEFAULT_SECONDS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from core.cache import bump_version, cached_for

SCOPE = "orders:mine"
MAX_CACHED_QUERY = 200  # longer query strings are answered but not stored


def cached_page(user, query: str, host: str, compute: Callable[[], Any]) -> Any:
    """`compute()` for this user's (query, host), from the cache while none of their orders changed."""
    if user.is_staff or len(query) > MAX_CACHED_QUERY:
        return compute()
    name = "page:" + hashlib.sha256(f"{host}|{query}".encode()).hexdigest()[:32]
    return cached_for(SCOPE, user.pk, name, compute)


def order_changed(sender, instance, **kwargs) -> None:
    """post_save/post_delete of an Order: its parties' cached pages are stale now and again after commit
    (a page computed in between read the old row; core.cache.bump_version)."""
    bump_version(SCOPE, instance.client_id, instance.coach_id)
