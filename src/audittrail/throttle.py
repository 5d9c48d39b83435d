"""Rate limits: per credential on every authenticated route, and the counters behind them.

Every authenticated request counts against its credential (the principal's kind and id): reads
(GET, HEAD, OPTIONS) against `rate_limit`, writes against `rate_limit_writes`, an admin's writes
only if `rate_limit_admin_writes`. Past the limit it is a 429 RATE_LIMITED with Retry-After.
Both kinds of route call `admit` right after authenticating: the FastAPI routes through
`access.current_principal`, the intake routes through records/ingest.py. Failed logins are
counted in the same counters (auth/lockout.py). Each has its switch:
AUDITTRAIL_RATE_LIMIT_ENABLED=false turns the per-credential limits off (for a gateway that
limits instead), AUDITTRAIL_LOGIN_THROTTLE_ENABLED=false the login throttle.

The counts are the `limits` library's fixed windows: a window starts at its first hit and frees
all at once when it ends, so at worst a client gets twice its limit across a window's edge. A
moving window counts exactly, but its memory storage costs six times as much a hit and hands
every key to a thread each time it expires them (docs/NOTES.md, "Rate limits"). Windows keep
time.time(), as limits' storages need (its Redis storage answers a TTL plus time.time()); what
is recorded of them goes by the project's clock, clock.now() plus `seconds_left`.

The counts live in the app's memory (one storage per app, made by its lifespan), or in Redis
when AUDITTRAIL_REDIS_URL is set: shared by every process that names the same Redis and key
prefix.

When Redis fails, counting goes on in the process's own memory, with a warning logged, and
Redis is tried again `REDIS_RETRY_SECONDS` later. Neither 503 nor no limit at all: refusing
records because the counters are away would lose what the audit trail is for, and a guesser
still meets the login throttle. Until Redis is back each process counts alone, so a client
spread over N processes may get up to N times its limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog
from coredis.retry import NoRetryPolicy
from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.storage.redis.coredis import CoredisBridge
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from audittrail.config import Settings
from audittrail.errors import TooManyRequests

log = structlog.get_logger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""HTTP's safe methods: counted as reads here, and not checked for CSRF (access.check_origin)."""
SWEEP_SECONDS = 10.0
REDIS_RETRY_SECONDS = 5.0
# Connecting to Redis and each answer from it, tried once: a Redis that hangs must not hold up
# every request for long.
REDIS_TIMEOUT_SECONDS = 0.25

T = TypeVar("T")
Count = Callable[[FixedWindowRateLimiter], Awaitable[T]]


class MemoryWindows(Storage):
    """Fixed windows in this process's memory, for limits' `FixedWindowRateLimiter`.

    limits' own async memory storage looks at every key for ended windows after each count, in
    a task of its own: with a thousand credentials in use that is 0.1 ms a request, growing with
    every one more (docs/NOTES.md, "Rate limits"). Here an ended window is started afresh when it
    is next counted, and all of them are dropped at most once per SWEEP_SECONDS. Nothing awaits
    between a count's read and its write: on one event loop, each count is atomic.
    """

    STORAGE_SCHEME = None

    def __init__(self) -> None:
        super().__init__()
        self.windows: dict[str, tuple[int, float]] = {}
        """key: (count, when its window ends, a time.time())."""
        self.next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        if now >= self.next_sweep:
            self.windows = {key: window for key, window in self.windows.items() if window[1] > now}
            self.next_sweep = now + SWEEP_SECONDS
        count, ends = self.windows.get(key, (0, now))
        if ends <= now:
            if amount < 0:  # given back (Counters.give_back) after its window ended: nothing to do
                return 0
            count, ends = 0, now + expiry
        self.windows[key] = (count + amount, ends)
        return count + amount

    async def get(self, key: str) -> int:
        count, ends = self.windows.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        """When the key's window ends; now if it has none."""
        now = time.time()
        return max(self.windows.get(key, (0, now))[1], now)

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self.windows)
        self.windows.clear()
        return count

    async def clear(self, key: str) -> None:
        self.windows.pop(key, None)


