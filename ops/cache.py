"""The cache backends (core.cache.RedisCache, Django's LocMemCache), counting hits and misses (Django's cache sends no signal to count them by)."""

from __future__ import annotations

from django.core.cache.backends.locmem import LocMemCache

from core import metrics
from core.cache import RedisCache

_MISSING = object()


class _CountedGet:
    """Counts every get; the rest of the backend is untouched."""

    def get(self, key, default=None, version=None):
        value = super().get(key, _MISSING, version=version)
        if value is _MISSING:
            metrics.CACHE_REQUESTS.labels("miss").inc()
            return default
        metrics.CACHE_REQUESTS.labels("hit").inc()
        return value


class _CountedGetMany:
    """RedisCache reads many keys in one round trip (BaseCache's get_many calls get, counted already)."""

    def get_many(self, keys, version=None):
        keys = list(keys)
        found = super().get_many(keys, version=version)
        if found:
            metrics.CACHE_REQUESTS.labels("hit").inc(len(found))
        if len(keys) > len(found):
            metrics.CACHE_REQUESTS.labels("miss").inc(len(keys) - len(found))
        return found


class _CountedReadAhead:
    """core.pages' read-ahead (core.cache.prefetch_for): counted as the get_many it replaces was, a version key
    it had to start as a miss."""

    def read_ahead_many(self, versions, values, start, timeout):
        found, started = super().read_ahead_many(versions, values, start, timeout)
        missed = started + sum(found.get(key) is None for key in values)
        if len(versions) + len(values) > missed:
            metrics.CACHE_REQUESTS.labels("hit").inc(len(versions) + len(values) - missed)
        if missed:
            metrics.CACHE_REQUESTS.labels("miss").inc(missed)
        return found, started


class CountedRedisCache(_CountedGet, _CountedGetMany, _CountedReadAhead, RedisCache):
    pass


class CountedLocMemCache(_CountedGet, LocMemCache):
    pass
