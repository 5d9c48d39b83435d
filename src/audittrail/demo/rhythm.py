"""When things happen: more in working hours, less at weekends, a little more every week.

Times are in UTC and follow a business in Europe: busiest mid-morning and mid-afternoon, quiet
at night, a fifth as busy on Saturdays and Sundays. Each day also gets its own mood (±15%).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

# Relative activity by hour of the day (UTC) and by weekday (Monday first).
HOURLY = (
    0.05, 0.04, 0.03, 0.03, 0.04, 0.08, 0.2, 0.45, 0.85, 1.0, 1.0, 0.95,
    0.7, 0.85, 0.95, 0.95, 0.85, 0.6, 0.4, 0.3, 0.25, 0.2, 0.13, 0.08,
)  # fmt: skip
WEEKDAYS = (1.0, 1.05, 1.05, 1.0, 0.85, 0.2, 0.15)
# The product grows: the last day is this much busier than the first.
GROWTH = 0.35
HOUR = timedelta(hours=1)


def hour_weights(rng: random.Random, first_hour: datetime, hours: int) -> list[float]:
    """The relative activity of each of ``hours`` hours from ``first_hour`` on."""
    moods: dict[int, float] = {}
    weights = []
    for index in range(hours):
        moment = first_hour + index * HOUR
        day = index // 24
        if day not in moods:
            moods[day] = rng.uniform(0.85, 1.15)
        trend = 1 + GROWTH * index / hours
        weights.append(HOURLY[moment.hour] * WEEKDAYS[moment.weekday()] * moods[day] * trend)
    return weights


def per_hour(rng: random.Random, weights: list[float], count: int) -> list[int]:
    """How many of ``count`` events fall in each hour, drawn by the hours' weights."""
    counts = [0] * len(weights)
    for hour in rng.choices(range(len(weights)), weights=weights, k=count):
        counts[hour] += 1
    return counts


def seconds_within(rng: random.Random, count: int) -> Iterator[float]:
    """``count`` moments within an hour, in seconds from its start, in order."""
    return iter(sorted(rng.random() * 3600 for _ in range(count)))
