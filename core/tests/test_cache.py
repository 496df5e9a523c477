"""The cache: one reused Redis client, and per-object values that a bump makes stale."""

import hashlib
import threading
import time

import pytest
from django.conf import settings
from django.core.cache import cache, caches

from conftest import require_service
from core.cache import (
    _READ_AHEAD_MANY,
    _SET_EACH,
    _version_key,
    bump_version,
    bump_version_now,
    cached_for,
    deferred_writes,
    end_prefetch,
    missing_ahead,
    prefetch_for,
    recorded_reads,
    store,
    store_many,
)


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


def test_bumping_several_objects_is_one_redis_round_trip_and_makes_each_stale(monkeypatch):
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    bump_version_now("probe", 10)  # the script is loaded on this server (by now, or by an earlier test)
    for pk in (11, 12):
        cached_for("probe", pk, "n", lambda: "old")
    cache.delete(_version_key("probe", 12))  # one evicted, one live: both must end stale
    trips = _counting_trips(monkeypatch)
    bump_version_now("probe", 11, 12)
    monkeypatch.undo()

    assert trips == ["bump 2 keys"]
    assert cached_for("probe", 11, "n", lambda: "new") == "new"
    assert cached_for("probe", 12, "n", lambda: "new") == "new"


def test_a_bump_after_redis_lost_its_scripts_loads_the_script_again_and_still_makes_values_stale():
    """A restarted Redis (or SCRIPT FLUSH) no longer knows the bump script: redis-py gets NOSCRIPT, loads it
    and runs it again. Without that, every bump would fail over to this process's memory."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    redis_cache = caches["default"]
    cached_for("probe", 14, "n", lambda: "old")
    bump_version_now("probe", 15)  # registered and loaded
    redis_cache._redis().script_flush()
    bump_version_now("probe", 14)
    assert not redis_cache.redis_down()
    assert cached_for("probe", 14, "n", lambda: "new") == "new"


def test_bumps_while_redis_is_down_still_make_this_process_values_stale():
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    redis_cache = caches["default"]
    redis_cache._down_until = float("inf")  # as after a failed call: the fallback serves
    try:
        cached_for("probe", 13, "n", lambda: "old")
        bump_version_now("probe", 13)
        bump_version_now("probe", 13)
        assert cached_for("probe", 13, "n", lambda: "new") == "new"
    finally:
        redis_cache._down_until = 0.0


@pytest.mark.django_db
def test_a_slow_value_asked_at_once_is_computed_once_and_shared():
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return "fresh"

    def ask():
        results.append(cached_for("probe", 10, "slow", slow, wait=5))

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert results == ["fresh"] * 4
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_waiter_never_takes_a_value_of_an_older_version_and_computes_after_its_wait():
    cached_for("probe", 11, "slow", lambda: "old")
    bump_version("probe", 11)
    version = cache.get(_version_key("probe", 11))
    cache.add(f"probe:11:slow:computing:{version}", 1, 5)  # another caller is computing, and never finishes
    started = time.monotonic()
    assert cached_for("probe", 11, "slow", lambda: "new", wait=0.2) == "new"
    assert time.monotonic() - started >= 0.2


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def _counting_trips(monkeypatch) -> list[str]:
    from redis.client import Pipeline, Redis

    trips: list[str] = []
    for script in (_SET_EACH, _READ_AHEAD_MANY):  # known to Redis, as after a first use: one EVALSHA each
        cache._redis().script_load(script)  # type: ignore[attr-defined]  # core.cache.RedisCache
    command, pipeline = Redis.execute_command, Pipeline.execute

    def counted_command(self, *args, **kwargs):
        if args[0] == "EVALSHA":  # core.cache's scripts: the writes, the read-ahead, or the versions'
            script = {_sha(_SET_EACH): "set", _sha(_READ_AHEAD_MANY): "read ahead"}.get(args[1], "bump")
            trips.append(f"{script} {args[2]} keys")
        else:
            trips.append(args[0])
        return command(self, *args, **kwargs)

    def counted_pipeline(self, *args, **kwargs):
        trips.append("pipeline")
        return pipeline(self, *args, **kwargs)

    monkeypatch.setattr(Redis, "execute_command", counted_command)
    monkeypatch.setattr(Pipeline, "execute", counted_pipeline)
    return trips


@pytest.mark.django_db(transaction=True)
def test_a_transactions_bumps_go_in_one_round_trip_after_commit_and_its_own_reads_see_them(monkeypatch):
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    from django.db import transaction

    from core.cache import deferred_bumps

    for scope, pk in (("probe-a", 21), ("probe-b", 22)):
        cached_for(scope, pk, "n", lambda: "old")
    committed = cache.get(_version_key("probe-a", 21))
    trips = _counting_trips(monkeypatch)
    with deferred_bumps(), transaction.atomic():
        bump_version("probe-a", 21)
        bump_version("probe-b", 22)
        bump_version("probe-a", 21)
        assert trips == []  # nothing sent yet: no reader outside can see the transaction's rows
        assert cached_for("probe-a", 21, "n", lambda: "mine") == "mine"  # its own read sends them first
        assert trips[0] == "bump 2 keys" and cache.get(_version_key("probe-a", 21)) != committed
        trips.clear()
        bump_version("probe-b", 22)
    assert trips == ["bump 2 keys"]  # every key once, after the commit
    monkeypatch.undo()
    assert cached_for("probe-b", 22, "n", lambda: "new") == "new"


@pytest.mark.django_db(transaction=True)
def test_deferred_bumps_of_a_rolled_back_transaction_are_still_sent(monkeypatch):
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    from django.db import transaction

    from core.cache import deferred_bumps

    cached_for("probe-c", 23, "n", lambda: "old")
    trips = _counting_trips(monkeypatch)
    with deferred_bumps():
        with pytest.raises(RuntimeError), transaction.atomic():
            bump_version("probe-c", 23)
            raise RuntimeError("rolled back")
        assert trips == []
    assert trips == ["bump 1 keys"]  # as the immediate half would have been
    monkeypatch.undo()
    assert cached_for("probe-c", 23, "n", lambda: "new") == "new"


def test_set_many_is_one_set_per_key_each_with_its_expiry(monkeypatch):
    """Not Django's MULTI, MSET, EXPIRE per key, EXEC: one SET … EX per key, one round trip for all."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    from redis.client import Pipeline, Redis

    sent = []
    command, pipeline = Redis.execute_command, Pipeline.execute
    monkeypatch.setattr(Redis, "execute_command", lambda self, *a, **k: sent.append(a) or command(self, *a, **k))
    monkeypatch.setattr(
        Pipeline, "execute", lambda self, *a, **k: sent.append([c[0] for c in self.command_stack]) or pipeline(self)
    )
    cache.set_many({"set-many-one": {"page": 1}}, 30)
    cache.set_many({"set-many-a": "a", "set-many-b": ["b"]}, 40)
    cache.set_many({"set-many-forever": 1}, None)
    monkeypatch.undo()

    one, many, forever = sent
    assert one[0] == "SET" and one[-2:] == ("EX", 30)
    assert [args[0] for args in many] == ["SET", "SET"] and all(args[-2:] == ("EX", 40) for args in many)
    assert forever[0] == "SET" and "EX" not in forever
    assert cache.get_many(["set-many-one", "set-many-a", "set-many-b", "set-many-forever"]) == {
        "set-many-one": {"page": 1},
        "set-many-a": "a",
        "set-many-b": ["b"],
        "set-many-forever": 1,
    }
    redis = cache._cache.get_client(write=True)
    assert 25 < redis.ttl(cache.make_and_validate_key("set-many-one")) <= 30
    assert 35 < redis.ttl(cache.make_and_validate_key("set-many-b")) <= 40
    assert redis.ttl(cache.make_and_validate_key("set-many-forever")) == -1
    cache.set_many({"set-many-one": 2}, 0)  # Django's "expires at once"
    assert cache.get("set-many-one") is None


