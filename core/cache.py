"""The cache: Django's Redis backend with one reused client that degrades instead of failing while
Redis is down, and values cached per object until a service says they changed (bump_version).

Django's RedisCacheClient pools connections but builds a new `redis.Redis` object for every call
(get, get_many, incr …). Under redis-py 8 that costs about as much as the round trip itself, and
a directory or coach page makes several calls. This client builds it once per server and reuses
it: redis.Redis is safe to share between threads (it takes a pooled connection per command).

Django's RedisCache also raises on every call while Redis is unreachable, so login (allauth's rate
limits), the coach directory and the chat form answered 500. Here a failed call logs a warning (at most
every 30 s) and is served by a per-process memory cache instead: reads are misses, and counters
(allauth's rate limits, the login lockout, the chat and request limits) count per process rather than
not at all. After a failure Redis is left alone for a few seconds, so a dead or black-holed server does
not cost every call a timeout. `/ready` probes Redis itself (`ping`), so it still says 503. What is
written during an outage stays in that process. The version bumps made then (the invalidations) are kept and
sent first when Redis answers again, so what Redis cached before them is not believed afterwards; and the
process's memory is forgotten then, so nothing it kept in one outage is believed in the next (its versions did
not move meanwhile).
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")
logger = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_DEGRADING = ("add", "get", "set", "touch", "delete", "get_many", "has_key", "incr", "set_many", "delete_many", "clear")


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

    def set_many(self, data: Mapping[Any, Any], timeout: Any) -> None:  # timeout: seconds, or None for ever
        """A SET with its expiry per key, pipelined without MULTI/EXEC: Django's MSET plus one EXPIRE per key
        inside a transaction is 3 + n commands for what n SETs do (a page miss stores one entry: 4 commands,
        now 1). Each key gets its value and expiry at once; keys apart need no atomicity in a cache."""
        if timeout is not None and timeout <= 0:
            super().set_many(data, timeout)  # Django's reading of a timeout that expires at once
            return
        client = self.get_client(None, write=True)
        dumps = self._serializer.dumps  # type: ignore[attr-defined]
        if len(data) == 1:
            ((key, value),) = data.items()
            client.set(key, dumps(value), ex=timeout)
            return
        pipeline = client.pipeline(transaction=False)
        for key, value in data.items():
            pipeline.set(key, dumps(value), ex=timeout)
        pipeline.execute()

    def set_each(self, items: list[tuple[Any, Any, int | None]], script: Callable[[str], Any]) -> None:
        """(key, value, timeout) SETs of several timeouts in one round trip (core.cache.deferred_writes): one SET,
        or `script(_SET_EACH)` for several (a pipeline of n SETs cost redis-py ~200 Python calls per SET to pack
        and parse; a page miss stores 4–6 values)."""
        client = self.get_client(None, write=True)
        dumps = self._serializer.dumps  # type: ignore[attr-defined]
        if len(items) == 1:
            ((key, value, timeout),) = items
            client.set(key, dumps(value), ex=timeout)
            return
        args: list[Any] = []
        for _key, value, timeout in items:
            args += (dumps(value), -1 if timeout is None else timeout)
        script(_SET_EACH)(keys=[key for key, _value, _timeout in items], args=args)


# SET with its expiry (in seconds; -1: none) for every key, as one EVALSHA: what a pipeline of SETs does.
_SET_EACH = """
for i, key in ipairs(KEYS) do
  local seconds = tonumber(ARGV[2 * i])
  if seconds < 0 then
    redis.call('SET', key, ARGV[2 * i - 1])
  else
    redis.call('SET', key, ARGV[2 * i - 1], 'EX', seconds)
  end
end
return #KEYS
"""


# SET NX + INCR for every key, run by Redis as one EVALSHA: the same commands a pipeline would send, but
# redis-py packs and parses one command instead of 2 per key (measured: 0.09 against 0.15 ms of client
# CPU for the 4 keys of a chat message). redis-py loads the script again if the server lost it (NOSCRIPT).
_INCR_OR_START_MANY = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'EX', ARGV[2], 'NX')
  redis.call('INCR', key)
end
return #KEYS
"""


