"""The one clock: timezone-aware UTC, so tests and sequencing agree on what "now" is."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
