"""What full-text search sees of a record: its words, the same on both databases.

A word is a run of letters, digits and combining marks (so that `हिन्दी` stays one word), in
Unicode's compatibility form (NFKC: `²` is `2`, `ﬁ` is `fi`) and case-folded (`ΣΎΣ` is `σύσ`);
everything else separates words. Diacritics count: `café` is not `cafe`. So
`INV-1042` is the words `inv 1042`, `alice@example.com` is `alice example com`, and a search
made of the same characters is split the same way and matched as a phrase (records/search.py):
an identifier is found whole (its words in order) and by any of its parts. Each record's words
are written as text (records.search_text), by the append that inserts it. PostgreSQL indexes
them as they are, a GIN index of the array of words (no parser of its own, which would split
`1e9f3ab` as a number and a word), and SQLite with FTS5 (unicode61), which finds the same
words in text of nothing but words and spaces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from itertools import chain
from typing import Any

# PostgreSQL refuses a lexeme over 2047 bytes: longer words are cut, in records and in searches.
MAX_WORD_CHARACTERS = 256


@cache
def _word() -> re.Pattern[str]:
    """Letters, digits and Unicode's combining marks (Mn, Mc, Me, as ranges): made at the first
    text that is not ASCII (0.05 s), not at every start of the service or the command line."""
    return re.compile(rf"(?:[^\W_]|[{_mark_ranges()}])+")


def _mark_ranges() -> str:
    code_points = chain(range(0x30000), range(0xE0000, 0xE1000))
    marks = [c for c in code_points if unicodedata.category(chr(c)).startswith("M")]
    ranges: list[tuple[int, int]] = []
    for mark in marks:
        if ranges and ranges[-1][1] == mark - 1:
            ranges[-1] = (ranges[-1][0], mark)
        else:
            ranges.append((mark, mark))
    return "".join(f"{re.escape(chr(first))}-{re.escape(chr(last))}" for first, last in ranges)


ASCII_WORD = re.compile(r"[^\W_]+")  # _word() on ASCII text (no marks), and quicker
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
    if text.isascii():  # NFKC changes no ASCII, and casefold is lower
        found = ASCII_WORD.findall(text.lower())
    else:
        found = _word().findall(unicodedata.normalize("NFKC", text).casefold())
    return [word[:MAX_WORD_CHARACTERS] for word in found]


def document(
    texts: Iterable[str | None], params: Mapping[str, Any], unsearchable: Iterable[str]
) -> str:
    """The words of the texts and of the params' values (not their keys), but for the values of
    the params named in `unsearchable` (sensitive ones: a search must not reveal them)."""
    skipped = set(unsearchable)
    values = (value for key, value in params.items() if key not in skipped)
    parts = [text for text in texts if text]
    parts.extend(_scalars(values))
    return " ".join(words(" ".join(parts)))


def of(record: Any, unsearchable: Iterable[str]) -> str:
    """The words of a record, or of a row with its columns: its FIELDS and params."""
    texts = [getattr(record, name) for name in FIELDS]
    return document(texts, record.params or {}, unsearchable)


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
