"""The verifier's database reader: its leaf hashes are the reference encoding's, always.

Rows are made here as each driver hands them over (SQLite: naive UTC text; PostgreSQL: an
aware datetime; JSON columns as text), so no database is needed.
"""

import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings

from audittrail.integrity import leaf_reader
from audittrail.integrity.canonical import LEAF_FIELDS, record_leaf_bytes, record_leaf_hash
from tests.integrity.test_canonical import RECORD, records

Record = dict[str, Any]


# Each driver's reader, with rows given rather than read.


class SqliteRows(leaf_reader._SqliteReader):
    def __init__(self, rows: Sequence[leaf_reader.Row]) -> None:
        super().__init__(sqlite3.connect(":memory:"))
        self.given = rows

    async def rows(self, start: int, end: int) -> Sequence[leaf_reader.Row]:
        return self.given


class PostgresRows(leaf_reader._PostgresReader):
    def __init__(self, rows: Sequence[leaf_reader.Row]) -> None:
        self.given = rows

    async def rows(self, start: int, end: int) -> Sequence[leaf_reader.Row]:
        return self.given


def sqlite_row(record: Record, stored: bytes | None) -> tuple[Any, ...]:
    moment: datetime = record["created_at"]
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return _row({**record, "created_at": text}, stored)


def postgres_row(record: Record, stored: bytes | None) -> tuple[Any, ...]:
    return _row({**record, "created_at": record["created_at"].astimezone(UTC)}, stored)


def _row(record: Record, stored: bytes | None) -> tuple[Any, ...]:
    stored_as = {**record, "params": json.dumps(record["params"])}
    stored_as["metadata"] = json.dumps(record["metadata"])
    return (*(stored_as[name] for name in sorted(LEAF_FIELDS)), stored)


READERS = {"sqlite": (SqliteRows, sqlite_row), "postgresql": (PostgresRows, postgres_row)}


async def leaves(kind: str, records: list[Record], stored: list[bytes | None]) -> list[Any]:
    reader_class, row = READERS[kind]
    reader = reader_class(
        [row(record, hash_) for record, hash_ in zip(records, stored, strict=True)]
    )
    chunk = await reader.chunk(0, len(records))
    assert chunk.seqs == [record["seq"] for record in records]
    assert chunk.stored == stored
    return chunk.leaves


def reference(record: Record) -> bytes | str:
    """The leaf hash, or the message of the error the reference encoding raises."""
    try:
        return record_leaf_hash(record)
    except ValueError as error:
        return str(error)


def as_reference(leaf: bytes | ValueError) -> bytes | str:
    return str(leaf) if isinstance(leaf, ValueError) else leaf


@pytest.mark.parametrize("kind", READERS)
@pytest.mark.parametrize("stored", ["the leaf", "another", "none"])
async def test_leaves_are_the_reference_leaves_whatever_is_stored(kind: str, stored: str) -> None:
    records = [
        {**RECORD, "seq": 0},
        {**RECORD, "seq": 1, "actor": None, "summary": "tab\\t\x00 \ud800"},
        {**RECORD, "seq": 2, "params": {"big": 2**60}},
        {**RECORD, "seq": 3, "created_at": datetime(1, 1, 1, tzinfo=UTC)},
    ]
    expected = [reference(record) for record in records]
    stored_hashes = {
        "the leaf": [leaf if isinstance(leaf, bytes) else None for leaf in expected],
        "another": [os.urandom(32) for _ in records],
        "none": [None for _ in records],
    }[stored]
    found = await leaves(kind, records, stored_hashes)
    assert [as_reference(leaf) for leaf in found] == expected
    assert isinstance(expected[0], bytes) and isinstance(expected[2], str)


@given(records)
@settings(max_examples=1000, deadline=None)
def test_quick_encoding_is_the_reference_encoding_or_none(record: Record) -> None:
    """An honest log takes the quick way as far as the quick way goes, byte for byte: the
    reference is the rfc8785 library itself, not the project's own encoder the quick way uses."""
    created_at = record["created_at"].isoformat(timespec="microseconds").replace("+00:00", "Z")
    leaf = {name: record[name] for name in LEAF_FIELDS}
    try:
        expected = rfc8785.dumps({**leaf, "created_at": created_at})
    except (ValueError, UnicodeEncodeError):
        expected = None
    try:
        quick = leaf_reader._quick_leaf_bytes(postgres_row(record, None), created_at)
    except (ValueError, TypeError):
        return
    assert quick == expected


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 11, 27, 2, 20, 36, 123456, tzinfo=UTC),
        datetime(2026, 11, 27, 3, 20, 36, tzinfo=timezone(timedelta(hours=1))),
        datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=UTC),
    ],
)
@pytest.mark.parametrize("kind", READERS)
def test_each_drivers_rows_take_the_quick_way(kind: str, created_at: datetime) -> None:
    reader_class, row = READERS[kind]
    record = {**RECORD, "created_at": created_at}
    stored_as = row(record, None)
    text = reader_class([])._created_at_text(stored_as[leaf_reader._CREATED_AT])
    assert leaf_reader._quick_leaf_bytes(stored_as, text) == record_leaf_bytes(record)
