"""Time in the reader's zone: buckets, slots, days, the hour × weekday grid.

Counts come from the database per **slot**: a span of UTC time aligned on its own length (an
hour from the rollups; 15 minutes, a minute or a second from the records). A slot is placed
into the zone's buckets whole, which is exact when the zone's offset is a multiple of the slot
throughout it: whole hours for most zones, 15 minutes for India, Nepal or Newfoundland
(`slot_fits`). Buckets are the zone's own: a day is local midnight to local midnight (23 or 25
hours across a daylight-saving change), a week starts on Monday, a month on its first day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from audittrail.records.query import invalid

# Slot lengths, longest first: the rollups' hour, then what records are grouped by.
HOUR = 3600
DAY_SECONDS = 86_400
SLOTS = (HOUR, 900, 60, 1)
# More buckets than this make an answer nobody can read: 422, choose a longer bucket.
MAX_BUCKETS = 10_000


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; 422 for anything else."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise invalid("tz", f"{name[:64]!r} is not an IANA time zone name (as Europe/Berlin).")
    try:
        return _zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid(
            "tz", f"{name[:64]!r} is not an IANA time zone name (as Europe/Berlin)."
        ) from None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def default_bucket(start: datetime, end: datetime) -> Bucket:
    """A bucket that gives a readable series over the range."""
    span = end - start
    if span <= timedelta(days=2):
        return Bucket.HOUR
    if span <= timedelta(days=120):
        return Bucket.DAY
    if span <= timedelta(days=3 * 366):
        return Bucket.WEEK
    return Bucket.MONTH


def slot_fits(start: datetime, slot: int, tz: ZoneInfo) -> bool:
    """Whether the slot lies within one local hour: the zone's offset does not change inside it
    and is a multiple of the slot's length (a day's: only that the offset does not change)."""
    offset = _offset(start, tz)
    last = (start + timedelta(seconds=slot, microseconds=-1)).astimezone(tz).utcoffset()
    return offset == last and (slot == DAY_SECONDS or offset.total_seconds() % slot == 0)


def slots_fit(starts: Iterable[datetime], slot: int, tz: ZoneInfo) -> bool:
    """Whether every one of these slots lies within one local hour. Asked of a UTC day at a
    time: where the zone's offset is the same at both its ends, and a multiple of the slot,
    every slot inside fits (offsets do not change and change back within a day); elsewhere
    slot by slot. Thousands of slots cost a few conversions a day, not a few each."""
    by_day: dict[date, list[datetime]] = {}
    for start in starts:
        by_day.setdefault(start.date(), []).append(start)
    for day, day_starts in by_day.items():
        first = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if not slot_fits(first, DAY_SECONDS, tz):
            if not all(slot_fits(start, slot, tz) for start in day_starts):
                return False
        elif _offset(first, tz).total_seconds() % slot:
            return False
    return True


def _offset(moment: datetime, tz: ZoneInfo) -> timedelta:
    offset = local(moment, tz).utcoffset()
    assert offset is not None
    return offset


@lru_cache(maxsize=65_536)
def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """The moment in the zone: asked of every slot several times (its bucket, weekday and hour,
    day), which a zone's rules answer slowly (a few µs, for thousands of slots)."""
    return moment.astimezone(tz)


def bucket_start(moment: datetime, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The start of the local bucket the moment is in, as a UTC instant."""
    here = local(moment, tz)
    if bucket is Bucket.HOUR:
        start = here.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        if _offset(start, tz) != here.utcoffset():
            # The offset changed within this local hour (Lord Howe's half-hour shifts): a
            # new bucket starts at the change, as next_bucket has it.
            return _change(start, moment, tz)
        return start
    day = here.date()
    if bucket is Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    elif bucket is Bucket.MONTH:
        day = day.replace(day=1)
    return midnight(day, tz)


def _change(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The minute the zone's offset changes to its offset at ``after``, between the two
    (offsets change on whole minutes), by halving."""
    target = _offset(after, tz)
    low, high = 0, -(-(after - before) // timedelta(minutes=1))
    while low + 1 < high:
        middle = (low + high) // 2
        if _offset(before + timedelta(minutes=middle), tz) == target:
            high = middle
        else:
            low = middle
    return before + timedelta(minutes=high)


@lru_cache(maxsize=4096)
def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant the local day begins (where midnight is skipped, the instant it would be)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def next_bucket(start: datetime, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if bucket is Bucket.HOUR:
        # An hour on: the next local hour, whatever daylight saving does to the wall clock.
        candidate = start + timedelta(hours=1)
        following = bucket_start(candidate, bucket, tz)
        return following if following > start else candidate
    day = start.astimezone(tz).date()
    if bucket is Bucket.DAY:
        return midnight(day + timedelta(days=1), tz)
    if bucket is Bucket.WEEK:
        return midnight(day + timedelta(days=7), tz)
    month = day.replace(day=1) + timedelta(days=32)
    return midnight(month.replace(day=1), tz)


def starts(
    first: datetime | None, last: datetime | None, bucket: Bucket, tz: ZoneInfo
) -> list[datetime]:
    """Every bucket's start from the one holding ``first`` to the one holding ``last`` (none
    if either is unknown); 422 past MAX_BUCKETS."""
    if first is None or last is None or first > last:
        return []
    if _most_buckets(first, last, bucket) > MAX_BUCKETS:
        raise invalid(
            "bucket",
            f"the range spans more than {MAX_BUCKETS:,} {bucket.value} buckets: narrow "
            "date_from and date_to, or choose a longer bucket.",
        )
    found = []
    start = bucket_start(first, bucket, tz)
    while start <= last:
        found.append(start)
        start = next_bucket(start, bucket, tz)
    return found


def _most_buckets(first: datetime, last: datetime, bucket: Bucket) -> int:
    """At least how many buckets the range spans, cheaply (a month counted as 28 days)."""
    length = {
        Bucket.HOUR: timedelta(hours=1),
        Bucket.DAY: timedelta(days=1),
        Bucket.WEEK: timedelta(days=7),
        Bucket.MONTH: timedelta(days=28),
    }[bucket]
    return (last - first) // length + 2


def day_span(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A local day as UTC instants, [start, end)."""
    return midnight(day, tz), midnight(day + timedelta(days=1), tz)
