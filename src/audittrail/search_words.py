"""What full-text search sees of a record: its words, the same on both databases.

A word is a run of letters and digits, lower-cased; everything else separates words. So
`INV-1042` is the words `inv 1042`, `alice@example.com` is `alice example com`, and a search
made of the same characters is split the same way and matched as a phrase (records/search.py):
an identifier is found whole (its words in order) and by any of its parts. Each record's words
are written once, as text (records.search_text), by the append that inserts it; PostgreSQL
indexes them with `to_tsvector('simple', …)` and SQLite with FTS5 (unicode61), and since the
text holds nothing but words and spaces both engines see exactly these words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

WORD = re.compile(r"[^\W_]+")
# The record's fields search looks in, besides the values of its params.
FIELDS = (
    "summary",
    "event_type",
    "category",
    "actor",
    "entity_type",
    "entity_id",
    "application_key",
)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def document(
    texts: Iterable[str | None], params: Mapping[str, Any], unsearchable: Iterable[str]
) -> str:
    """The words of the texts and of the params' values (not their keys), but for the values of
    the params named in `unsearchable` (sensitive ones: a search must not reveal them)."""
    skipped = set(unsearchable)
    values = (value for key, value in params.items() if key not in skipped)
    parts = [text for text in texts if text]
    parts.extend(_scalars(values))
    return " ".join(word for part in parts for word in words(part))


def _scalars(values: Iterable[Any]) -> Iterator[str]:
    """The strings, numbers and booleans within JSON values, as text."""
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, bool):
            yield "true" if value else "false"
        elif isinstance(value, int | float):
            yield str(value)
        elif isinstance(value, dict):
            yield from _scalars(value.values())
        elif isinstance(value, list):
            yield from _scalars(value)
