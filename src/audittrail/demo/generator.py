"""The demo history: records with their times, over the 90 days before a moment, from a seed.

The same seed and the same end (rounded down to the minute) give the same records, all but their
ids; the day's and the week's rhythm follow the clock, so another end gives another history.
`audittrail seed --until` names the end; by default it is now.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from audittrail.demo import accounts, catalog, pools, product, rhythm, service_events
from audittrail.demo.catalog import Registered
from audittrail.demo.manual import Builder
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World
from audittrail.log.append import NewRecord

DAYS = 90
MINIMUM = 1_000
# The records of setting up (applications, params, API keys) come this far apart at the start.
ANNOUNCEMENT_SPACING = timedelta(seconds=2)
# Failed-login storms: one for about every 15,000 records, from one address, seconds apart.
RECORDS_PER_BURST = 15_000
BURST_SIZES = (15, 250)
# ...and at most a fortieth of the history each, so a small demo is not all storm.
BURST_SHARE = 40
# Whoever guesses one account's password is locked out after this many failures.
LOCKOUT_AFTER = 10
# audittrail's own records among the product's: sign-ins to it, users, key rotations.
SERVICE_EVENTS = (1.2, 0.8)

Timed = tuple[NewRecord, datetime]


@dataclass
class Burst:
    """Failed sign-ins from one address: many emails tried (credential stuffing), or one
    account's password guessed until it is locked."""

    address: str
    target: pools.Person | None
    size: int
    done: int = 0


class History:
    """The demo's records in time order, made as they are read."""

    def __init__(self, seed: int, count: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.end = now.replace(second=0, microsecond=0)
        self.start = self.end - timedelta(days=DAYS)
        self.applications = {
            spec.key: catalog.register(spec, self.start) for spec in catalog.APPLICATIONS
        }
        self.world = World(self.rng, pools.build(seed), self.applications)
        self.count = count
        self._opening = list(service_events.announcements(self.world))
        self._storm = 0  # the next storm attempt to place
        if count < MINIMUM:
            raise ValueError(f"a demo has at least {MINIMUM:,} records")

    @property
    def registered(self) -> list[Registered]:
        return list(self.applications.values())

    def records(self) -> Iterator[Timed]:
        """Every record with its created_at, never running backwards."""
        opening = self._opening
        for index, record in enumerate(opening):
            yield record, self.start + index * ANNOUNCEMENT_SPACING
        # The product's history starts once the set-up is done: an hour in.
        first_hour = self.start + rhythm.HOUR
        hours = DAYS * 24 - 1
        bursts = self._bursts(self.count - len(opening))
        regular = self.count - len(opening) - sum(burst.size for burst, _ in bursts)
        storms = self._storm_times(bursts, hours)
        weights = rhythm.hour_weights(self.rng, first_hour, hours)
        counts = rhythm.per_hour(self.rng, weights, regular)
        for hour, hour_count in enumerate(counts):
            for offset, burst in self._merged(hour, hour_count, storms):
                moment = first_hour + timedelta(seconds=offset)
                yield (self._regular(moment) if burst is None else self._attempt(burst)), moment

    def _bursts(self, available: int) -> list[tuple[Burst, float]]:
        """The storms, each with its start, as seconds into the product's history."""
        rng = self.rng
        people = self.world.pools.people
        smallest, largest = BURST_SIZES
        largest = max(smallest, min(largest, available // BURST_SHARE))
        planned = []
        for _ in range(max(2, available // RECORDS_PER_BURST)):
            target = people[rng.randrange(len(people))] if rng.random() < 0.4 else None
            size = rng.randint(smallest, largest)
            address = rng.choice(self.world.pools.attacker_addresses)
            start = rng.random() * (DAYS * 24 - 2) * 3600
            planned.append((Burst(address, target, size), start))
        return planned

    def _storm_times(
        self, bursts: list[tuple[Burst, float]], hours: int
    ) -> list[tuple[float, Burst]]:
        """Every attempt of every storm at its time, in time order."""
        rng = self.rng
        times = []
        for burst, start in bursts:
            moment = start
            for _ in range(burst.size):
                times.append((min(moment, hours * 3600 - 1e-3), burst))
                moment += rng.uniform(0.3, 4.0)
        times.sort(key=lambda pair: pair[0])
        return times

    def _merged(
        self, hour: int, count: int, storms: list[tuple[float, Burst]]
    ) -> Iterator[tuple[float, Burst | None]]:
        """The hour's moments, in seconds from the history's start: its share of regular
        records and the storms' attempts that fall in it."""
        base = hour * 3600.0
        regular = ((base + second, None) for second in rhythm.seconds_within(self.rng, count))
        end = base + 3600.0
        storm: list[tuple[float, Burst | None]] = []
        while self._storm < len(storms) and storms[self._storm][0] < end:
            storm.append(storms[self._storm])
            self._storm += 1
        if not storm:
            return regular
        return iter(sorted(itertools.chain(regular, storm), key=lambda pair: pair[0]))

    def _regular(self, moment: datetime) -> NewRecord:
        weekend = moment.weekday() >= 5
        builder = (_WEEKEND if weekend else _WEEKDAY).pick(self.rng)
        return builder(self.world, moment)

    def _attempt(self, burst: Burst) -> NewRecord:
        world = self.world
        burst.done += 1
        target = burst.target
        if target is None:
            email = self.rng.choice(world.pools.unknown_emails)
            return accounts.failed_login(world, email, None, burst.address, "unknown_user", 1)
        if burst.done == LOCKOUT_AFTER + 1:
            return accounts.account_locked(world, target.email, target, burst.address)
        reason = "locked" if burst.done > LOCKOUT_AFTER else "wrong_password"
        return accounts.failed_login(world, target.email, target, burst.address, reason, burst.done)


def _table(weekend: bool) -> Weighted[Builder]:
    entries = [*product.EVENTS, (service_events.service_event, *SERVICE_EVENTS)]
    builders = [builder for builder, _, _ in entries]
    weights = [weekend_weight if weekend else weekday for _, weekday, weekend_weight in entries]
    return Weighted(builders, weights)


_WEEKDAY = _table(weekend=False)
_WEEKEND = _table(weekend=True)
