"""The verifier's database reader: its leaf hashes are the reference encoding's, always.

Rows are made here as each driver hands them over (SQLite: naive UTC text; PostgreSQL: an
aware datetime; JSON columns as text), so no database is needed.
"""

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
import rfc8785
from hypothesis import given, settings

from audittrail.integrity import leaf_reader
from audittrail.integrity.canonical import (
    LEAF_FIELDS,
    record_leaf_bytes,
    record_leaf_hash,
    stored_json,
)
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
    """As the service writes it: JSON as canonical.stored_json's text."""
    moment: datetime = record["created_at"]
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return _row({**record, "created_at": text}, stored, lambda value: str(stored_json(value)))


def postgres_row(record: Record, stored: bytes | None) -> tuple[Any, ...]:
    """As jsonb hands JSON back: a text of its own making, spaced."""
    return _row({**record, "created_at": record["created_at"].astimezone(UTC)}, stored, json.dumps)


def _row(record: Record, stored: bytes | None, json_text: Callable[[Any], str]) -> tuple[Any, ...]:
    stored_as = {**record, "params": json_text(record["params"])}
    stored_as["metadata"] = json_text(record["metadata"])
    return (*(stored_as[name] for name in sorted(LEAF_FIELDS)), stored)


# RECORD's JSON without what only rfc8785 writes right: 1e21, 5e-7 and a key past U+FFFF.
QUICK_JSON: dict[str, dict[str, Any]] = {
    name: {
        key: value
        for key, value in cast("dict[str, Any]", RECORD[name]).items()
        if key not in ("ratio", "tiny")
    }
    for name in ("params", "metadata")
}
del QUICK_JSON["metadata"]["\U0001f600"]


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
@settings(max_examples=300, deadline=None)
@pytest.mark.parametrize("kind", READERS)
def test_each_reader_gives_the_reference_leaf_of_any_record(kind: str, record: Record) -> None:
    """Whichever way a reader's leaf takes (orjson's, the project's own encoding, or the
    reference), it is the reference leaf, or the reference's error."""
    expected = reference(record)
    stored = expected if isinstance(expected, bytes) else None
    [found] = asyncio.run(leaves(kind, [record], [stored]))
    assert as_reference(found) == expected


@given(records)
@settings(max_examples=1000, deadline=None)
def test_quick_encoding_is_the_reference_encoding_or_none(record: Record) -> None:
    """An honest log takes a quick way as far as the quick ways go, byte for byte: the
    second one, which takes whole floats, against the rfc8785 library itself."""
    created_at = record["created_at"].isoformat(timespec="microseconds").replace("+00:00", "Z")
    leaf = {name: record[name] for name in LEAF_FIELDS}
    try:
        expected = rfc8785.dumps({**leaf, "created_at": created_at})
    except (ValueError, UnicodeEncodeError):
        expected = None
    try:
        quick = leaf_reader._fast_form_leaf(postgres_row(record, None), created_at)
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
    """Whole floats included; not numbers out of the plain range or keys past U+FFFF, which
    only rfc8785 writes right (the reference way, test above)."""
    reader_class, row = READERS[kind]
    record = {**RECORD, **QUICK_JSON, "created_at": created_at}
    stored_as = row(record, None)
    leaf = record_leaf_hash(record)
    assert reader_class([])._quick_leaf(stored_as, leaf) == leaf


@pytest.mark.parametrize(
    "stored_text",
    ["2026-11-27T02:20:36.123456", "2026-11-27 02:20:36", "2026-11-27 02:20:36.123456+00:00"],
)
def test_sqlite_timestamps_of_another_form_are_not_taken_the_quick_way(stored_text: str) -> None:
    with pytest.raises(ValueError, match="SQLAlchemy's naive UTC text"):
        SqliteRows([])._created_at_text(stored_text)


@pytest.mark.parametrize("kind", READERS)
def test_usual_records_take_orjsons_way(kind: str) -> None:
    """Without whole floats, orjson writes RFC 8785's leaf at once."""
    reader_class, row = READERS[kind]
    params = {key: value for key, value in QUICK_JSON["params"].items() if key != "whole"}
    record = {**RECORD, **QUICK_JSON, "params": params}
    stored_as = row(record, None)
    created_at = reader_class([])._created_at_text(stored_as[leaf_reader._CREATED_AT])
    assert leaf_reader._orjson_leaf(stored_as, created_at) == record_leaf_bytes(record)
