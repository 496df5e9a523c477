"""Django's Redis cache with one reused client per server.

Django's RedisCacheClient pools connections but builds a new `redis.Redis` object for every call
(get, get_many, incr …). Under redis-py 8 that costs about as much as the round trip itself, and
a directory or coach page makes several calls. This client builds it once per server and reuses
it: redis.Redis is safe to share between threads (it takes a pooled connection per command).
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


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
