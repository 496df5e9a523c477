"""The cache: one reused Redis client, and per-object values that a bump makes stale."""

import pytest
from django.conf import settings
from django.core.cache import cache

from conftest import require_service
from core.cache import _version_key, bump_version, cached_for


def test_the_redis_client_is_built_once_and_reused():
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    backend = cache._cache
    assert backend.get_client() is backend.get_client()
    assert backend.get_client(write=True) is backend.get_client(write=True)
    cache.set("core-cache-probe", 42, 10)
    assert cache.get("core-cache-probe") == 42


@pytest.mark.django_db
def test_a_value_is_computed_once_until_its_object_is_bumped():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert cached_for("probe", 7, "n", compute) == 1
    assert cached_for("probe", 7, "n", compute) == 1
    assert cached_for("probe", 8, "n", compute) == 2  # another object: its own value
    bump_version("probe", 7)
    assert cached_for("probe", 7, "n", compute) == 3


@pytest.mark.django_db
def test_an_evicted_version_never_revives_an_old_value():
    cached_for("probe", 9, "n", lambda: "old")
    cache.delete(_version_key("probe", 9))
    assert cached_for("probe", 9, "n", lambda: "new") == "new"