class Counters:
    """Fixed-window counters: in Redis if given one (this object's memory standing in while it
    fails), else in this object's memory."""

    def __init__(self, redis_url: str | None = None, key_prefix: str = "audittrail") -> None:
        self.memory = FixedWindowRateLimiter(MemoryWindows())
        self.redis = None if redis_url is None else _redis(redis_url, key_prefix)
        self.shared = None if self.redis is None else FixedWindowRateLimiter(self.redis)
        self.shared_down_until = 0.0

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one; whether it is within the limit."""
        return await self._counted(lambda limiter: limiter.hit(item, *identifiers))

    async def add(self, item: RateLimitItem, *identifiers: str) -> int:
        """Count one, and answer the count so far in this window: each count goes to exactly
        one caller, so the one that reaches the limit knows it is the one."""
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        return await self._counted(lambda limiter: limiter.storage.incr(key, expiry))

    async def give_back(self, item: RateLimitItem, *identifiers: str) -> None:
        """Uncount one that `add` counted, a slot not used after all; never below nothing."""
        key, expiry = item.key_for(*identifiers), item.get_expiry()

        async def uncount(limiter: FixedWindowRateLimiter) -> None:
            if await limiter.storage.incr(key, expiry, -1) < 0:
                # Redis, whose window ended meanwhile: -1 in a new one, undone.
                await limiter.storage.incr(key, expiry, 1)

        await self._counted(uncount)

    async def spent_until(self, item: RateLimitItem, *identifiers: str) -> float | None:
        """When the window frees (a time.time()), if its limit is reached; None if not."""
        stats = await self._counted(lambda limiter: limiter.get_window_stats(item, *identifiers))
        if stats.remaining > 0:
            return None
        if stats.reset_time <= time.time():
            # A window that never ends: limits sets a Redis count's expiry in a second command,
            # which a dropped connection can miss, and such a count would refuse for good.
            await self.clear(item, *identifiers)
            return None
        return stats.reset_time

    async def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        await self._counted(lambda limiter: limiter.clear(item, *identifiers))

    def close(self) -> None:
        """Close the connections to Redis: limits has no call for it, its coredis client has."""
        if self.redis is not None:
            bridge = self.redis.bridge
            assert isinstance(bridge, CoredisBridge)
            bridge.get_connection().connection_pool.disconnect()

    async def _counted(self, count: Count[T]) -> T:
        if self.shared is None:
            return await count(self.memory)
        if time.monotonic() >= self.shared_down_until:
            try:
                return await count(self.shared)
            except StorageError as error:
                self.shared_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning(
                    "redis unavailable: rate limits count in this process alone",
                    error=str(error.storage_error),
                    retry_in_seconds=REDIS_RETRY_SECONDS,
                )
        return await count(self.memory)


def _redis(url: str, key_prefix: str) -> RedisStorage:
    """Redis at a redis://, rediss:// or redis+unix:// URL; it connects on first use."""
    return RedisStorage(
        url if url.startswith("async+") else f"async+{url}",
        wrap_exceptions=True,
        key_prefix=key_prefix,
        connect_timeout=REDIS_TIMEOUT_SECONDS,
        stream_timeout=REDIS_TIMEOUT_SECONDS,
        retry_policy=NoRetryPolicy(),  # type: ignore[arg-type]  # passed on to coredis.Redis
    )


def seconds_left(moment: float | None) -> float:
    """Seconds from now until this time.time() (a window's end), none if it has passed."""
    return 0.0 if moment is None else max(0.0, moment - time.time())


def seconds_until(moment: float | None) -> int:
    """Retry-After for a window that frees at this time.time(): whole seconds, at least one."""
    return max(1, math.ceil(seconds_left(moment)))


class Credential(Protocol):
    """What requests are counted by: a principal (access.Principal)."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class RateLimits:
    """The app's limits and their counters, on `app.state.rate_limits`."""

    settings: Settings
    counters: Counters
    reads: RateLimitItem | None
    """None: not limited (rate limits off)."""
    writes: RateLimitItem | None
    login_account: RateLimitItem | None
    """Failed logins per typed email (auth/lockout.py); None: login throttle off."""
    login_address: RateLimitItem | None
    """Failed logins per client address (an IPv6 one's /64)."""

    @classmethod
    def start(cls, settings: Settings) -> RateLimits:
        """The limits of these settings; the app's lifespan makes them and `close`s them."""
        on, logins = settings.rate_limit_enabled, settings.login_throttle_enabled
        return cls(
            settings,
            Counters(settings.redis_url, settings.redis_key_prefix),
            reads=parse(settings.rate_limit) if on else None,
            writes=parse(settings.rate_limit_writes) if on else None,
            login_account=parse(settings.login_failures_per_account) if logins else None,
            login_address=parse(settings.login_failures_per_address) if logins else None,
        )

    def close(self) -> None:
        self.counters.close()

    async def admit(self, credential: Credential, method: str) -> None:
        """Count a request against its credential's limit; 429 past it."""
        if method in SAFE_METHODS:
            item, counted_as = self.reads, "reads"
        elif credential.is_admin and not self.settings.rate_limit_admin_writes:
            return
        else:
            item, counted_as = self.writes, "writes"
        if item is None:
            return
        identifiers = (counted_as, credential.kind, credential.id)
        if await self.counters.hit(item, *identifiers):
            return
        raise TooManyRequests(
            "Too many requests with this credential; retry after Retry-After seconds.",
            retry_after=seconds_until(await self.counters.spent_until(item, *identifiers)),
        )


def rate_limits_of(request: Request) -> RateLimits:
    rate_limits: RateLimits = request.app.state.rate_limits
    return rate_limits


async def admit(request: Request, credential: Credential) -> None:
    """The per-credential limit, for a request whose caller is authenticated: every route that
    authenticates calls it right after (access.current_principal, records/ingest.py)."""
    await rate_limits_of(request).admit(credential, request.method)
