"""The counters behind every limit: fixed windows in memory, swept now and then; Redis, with the
process's memory standing in while it fails; a Redis count that lost its expiry is not kept."""

from __future__ import annotations

import uuid

import pytest
from coredis import Redis
from limits import parse

from audittrail import throttle
from audittrail.throttle import REDIS_RETRY_SECONDS, SWEEP_SECONDS, Counters, MemoryWindows
from tests.throttle.conftest import Warnings


class Clock:
    """Stands in for the time module in throttle.py."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1000.0)
    monkeypatch.setattr(throttle, "time", clock)
    return clock


async def test_memory_windows_count_end_and_are_swept(clock: Clock) -> None:
    windows = MemoryWindows()
    assert [await windows.incr("a", 10) for _ in range(3)] == [1, 2, 3]
    assert (await windows.get("a"), await windows.get_expiry("a")) == (3, 1010.0)
    clock.now = 1009.5
    assert await windows.incr("a", 10) == 4  # the window runs from its first count
    clock.now = 1010.0
    assert (await windows.get("a"), await windows.get_expiry("a")) == (0, 1010.0)
    assert await windows.incr("a", 10) == 1
    assert await windows.get_expiry("a") == 1020.0
    await windows.incr("b", 1)
    await windows.clear("a")
    assert await windows.get("a") == 0

    await windows.incr("a", 10)
    clock.now = 1021.0 + SWEEP_SECONDS
    await windows.incr("c", 5)
    assert set(windows.windows) == {"c"}  # ended windows do not pile up


async def test_while_redis_fails_memory_counts_and_redis_is_retried_later(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    warnings = Warnings()
    monkeypatch.setattr(throttle, "log", warnings)
    counters = Counters("redis://127.0.0.1:1/0", "unreachable")
    item = parse("2/minute")
    assert [await counters.hit(item, "k") for _ in range(3)] == [True, True, False]
    assert len(warnings.events) == 1  # not tried again on every count
    clock.now += REDIS_RETRY_SECONDS
    assert await counters.hit(item, "k") is False
    assert len(warnings.events) == 2
    counters.close()


async def test_a_redis_count_without_an_end_is_cleared(redis_url: str) -> None:
    """limits sets a Redis count's expiry in a second command: a count that missed it would
    refuse for good, so a spent window that never ends is started afresh."""
    prefix = f"audittrail-test-{uuid.uuid4().hex}"
    counters = Counters(redis_url, prefix)
    item = parse("2/minute")
    key = item.key_for("login-failures", "account", "a@example.com")
    redis = Redis.from_url(redis_url)
    try:
        await redis.set(f"{prefix}:{key}", "2")  # as if EXPIRE never came
        assert (
            await counters.spent_until(item, "login-failures", "account", "a@example.com") is None
        )
        assert await redis.exists([f"{prefix}:{key}"]) == 0
        await counters.add(item, "login-failures", "account", "a@example.com")
        assert 0 < await redis.ttl(f"{prefix}:{key}") <= 60
    finally:
        await redis.delete([f"{prefix}:{key}"])
        redis.connection_pool.disconnect()
        counters.close()


async def test_a_slot_given_back_is_uncounted_in_memory_never_below_nothing(clock: Clock) -> None:
    counters = Counters()
    item = parse("2/minute")
    assert [await counters.add(item, "k") for _ in range(3)] == [1, 2, 3]
    await counters.give_back(item, "k")
    assert await counters.spent_until(item, "k") == 1060.0  # 2 of 2: still spent
    await counters.give_back(item, "k")
    assert await counters.spent_until(item, "k") is None
    clock.now = 1060.0  # the window ends while a slot is out: nothing to give back
    await counters.give_back(item, "k")
    assert [await counters.add(item, "k") for _ in range(3)] == [1, 2, 3]


async def test_a_slot_given_back_is_uncounted_in_redis_never_below_nothing(redis_url: str) -> None:
    prefix = f"audittrail-test-{uuid.uuid4().hex}"
    counters = Counters(redis_url, prefix)
    item = parse("2/minute")
    try:
        await counters.add(item, "k")
        await counters.give_back(item, "k")
        await counters.give_back(item, "k")  # as if its window had ended meanwhile
        assert [await counters.add(item, "k") for _ in range(3)] == [1, 2, 3]
        assert await counters.spent_until(item, "k") is not None
    finally:
        await counters.clear(item, "k")
        counters.close()