@pytest.mark.django_db
def test_values_read_ahead_come_in_one_round_trip_and_are_what_cached_for_reads(monkeypatch):
    """prefetch_for: one read (a script) for every value (shared version keys once); cached_for then asks Redis
    nothing for them, and returns what it returns without it: a hit, a stale value recomputed, a missing one."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    cached_for("ahead", 7, "a", lambda: "first a")
    cached_for("ahead", 7, "b", lambda: "first b")
    cached_for("ahead", 8, "c", lambda: "old c")
    bump_version_now("ahead", 8)  # c is stale now
    trips = _counting_trips(monkeypatch)
    with recorded_reads() as reads:
        prefetch_for([("ahead", 7, "a"), ("ahead", 7, "b"), ("ahead", 8, "c"), ("ahead", 9, "d")])
        assert trips == ["read ahead 7 keys"]  # 3 versions, 4 values; d's missing version started and read back
        assert cached_for("ahead", 7, "a", lambda: "new a") == "first a"
        assert cached_for("ahead", 7, "b", lambda: "new b") == "first b"
        assert cached_for("ahead", 8, "c", lambda: "new c") == "new c"
        assert cached_for("ahead", 9, "d", lambda: "new d") == "new d"
        assert cached_for("ahead", 7, "a", lambda: "again") == "first a"  # read once ahead: Redis now
    end_prefetch()
    assert reads == [("ahead", 7, "a"), ("ahead", 7, "b"), ("ahead", 8, "c"), ("ahead", 9, "d"), ("ahead", 7, "a")]
    # reads only: the read ahead (d's missing version started and read back in its script), a's second read
    assert [t for t in trips if t in ("MGET", "GET") or t.startswith("read ahead")] == ["read ahead 7 keys", "MGET"]


@pytest.mark.django_db
def test_a_bump_of_this_thread_drops_what_was_read_ahead():
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    cached_for("ahead", 17, "a", lambda: "before")
    prefetch_for([("ahead", 17, "a")])
    bump_version_now("ahead", 17)  # a write of this request, after the read ahead
    assert cached_for("ahead", 17, "a", lambda: "after") == "after"
    end_prefetch()


@pytest.mark.django_db
def test_missing_versions_read_ahead_are_started_and_read_in_one_round_trip(monkeypatch):
    """Objects never seen in this cache namespace have no version: read ahead, their SET NX and the reading back
    of what is stored go in one script for all of them (cached_for then asks Redis nothing for them); a version
    another process set first is the one read back."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    cache.set("version:fresh:32", 5, 60)  # set first by another process: not replaced
    trips = _counting_trips(monkeypatch)
    prefetch_for([("fresh", 31, "a"), ("fresh", 32, "b"), ("fresh", 33, "c")])
    assert trips == ["read ahead 6 keys"]  # one script: the values, the two missing versions started
    for pk, name in ((31, "a"), (32, "b"), (33, "c")):
        assert cached_for("fresh", pk, name, lambda name=name: f"new {name}") == f"new {name}"
    end_prefetch()
    monkeypatch.undo()
    assert set(trips[1:]) == {"SET"}  # the three values stored; no read, no SET NX
    assert cache.get("version:fresh:32") == 5
    versions = cache.get_many(["version:fresh:31", "version:fresh:33"])
    assert len(versions) == 2 and all(isinstance(v, int) for v in versions.values())
    assert cache.get("fresh:32:b") == (5, "new b")  # stamped with the version read back
    assert cache.get("fresh:31:a") == (versions["version:fresh:31"], "new a")


