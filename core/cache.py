"""The cache: Django's Redis backend with one reused client, and values cached per object
until a service says they changed (bump_version).

Django's RedisCacheClient pools connections but builds a new `redis.Redis` object for every call
(get, get_many, incr …). Under redis-py 8 that costs about as much as the round trip itself, and
a directory or coach page makes several calls. This client builds it once per server and reuses
it: redis.Redis is safe to share between threads (it takes a pooled connection per command).
"""

import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.db import transaction

T = TypeVar("T")


class ReusedRedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: str | bytes | memoryview | None = None, *, write: bool = False) -> Any:
        """One client for writes and one for reads. With several servers the reads of a process
        stay on the replica it first picked (processes spread over them), as a pool would."""
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class RedisCache(DjangoRedisCache):
    """settings.CACHES BACKEND "core.cache.RedisCache": Django's, with the reused client."""

    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient


# --- per-object versions: cached values that the services make stale -----------------------

VERSION_SECONDS = 24 * 3600  # outlives every value cached under it
DEFAULT_SECONDS = 300  # a bound on staleness for writes that skip the services (bulk seeds, shell)


def _version_key(scope: str, pk: int) -> str:
    return f"version:{scope}:{pk}"


def _fresh_version() -> int:
    """A start value above any an evicted key had, so an entry stamped before the eviction never matches."""
    return time.time_ns() // 1000


def bump_version_now(scope: str, *pks: int) -> None:
    """The immediate half of bump_version, for a caller that has its own after-commit callback
    to call it from again."""
    for pk in pks:
        try:
            cache.incr(_version_key(scope, pk))
        except ValueError:  # never set, or evicted
            cache.set(_version_key(scope, pk), _fresh_version(), VERSION_SECONDS)


def bump_version(scope: str, *pks: int) -> None:
    """Make what is cached for these objects in `scope` stale.

    Now, so the rest of this request (and a test) reads fresh rows, and again after commit, so a
    reader that cached the old rows between the two (it could not see ours yet) is not believed."""
    bump_version_now(scope, *pks)
    transaction.on_commit(lambda: bump_version_now(scope, *pks))


def cached_for(scope: str, pk: int, name: str, compute: Callable[[], T], timeout: int = DEFAULT_SECONDS) -> T:
    """`compute()`, cached for one object (a user) until bump_version(scope, pk): one round trip on a hit."""
    version_key, value_key = _version_key(scope, pk), f"{scope}:{pk}:{name}"
    found = cache.get_many([version_key, value_key])
    version = found.get(version_key)
    if version is None:
        cache.add(version_key, _fresh_version(), VERSION_SECONDS)
        version = cache.get(version_key)
    entry = found.get(value_key)
    if entry is not None and entry[0] == version:
        return entry[1]
    value = compute()
    cache.set(value_key, (version, value), timeout)
    return value
