"""Login throttling: failed logins counted per account and per client address.

Past either limit (`login_failures_per_account`, `login_failures_per_address`) a login is
refused with 429 LOGIN_THROTTLED and Retry-After before its password is checked: a locked-out
guesser costs no argon2, and a right password does not get in either. Only failures count; a
successful login forgets its account's failures (not its address's: signing in to an account of
one's own must not buy guesses at others). The account is the email as typed, lower-cased,
whether or not a user has it: unknown emails are throttled alike, so a 429 tells nothing of who
exists.

The moment a limit is reached is a lock-out, recorded once as a security record
(`auth.lockout`) through the group commit, as failed logins are (log/system.py); the refusals
that follow are not recorded. The counts are the app's rate-limit counters (throttle.py), shared
by every process when Redis is configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from limits import RateLimitItem

from audittrail import throttle
from audittrail.errors import TooManyRequests
from audittrail.log import system
from audittrail.log.append import NewRecord

ACCOUNT = "account"
ADDRESS = "address"


class LoginThrottled(TooManyRequests):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed logins; retry after Retry-After seconds.",
            retry_after=retry_after,
            code="LOGIN_THROTTLED",
        )


@dataclass(frozen=True)
class Limit:
    """One limit on failed logins: of an account or of an address."""

    name: str
    subject: str
    """The lower-cased email, or the address."""
    item: RateLimitItem

    @property
    def identifiers(self) -> tuple[str, str, str]:
        return ("login-failures", self.name, self.subject)


@dataclass(frozen=True)
class LoginThrottle:
    """The limits on one login's failures: its account's, and its address's if it has one."""

    counters: throttle.Counters
    limits: tuple[Limit, ...]
    ip: str | None

    @classmethod
    def of(cls, rate_limits: throttle.RateLimits, email: str, ip: str | None) -> LoginThrottle:
        limits = []
        if rate_limits.login_account is not None:
            limits.append(Limit(ACCOUNT, email.lower(), rate_limits.login_account))
        if rate_limits.login_address is not None and ip is not None:
            limits.append(Limit(ADDRESS, ip, rate_limits.login_address))
        return cls(rate_limits.counters, tuple(limits), ip)

    async def check(self) -> None:
        """429 if a limit is reached, with the time until the last one reached frees."""
        ends = [await self.counters.spent_until(lim.item, *lim.identifiers) for lim in self.limits]
        spent = [end for end in ends if end is not None]
        if spent:
            raise LoginThrottled(throttle.seconds_until(max(spent)))

    async def failed(self, user_id: str | None) -> list[NewRecord]:
        """Count a failure against every limit: the records of the lock-outs it starts."""
        lockouts = []
        for limit in self.limits:
            if await self.counters.add(limit.item, *limit.identifiers) == limit.item.amount:
                until = await self.counters.spent_until(limit.item, *limit.identifiers)
                lockouts.append(_lockout(limit, until, user_id, self.ip))
        return lockouts

    async def succeeded(self) -> None:
        for limit in self.limits:
            if limit.name == ACCOUNT:
                await self.counters.clear(limit.item, *limit.identifiers)


async def admit(request: Request, email: str, ip: str | None) -> LoginThrottle:
    """The login's throttle, before its password is checked; 429 if it is locked out."""
    login_throttle = LoginThrottle.of(throttle.rate_limits_of(request), email, ip)
    await login_throttle.check()
    return login_throttle


async def record(queue: system.Queue, lockouts: Sequence[NewRecord]) -> None:
    """Record lock-outs with everyone else's records; shielded, as a failed login's is: a
    client that goes away does not take the record with it."""
    if lockouts:
        await asyncio.shield(queue.submit(lockouts))


def _lockout(limit: Limit, until: float | None, user_id: str | None, ip: str | None) -> NewRecord:
    ends = datetime.fromtimestamp(until, UTC) if until is not None else None
    whose = f"for {limit.subject}" if limit.name == ACCOUNT else f"from {limit.subject}"
    return system.new(
        event_type="auth.lockout",
        summary=f"Logins {whose} refused after {limit.item.amount} failures",
        actor="anonymous",
        entity_type="user" if limit.name == ACCOUNT else "ip_address",
        entity_id=user_id if limit.name == ACCOUNT else limit.subject,
        changes_registry=False,
        params={
            "limit": limit.name,
            limit.name: limit.subject,
            "failures": limit.item.amount,
            "window_seconds": limit.item.get_expiry(),
            "until": ends.isoformat() if ends is not None else None,
        },
        category=system.SECURITY,
        severity="high",
        ip_address=ip,
    )
