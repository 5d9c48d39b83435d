"""Login throttling: failed logins counted per account and per client address.

Every login takes a slot of its account's limit (`login_failures_per_account`) and of its
address's (`login_failures_per_address`) before its password is checked, and past either limit
it is refused with 429 LOGIN_THROTTLED and Retry-After, its slots given back. Taken first, so
however many guesses arrive at once, at most a limit's number reach argon2; a locked-out guesser
costs none, and a right password does not get in either. Only failures keep their slots: a
success gives its address's back and forgets its account's failures (not its address's: signing
in to an account of one's own must not buy guesses at others). The account is the email as typed,
lower-cased, whether or not a user has it: unknown emails are throttled alike, so a 429 tells
nothing of who exists. An IPv4 address is counted by itself, an IPv6 one by its /64 (what one
subscriber is given: rotating within it gains nothing). Changing one's password
(`admit_password_change`) takes a slot of the account's limit too: a stolen session guesses no
faster there, and its guesses add up with the logins'.

The failure that takes a limit's last slot starts a lock-out, recorded once as a security record
(`auth.lockout`) through the group commit, as failed logins are (log/system.py); the refusals
that follow are not recorded. The counts are the app's rate-limit counters (throttle.py), shared
by every process when Redis is configured; AUDITTRAIL_LOGIN_THROTTLE_ENABLED=false (not
AUDITTRAIL_RATE_LIMIT_ENABLED) turns them off.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request
from limits import RateLimitItem

from audittrail import clock, throttle
from audittrail.auth.sessions import ANONYMOUS, TYPED_EMAIL_LENGTH, printable
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
    """The lower-cased email, or the address as counted (`counted_address`)."""
    item: RateLimitItem

    @property
    def identifiers(self) -> tuple[str, str, str]:
        return ("login-failures", self.name, self.subject)


@dataclass
class LoginThrottle:
    """The limits on one login's failures: its account's, and its address's if it has one."""

    counters: throttle.Counters
    limits: tuple[Limit, ...]
    ip: str | None
    slots: dict[str, int] = field(default_factory=dict)
    """The slot taken of each limit, by its name: its count in the window once taken."""

    @classmethod
    def of(
        cls,
        rate_limits: throttle.RateLimits,
        email: str,
        ip: str | None,
        *,
        by_address: bool = True,
    ) -> LoginThrottle:
        limits = []
        if rate_limits.login_account is not None:
            limits.append(Limit(ACCOUNT, email.lower(), rate_limits.login_account))
        if rate_limits.login_address is not None and ip is not None and by_address:
            limits.append(Limit(ADDRESS, counted_address(ip), rate_limits.login_address))
        return cls(rate_limits.counters, tuple(limits), ip)

    async def take(self) -> None:
        """Take a slot of every limit, before the password is checked. Past a limit: every slot
        given back (a refusal is no failure) and 429, with the time until the last limit past
        frees."""
        for limit in self.limits:
            self.slots[limit.name] = await self.counters.add(limit.item, *limit.identifiers)
        spent = [limit for limit in self.limits if self.slots[limit.name] > limit.item.amount]
        if not spent:
            return
        for limit in self.limits:
            await self.counters.give_back(limit.item, *limit.identifiers)
        self.slots.clear()
        ends = [await self.counters.spent_until(lim.item, *lim.identifiers) for lim in spent]
        # None: the window freed meanwhile (or was a Redis count that never ends, now cleared).
        raise LoginThrottled(throttle.seconds_until(max(filter(None, ends), default=None)))

    async def failed(self, user_id: str | None) -> list[NewRecord]:
        """A failure keeps its slots: the records of the lock-outs it starts, of each limit whose
        last slot it took."""
        lockouts = []
        for limit in self.limits:
            if self.slots.get(limit.name) == limit.item.amount:
                until = await self.counters.spent_until(limit.item, *limit.identifiers)
                lockouts.append(_lockout(limit, until, user_id, self.ip))
        return lockouts

    async def succeeded(self) -> None:
        """A success forgets its account's failures and gives its address's slot back."""
        for limit in self.limits:
            if limit.name == ACCOUNT:
                await self.counters.clear(limit.item, *limit.identifiers)
            elif limit.name in self.slots:
                await self.counters.give_back(limit.item, *limit.identifiers)
        self.slots.clear()


def counted_address(ip: str) -> str:
    """What a client address counts as: an IPv4 address itself (an IPv4-mapped IPv6 one too),
    an IPv6 address its /64; anything else as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


async def admit(request: Request, email: str, ip: str | None) -> LoginThrottle:
    """The login's throttle, its slots taken before its password is checked; 429 if it is
    locked out."""
    login_throttle = LoginThrottle.of(throttle.rate_limits_of(request), email, ip)
    await login_throttle.take()
    return login_throttle


async def admit_password_change(request: Request, email: str, ip: str | None) -> LoginThrottle:
    """A password change's throttle: a slot of its user's account limit (the one logins count
    in), taken before the current password is checked; 429 if the account is locked out. Not its
    address's: a session guesses at its own account's password only."""
    rate_limits = throttle.rate_limits_of(request)
    password_throttle = LoginThrottle.of(rate_limits, email, ip, by_address=False)
    await password_throttle.take()
    return password_throttle


async def record(queue: system.Queue, lockouts: Sequence[NewRecord]) -> None:
    """Record lock-outs with everyone else's records; shielded, as a failed login's is: a
    client that goes away does not take the record with it."""
    if lockouts:
        await asyncio.shield(queue.submit(lockouts))


def _lockout(limit: Limit, until: float | None, user_id: str | None, ip: str | None) -> NewRecord:
    """The record of a lock-out. Its summary and actor are fixed, never what was typed (as a
    failed login's, auth/sessions.py): the typed email is kept as data in params, printable and
    cut alike. `until` is on the counters' time.time(); it is recorded on the project's clock."""
    account = limit.name == ACCOUNT
    ends = None if until is None else clock.now() + timedelta(seconds=throttle.seconds_left(until))
    return system.new(
        event_type="auth.lockout",
        summary="Logins refused for an account after repeated failures"
        if account
        else "Logins refused for a client address after repeated failures",
        actor=ANONYMOUS,
        entity_type="user" if account else "ip_address",
        entity_id=user_id if account else limit.subject,
        changes_registry=False,
        params={
            "limit": limit.name,
            limit.name: printable(limit.subject, TYPED_EMAIL_LENGTH) if account else limit.subject,
            "failures": limit.item.amount,
            "window_seconds": limit.item.get_expiry(),
            "until": ends.isoformat() if ends is not None else None,
        },
        category=system.SECURITY,
        severity="high",
        ip_address=ip,
    )