# What prefetch_for reads (core.pages: a page miss's cached_for values), as one EVALSHA: GET of every key, each of
# the first ARGV[3] (the version keys) started first where missing (SET NX, as cache.add()); then how many were.
_READ_AHEAD_MANY = """
local found, started = {}, 0
for i, key in ipairs(KEYS) do
  if i <= tonumber(ARGV[3]) and redis.call('SET', key, ARGV[1], 'EX', ARGV[2], 'NX') then
    started = started + 1
  end
  found[i] = redis.call('GET', key)
end
found[#KEYS + 1] = started
return found
"""


class RedisCache(DjangoRedisCache):
    """settings.CACHES BACKEND "core.cache.RedisCache": Django's, with the reused client, degrading to
    this process's memory while Redis is unreachable."""

    RETRY_AFTER_SECONDS = 5.0
    WARN_EVERY_SECONDS = 30.0
    MISSED_BUMPS_KEPT = 100_000  # ~10 MB of keys: hours of an outage's writes on one process

    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient
        self.fallback = LocMemCache(f"redis-fallback-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._down_until = 0.0
        self._warned_at = 0.0
        self._was_down = False
        # incr_or_start_many's keys that reached only the fallback: key → (start, timeout), sent on _back()
        self._missed_bumps: dict[str, tuple[int, int]] = {}
        self._missed_dropped = 0
        self._scripts: dict[tuple[int, str], Any] = {}  # the Lua scripts, registered once per redis-py client

    def _redis(self, key: str | None = None) -> Any:
        """The redis-py client for `key` (Django's `_cache` is untyped in the stubs)."""
        return self._cache.get_client(key, write=True)  # type: ignore[attr-defined]

    def ping(self) -> bool:
        """Ask Redis itself (never the fallback): raises while it is unreachable."""
        return bool(self._redis().ping())

    def redis_down(self) -> bool:
        return time.monotonic() < self._down_until

    def note_down(self, operation: str, exc: Exception) -> None:
        now = time.monotonic()
        self._down_until = now + self.RETRY_AFTER_SECONDS
        self._was_down = True
        if now - self._warned_at >= self.WARN_EVERY_SECONDS:
            self._warned_at = now
            logger.warning("cache: Redis unreachable (%s: %s); using this process's memory for now", operation, exc)

    def _back(self) -> None:
        """The first call to Redis after an outage, before its own command: the version bumps that reached only
        this process's memory are sent (what Redis cached before them is stale), then that memory is forgotten
        (its versions stood still while Redis's moved). Raises like any call while Redis is still away; the
        bumps are kept for the next try."""
        missed, self._missed_bumps = self._missed_bumps, {}
        try:
            keys = list(missed)
            if keys:
                start = max(start for start, _ in missed.values())
                timeout = max(timeout for _, timeout in missed.values())
                client = self._redis(self.make_and_validate_key(keys[0]))
                for first in range(0, len(keys), 1000):
                    full_keys = [self.make_and_validate_key(key) for key in keys[first : first + 1000]]
                    self._script(client, _INCR_OR_START_MANY)(keys=full_keys, args=[start, timeout])
        except BaseException:
            self._missed_bumps = {**missed, **self._missed_bumps}
            raise
        self.fallback.clear()
        self._was_down = False
        dropped, self._missed_dropped = self._missed_dropped, 0
        logger.warning(
            "cache: Redis reachable again; sent the %d version bumps made while it was away%s",
            len(keys),
            f" ({dropped} more were not kept: their objects' cached values show until they expire)" if dropped else "",
        )

    def count_in_window(self, key: str, timeout: int) -> int:
        """Add one to a counter that expires `timeout` s after its last use: INCR + EXPIRE in one round trip
        on Redis, this process's counter while Redis is down (a limit per process, never no limit)."""
        if not self.redis_down():
            try:
                if self._was_down:
                    self._back()
                full_key = self.make_and_validate_key(key)
                pipe = self._redis(full_key).pipeline()
                pipe.incr(full_key)
                pipe.expire(full_key, timeout)
                count, _ = pipe.execute()
                return int(count)
            except REDIS_DOWN as exc:
                self.note_down("count_in_window", exc)
        self.fallback.add(key, 0, timeout=timeout)
        try:
            return self.fallback.incr(key)
        except ValueError:  # expired between add and incr
            self.fallback.set(key, 1, timeout=timeout)
            return 1

    def _script(self, client: Any, source: str) -> Any:
        script = self._scripts.get((id(client), source))
        if script is None:
            script = self._scripts[(id(client), source)] = client.register_script(source)
        return script

    def set_each(self, items: Mapping[str, tuple[Any, int]]) -> None:
        """key → (value, timeout in seconds) stored in one round trip, whatever their timeouts
        (core.cache.deferred_writes); into this process's memory while Redis is down."""
        if not items:
            return
        if not self.redis_down():
            try:
                if self._was_down:
                    self._back()
                full = [
                    (self.make_and_validate_key(key), value, self.get_backend_timeout(timeout))
                    for key, (value, timeout) in items.items()
                ]
                client = self._redis(full[0][0])
                self._cache.set_each(full, lambda source: self._script(client, source))  # type: ignore[attr-defined]
                return
            except REDIS_DOWN as exc:
                self.note_down("set_each", exc)
        for key, (value, timeout) in items.items():
            self.fallback.set(key, value, timeout)

    def start_and_get_many(self, keys: list[str], start: int, timeout: int) -> dict[str, Any]:
        """add(key, start, timeout) then get(key) for every key, in one round trip: key → what is stored
        (ours, or another process's that came first). read_ahead_many with versions only."""
        return self.read_ahead_many(keys, [], start, timeout)[0] if keys else {}

    def read_ahead_many(
        self, versions: list[str], values: list[str], start: int, timeout: int
    ) -> tuple[dict[str, Any], int]:
        """get_many(versions + values), each missing version key first added at `start` (what cached_for does for
        one: add, then get), in one round trip where get_many and then the missing versions' add-and-get took two; and how many
        versions were missing."""
        keys = [*versions, *values]
        if not self.redis_down():
            try:
                if self._was_down:
                    self._back()
                full_keys = [self.make_and_validate_key(key) for key in keys]
                client = self._redis(full_keys[0])
                *found, started = self._script(client, _READ_AHEAD_MANY)(
                    keys=full_keys, args=[start, timeout, len(versions)]
                )
                loads = self._cache._serializer.loads  # type: ignore[attr-defined]
                return {key: None if raw is None else loads(raw) for key, raw in zip(keys, found, strict=True)}, int(
                    started
                )
            except REDIS_DOWN as exc:
                self.note_down("read_ahead_many", exc)
        started = sum(bool(self.fallback.add(key, start, timeout=timeout)) for key in versions)
        return {key: self.fallback.get(key) for key in keys}, started

    def incr_or_start_many(self, keys: list[str], start: int, timeout: int) -> None:
        """Add one to every key, starting a missing one at `start` (kept `timeout` s): one round trip
        for all of them (SET NX + INCR each, in one script), where Django's incr takes two per key
        (EXISTS, INCRBY). Into this process's memory while Redis is down."""
        if not keys:
            return
        if not self.redis_down():
            try:
                if self._was_down:
                    self._back()
                full_keys = [self.make_and_validate_key(key) for key in keys]
                client = self._redis(full_keys[0])
                self._script(client, _INCR_OR_START_MANY)(keys=full_keys, args=[start, timeout])
                return
            except REDIS_DOWN as exc:
                self.note_down("incr_or_start_many", exc)
        for key in keys:
            if key in self._missed_bumps or len(self._missed_bumps) < self.MISSED_BUMPS_KEPT:
                self._missed_bumps[key] = (start, timeout)
            else:
                self._missed_dropped += 1
            if not self.fallback.add(key, start + 1, timeout=timeout):
                try:
                    self.fallback.incr(key)
                except ValueError:  # expired between add and incr
                    self.fallback.set(key, start + 1, timeout=timeout)


def _degrading(name: str) -> Callable[..., Any]:
    redis_method = getattr(DjangoRedisCache, name)

    def method(self: RedisCache, *args: Any, **kwargs: Any) -> Any:
        if not self.redis_down():
            try:
                if self._was_down:
                    self._back()
                return redis_method(self, *args, **kwargs)
            except REDIS_DOWN as exc:
                self.note_down(name, exc)
        return getattr(self.fallback, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Django's RedisCache.{name}, or this process's memory cache while Redis is unreachable."
    return method


for _name in _DEGRADING:
    setattr(RedisCache, _name, _degrading(_name))


# --- per-object versions: cached values that the services make stale -----------------------

VERSION_SECONDS = 24 * 3600  # outlives every value cached under it
DEFAULT_SECONDS = 300  # a bound on staleness for writes that skip the services (bulk seeds, shell)
POLL_SECONDS = 0.02  # how often a caller waiting for another's computation looks for its result


def _version_key(scope: str, pk: int) -> str:
    return f"version:{scope}:{pk}"


def _fresh_version() -> int:
    """A start value above any an evicted key had, so an entry stamped before the eviction never matches."""
    return time.time_ns() // 1000


def _bump_keys(keys: list[str]) -> None:
    _prefetched.found = None  # this thread made versions move: what it read ahead may be stale
    incr_or_start_many = getattr(cache, "incr_or_start_many", None)  # core.cache.RedisCache
    if incr_or_start_many is not None:
        incr_or_start_many(keys, _fresh_version(), VERSION_SECONDS)
        return
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:  # never set, or evicted
            cache.set(key, _fresh_version(), VERSION_SECONDS)


def bump_version_now(scope: str, *pks: int) -> None:
    """The immediate half of bump_version, for a caller that has its own after-commit callback
    to call it from again. On Redis one round trip for all the objects."""
    _bump_keys([_version_key(scope, pk) for pk in pks])


class _AfterCommit:
    """The version keys that bump_version made stale in one transaction: bumped together, in one round
    trip, once it commits (one on_commit callback per transaction, not one per call)."""

    def __init__(self) -> None:
        self.keys: dict[str, None] = {}  # an ordered set

    def __call__(self) -> None:
        pending = getattr(_deferral, "pending", None)
        if pending:
            for key in self.keys:
                pending.pop(key, None)  # its immediate half is this bump
        _bump_keys(list(self.keys))


def _after_commit() -> _AfterCommit:
    """This transaction's _AfterCommit. One registered inside a savepoint that rolled back is gone from
    run_on_commit with it (and so are the keys of its rolled-back writes): a new one is registered."""
    for entry in transaction.get_connection().run_on_commit:
        if isinstance(entry[1], _AfterCommit):
            return entry[1]
    after_commit = _AfterCommit()
    transaction.on_commit(after_commit)
    return after_commit


_deferral = threading.local()  # .pending: the immediate halves waiting, inside deferred_bumps()


@contextmanager
def deferred_bumps() -> Iterator[None]:
    """Inside, bump_version's immediate half waits for the first cached read in this thread (which sends
    it first) or for the commit, where it joins the after-commit half: a request's bumps take one round
    trip instead of one per call and two per object. For every other reader nothing changes: until the
    commit it cannot see the transaction's rows, so a value it cached meanwhile is old either way and
    the after-commit bump makes it stale. What waits when the transaction rolls back is sent on leaving,
    as the immediate half would have been."""
    outer = getattr(_deferral, "pending", None)
    if outer is not None:
        yield
        return
    _deferral.pending = {}
    try:
        yield
    finally:
        left, _deferral.pending = _deferral.pending, None
        if left:
            _bump_keys(list(left))


def _send_deferred() -> None:
    pending = getattr(_deferral, "pending", None)
    if pending:
        keys = list(pending)
        pending.clear()
        _bump_keys(keys)


def bump_version(scope: str, *pks: int) -> None:
    """Make what is cached for these objects in `scope` stale.

    Now, so the rest of this request (and a test) reads fresh rows, and again after commit, so a
    reader that cached the old rows between the two (it could not see ours yet) is not believed. The
    after-commit halves of one transaction are sent together (_AfterCommit); inside deferred_bumps()
    the immediate half waits for this thread's next cached read or the commit."""
    keys = [_version_key(scope, pk) for pk in pks]
    if not transaction.get_connection().in_atomic_block:
        _bump_keys(keys)  # autocommit: the write is committed already
        return
    pending = getattr(_deferral, "pending", None)
    if pending is None:
        _bump_keys(keys)
    else:
        pending.update(dict.fromkeys(keys))
    _after_commit().keys.update(dict.fromkeys(keys))


def bump_after_commit(scope: str, *pks: int) -> None:
    """Make what is cached for these objects stale once the transaction commits (now, outside one):
    for values that nothing reads inside the writing transaction. With its other bumps, once per key."""
    keys = [_version_key(scope, pk) for pk in pks]
    if not transaction.get_connection().in_atomic_block:
        _bump_keys(keys)
        return
    _after_commit().keys.update(dict.fromkeys(keys))


# --- reading ahead: a page's cached_for values in one round trip -----------------------------------

# .found: values read ahead by prefetch_for (key → value, None for a miss), each handed out once; None when
# this thread has bumped a version since. .reads: the (scope, pk, name) cached_for read, while recording.
_prefetched = threading.local()


def prefetch_for(wanted: Iterable[tuple[str, int, str]]) -> None:
    """Read what cached_for(scope, pk, name) will read for each of `wanted`, in one round trip; each
    cached_for call then finds its two keys here (once) instead of asking Redis. Reading early is reading
    a moment before: the same answer another process's write could have made stale anyway. This thread's own
    bumps are sent first (as cached_for does), and any later bump of this thread drops what was read."""
    keys: dict[str, None] = {}  # an ordered set: values of one object share its version key
    for scope, pk, name in wanted:
        keys.update(dict.fromkeys([_version_key(scope, pk), f"{scope}:{pk}:{name}"]))
    if not keys:
        return
    _send_deferred()
    read_ahead_many = getattr(cache, "read_ahead_many", None)  # core.cache.RedisCache
    if read_ahead_many is None:
        found = cache.get_many(list(keys))  # a missing version: cached_for adds it
    else:
        # the values, and what cached_for does for a missing version (add, then get), in one round trip
        versions = [key for key in keys if key.startswith("version:")]
        values = [key for key in keys if not key.startswith("version:")]
        found, _started = read_ahead_many(versions, values, _fresh_version(), VERSION_SECONDS)
    _prefetched.found = {key: found.get(key) for key in keys}


def end_prefetch() -> None:
    _prefetched.found = None


def missing_ahead(scope: str, pk: int, name: str, timeout: int = DEFAULT_SECONDS) -> Callable[[Any], None] | None:
    """On a page miss that read cached_for(scope, pk, name) ahead (prefetch_for, inside deferred_writes) and found
    no value under its version, so will compute it: a function that keeps `value` for that cached_for call, stored
    with the miss's writes under the version read ahead (cached_for finds it held). For a value that one statement
    computing another value can compute too (the bell's count and the banner's verified email: one statement where
    a miss sent two). None otherwise: cached_for computes it itself.

    Safe as cached_for is: the version was read before the statement runs (a write after it bumps the version,
    and what is kept here is then stale), and `timeout` must be the one cached_for is given."""
    found = getattr(_prefetched, "found", None)
    if not found or getattr(_writes, "pending", None) is None or getattr(_deferral, "pending", None):
        return None  # nothing read ahead, nowhere to hold it, or this thread's bumps not sent yet
    version_key, value_key = _version_key(scope, pk), f"{scope}:{pk}:{name}"
    if version_key not in found or value_key not in found:
        return None  # not read ahead, or cached_for has read it already
    version = found[version_key]
    if version is None:  # a cache without read_ahead_many: started here as cached_for would, and read by it
        start = _fresh_version()
        version = found[version_key] = (
            start if cache.add(version_key, start, VERSION_SECONDS) else cache.get(version_key)
        )
        if version is None:
            return None
    for entry in (found[value_key], _held(value_key)):
        if entry is not None and entry[0] == version:
            return None  # cached: nothing to compute

    def keep(value: Any) -> None:
        if getattr(_prefetched, "found", None) is found:  # no bump of this thread since: the version holds
            store(value_key, (version, value), timeout)
            if value_key in found:
                found[value_key] = (version, value)  # in place of the stale entry read ahead, which cached_for takes

    return keep


@contextmanager
def recorded_reads() -> Iterator[list[tuple[str, int, str]]]:
    """The (scope, pk, name) of every cached_for call inside, in order."""
    outer = getattr(_prefetched, "reads", None)
    reads: list[tuple[str, int, str]] = []
    _prefetched.reads = reads
    try:
        yield reads
    finally:
        _prefetched.reads = outer
        if outer is not None:
            outer.extend(reads)


def _read_ahead(version_key: str, value_key: str) -> dict[str, Any] | None:
    found = getattr(_prefetched, "found", None)
    if not found or version_key not in found or value_key not in found:
        return None
    # the value once (a second read of it sees what the first stored); the version for every value under it
    return {version_key: found[version_key], value_key: found.pop(value_key)}


def cached_for(
    scope: str, pk: int, name: str, compute: Callable[[], T], timeout: int = DEFAULT_SECONDS, *, wait: float = 0
) -> T:
    """`compute()`, cached for one object (a user) until bump_version(scope, pk): one round trip on a hit.

    `wait` > 0, for a value that is slow to compute and asked by many at once (the staff figures): on a
    miss only one caller computes it; the others poll for its result, stamped with the version they
    read (never an older one), for up to `wait` seconds, then compute it themselves."""
    _send_deferred()  # this thread's own bumps first: its reads see its writes
    version_key, value_key = _version_key(scope, pk), f"{scope}:{pk}:{name}"
    reads = getattr(_prefetched, "reads", None)
    if reads is not None:
        reads.append((scope, pk, name))
    found = _read_ahead(version_key, value_key)
    if found is None:
        found = cache.get_many([version_key, value_key])
    version = found.get(version_key)
    if version is None:
        start = _fresh_version()
        # add() stored ours, or another process's came first (then it is read)
        version = start if cache.add(version_key, start, VERSION_SECONDS) else cache.get(version_key)
    entry = found.get(value_key)
    if entry is None:
        entry = _held(value_key)  # stored by this thread a moment ago, not yet sent (deferred_writes)
    if entry is not None and entry[0] == version:
        return entry[1]
    if wait > 0 and not cache.add(f"{value_key}:computing:{version}", 1, int(wait) + 1):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            entry = cache.get(value_key)
            if entry is not None and entry[0] == version:
                return entry[1]
    value = compute()
    if wait > 0:
        cache.set(value_key, (version, value), timeout)  # others poll for it now
    else:
        store(value_key, (version, value), timeout)
    return value


# --- writes deferred to the end of a page ------------------------------------------------------------

_writes = threading.local()  # .pending: key → (value, timeout) stored inside deferred_writes(), not yet sent


@contextmanager
def deferred_writes() -> Iterator[None]:
    """Inside, store() and store_many() wait and are sent together on leaving, in one round trip (a page's
    miss stores its cached_for values, its fragments and the page itself: one pipeline instead of one each).
    Storing a value a moment later is safe as storing it at once is: it is stamped with the version it was
    computed under, and any bump meanwhile makes it stale. This thread's own reads find what waits (held)."""
    if getattr(_writes, "pending", None) is not None:
        yield
        return
    pending: dict[str, tuple[Any, int]] = {}
    _writes.pending = pending
    try:
        yield
    finally:
        _writes.pending = None
        if pending:
            _set_each(pending)


def _set_each(items: dict[str, tuple[Any, int]]) -> None:
    set_each = getattr(cache, "set_each", None)  # core.cache.RedisCache
    if set_each is not None:
        set_each(items)
        return
    by_timeout: dict[int, dict[str, Any]] = {}
    for key, (value, timeout) in items.items():
        by_timeout.setdefault(timeout, {})[key] = value
    for timeout, data in by_timeout.items():
        cache.set_many(data, timeout)


def store(key: str, value: Any, timeout: int) -> None:
    """cache.set(key, value, timeout), sent with the others at the end of deferred_writes() inside one."""
    pending = getattr(_writes, "pending", None)
    if pending is None:
        cache.set(key, value, timeout)
    else:
        pending[key] = (value, timeout)


def store_many(data: Mapping[str, Any], timeout: int) -> None:
    """cache.set_many(data, timeout), deferred as store() is."""
    pending = getattr(_writes, "pending", None)
    if pending is None:
        cache.set_many(dict(data), timeout)
    else:
        pending.update((key, (value, timeout)) for key, value in data.items())


def _held(key: str) -> Any:
    pending = getattr(_writes, "pending", None)
    return pending[key][0] if pending and key in pending else None


def held_many(keys: Iterable[str]) -> dict[str, Any]:
    """What this thread stored under these keys inside deferred_writes() and has not sent yet."""
    pending = getattr(_writes, "pending", None)
    if not pending:
        return {}
    return {key: pending[key][0] for key in keys if key in pending}