@pytest.mark.django_db
def test_a_version_cached_for_starts_is_not_read_back(monkeypatch):
    """A missing version outside a read-ahead: SET NX, and when it stored ours, no GET to read it back."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    trips = _counting_trips(monkeypatch)
    assert cached_for("fresh", 41, "a", lambda: "a") == "a"
    monkeypatch.undo()
    assert trips == ["MGET", "SET", "SET"]  # the read, the version's SET NX, the value
    assert cached_for("fresh", 41, "a", lambda: "again") == "a"


@pytest.mark.django_db
def test_deferred_writes_go_in_one_round_trip_each_with_its_expiry_and_this_thread_reads_them(monkeypatch):
    """Inside deferred_writes() cached_for's values and store()/store_many() wait; leaving sends them in one
    round trip (one script), each key with its own expiry, or none. Meanwhile this thread's cached_for finds what
    waits (no compute)."""
    require_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL")
    cached_for("deferred", 51, "warm", lambda: "warm")  # the version exists: no SET NX below
    trips = _counting_trips(monkeypatch)
    with deferred_writes():
        assert cached_for("deferred", 51, "a", lambda: "a", timeout=100) == "a"
        assert cached_for("deferred", 51, "a", lambda: "computed twice") == "a"
        store("deferred-page", {"html": "<p>"}, 30)
        store_many({"deferred-x": "x", "deferred-y": "y"}, 200)
        with deferred_writes():  # nested: the outer one sends
            store("deferred-inner", 1, 50)
        store("deferred-forever", 2, None)  # Django's None: no expiry
        assert not [trip for trip in trips if trip.startswith("set ") or trip in ("SET", "pipeline")]
    monkeypatch.undo()
    assert trips[-1] == "set 6 keys" and not [trip for trip in trips[:-1] if trip.startswith("set ") or trip == "SET"]
    assert "pipeline" not in trips
    redis = cache._cache.get_client(write=True)
    ttls = {
        key: redis.ttl(cache.make_and_validate_key(key))
        for key in ("deferred:51:a", "deferred-page", "deferred-x", "deferred-forever")
    }
    assert 95 < ttls["deferred:51:a"] <= 100 and 25 < ttls["deferred-page"] <= 30 and 195 < ttls["deferred-x"] <= 200
    assert ttls["deferred-forever"] == -1
    assert cache.get_many(["deferred-page", "deferred-y", "deferred-inner", "deferred-forever"]) == {
        "deferred-page": {"html": "<p>"},
        "deferred-y": "y",
        "deferred-inner": 1,
        "deferred-forever": 2,
    }
    assert cached_for("deferred", 51, "a", lambda: "not cached") == "a"


@pytest.mark.django_db
def test_a_value_computed_inside_deferred_writes_is_stale_after_a_bump_meanwhile():
    """Sent late, a value keeps the version it was computed under: a bump before it is sent makes it stale."""
    with deferred_writes():
        assert cached_for("deferred", 61, "a", lambda: "old") == "old"
        bump_version_now("deferred", 61)
        assert cached_for("deferred", 61, "a", lambda: "new") == "new"
    assert cached_for("deferred", 61, "a", lambda: "newer") == "new"
    with deferred_writes():
        assert cached_for("deferred", 62, "a", lambda: "old") == "old"
    bump_version_now("deferred", 62)
    assert cached_for("deferred", 62, "a", lambda: "new") == "new"


def test_a_value_missing_ahead_kept_by_another_statement_is_what_cached_for_returns_and_stores():
    """missing_ahead: inside a page miss's read-ahead, a value found missing can be kept by whatever computed it with
    another value; cached_for then returns it without computing, and a later reader finds it stored."""
    with deferred_writes():
        prefetch_for([("together", 71, "a"), ("together", 72, "b")])
        keep = missing_ahead("together", 71, "a")
        assert keep is not None
        keep("kept a")
        assert cached_for("together", 71, "a", lambda: pytest.fail("computed, though kept")) == "kept a"
        assert missing_ahead("together", 71, "a") is None  # read by cached_for: nothing left to keep
        end_prefetch()
    assert cached_for("together", 71, "a", lambda: "computed") == "kept a"


def test_a_value_kept_in_place_of_a_stale_one_read_ahead_is_what_cached_for_returns():
    cached_for("together", 79, "a", lambda: "old")
    bump_version_now("together", 79)  # stale now: read ahead, it is an entry of another version
    with deferred_writes():
        prefetch_for([("together", 79, "a")])
        keep = missing_ahead("together", 79, "a")
        assert keep is not None
        keep("kept")
        assert cached_for("together", 79, "a", lambda: pytest.fail("computed, though kept")) == "kept"
        end_prefetch()
    assert cached_for("together", 79, "a", lambda: "computed") == "kept"


def test_nothing_is_missing_ahead_outside_a_page_miss_or_once_cached():
    assert missing_ahead("together", 73, "a") is None  # nothing read ahead
    prefetch_for([("together", 73, "a")])
    assert missing_ahead("together", 73, "a") is None  # read ahead, but no page miss's writes to hold it
    end_prefetch()
    cached_for("together", 74, "a", lambda: "cached")
    with deferred_writes():
        prefetch_for([("together", 74, "a"), ("together", 75, "a")])
        assert missing_ahead("together", 74, "a") is None  # a hit: nothing to compute
        assert missing_ahead("together", 76, "a") is None  # not read ahead
        assert missing_ahead("together", 75, "a") is not None
        end_prefetch()


def test_a_value_kept_after_a_bump_of_this_thread_is_not_believed():
    """Kept under the version read ahead: once this thread bumps it, the kept value is dropped and computed afresh."""
    cached_for("together", 77, "a", lambda: "old")
    bump_version_now("together", 77)
    with deferred_writes():
        prefetch_for([("together", 77, "a")])
        keep = missing_ahead("together", 77, "a")
        assert keep is not None
        bump_version_now("together", 77)  # a write of this request, after the read ahead
        keep("computed before the write")
        assert cached_for("together", 77, "a", lambda: "after") == "after"
        end_prefetch()
    assert cached_for("together", 77, "a", lambda: "again") == "after"


def test_a_value_kept_under_a_version_another_process_bumped_meanwhile_is_stale():
    with deferred_writes():
        prefetch_for([("together", 78, "a")])
        keep = missing_ahead("together", 78, "a")
        assert keep is not None
        keep("kept")
        end_prefetch()
    bump_version_now("together", 78)  # another writer, after the statement
    assert cached_for("together", 78, "a", lambda: "fresh") == "fresh"
