"""Redis going away and coming back under a running process (a real outage: the connection is cut between the
app and a real Redis): what was made stale while it was away is still stale when it is back, and nothing this
process kept in memory during one outage is believed in the next."""

import pytest

from core.cache import bump_version, cached_for
from core.tests.tcp_proxy import redis_outage

pytestmark = [pytest.mark.django_db, pytest.mark.faults]


@pytest.fixture
def outage(monkeypatch):
    with redis_outage(monkeypatch) as proxy:
        yield proxy


def counter():
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return compute


def test_a_bump_made_while_redis_was_away_still_counts_when_it_is_back(outage):
    compute = counter()
    assert cached_for("outage", 1, "n", compute) == 1  # stored in Redis
    assert cached_for("outage", 1, "n", compute) == 1

    outage.cut()
    bump_version("outage", 1)  # a write while Redis is away: the bump reaches only this process's memory
    assert cached_for("outage", 1, "n", compute) == 2

    outage.restore()
    assert cached_for("outage", 1, "n", compute) == 3  # Redis's copy was made before the write: not believed
    assert cached_for("outage", 1, "n", compute) == 3


def test_what_one_outage_kept_in_memory_is_not_believed_in_the_next(outage):
    compute = counter()
    outage.cut()
    assert cached_for("outage", 2, "n", compute) == 1  # kept in this process's memory

    outage.restore()
    bump_version("outage", 2)  # a write while Redis is back: the bump reaches Redis only
    assert cached_for("outage", 2, "n", compute) == 2

    outage.cut()
    assert cached_for("outage", 2, "n", compute) == 3  # not the first outage's 1
