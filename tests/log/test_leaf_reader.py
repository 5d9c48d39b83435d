"""The verifier's database reader: the leaf hashes it reads are the reference encoding's, always.

Records are written as the service stores them (log/append.py: JSON as canonical.stored_json's
text, through db.bulk), with whatever stored leaf hash a test wants, and read back through
`leaf_reader.leaf_chunks` over each driver, as `audittrail verify --database` reads them.
Whichever way the reader takes to a leaf (its quick encodings, or the reference), the leaf must
be the reference one, or the reference's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table

from audittrail.db import bulk
from audittrail.db.engine import Database
from audittrail.db.models import Record
from audittrail.integrity.canonical import LEAF_FIELDS, record_leaf_hash, stored_json
from audittrail.log import leaf_reader
from tests.integrity.test_canonical import RECORD

Fields = dict[str, Any]
RECORDS = cast(Table, Record.__table__)
JSON_COLUMNS = ("params", "metadata")
SCALAR_COLUMNS = tuple(name for name in LEAF_FIELDS if name not in JSON_COLUMNS)


def reference(record: Fields) -> bytes | str:
    """The leaf hash, or the message of the error the reference encoding raises."""
    try:
        return record_leaf_hash(record)
    except ValueError as error:
        return str(error)


async def store(database_url: str, records: list[Fields], stored: list[bytes | None]) -> None:
    """Insert the records as the service would, each with this stored leaf hash (None: the tree
    has none for it)."""
    rows = [
        (
            *(record[name] for name in SCALAR_COLUMNS),
            stored_json(record["params"]),
            stored_json(record["metadata"]),
            leaf,
        )
        for record, leaf in zip(records, stored, strict=True)
    ]
    columns = (*SCALAR_COLUMNS, *JSON_COLUMNS, "tree_hashes")
    database = Database.connect(database_url)
    try:
        async with database.write_session() as session:
            await bulk.insert_rows(session, RECORDS, columns, rows, encoded=frozenset(JSON_COLUMNS))
    finally:
        await database.dispose()


async def read(database_url: str, end: int) -> dict[int, bytes | str]:
    """Each seq's leaf as the reader finds it (an error as its message), and its stored hash."""
    found: dict[int, bytes | str] = {}
    chunks = leaf_reader.leaf_chunks(database_url, end)
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            for seq, leaf in zip(chunk.seqs, chunk.leaves, strict=True):
                found[seq] = str(leaf) if isinstance(leaf, ValueError) else leaf
    return found


def numbered(records: list[Fields], first: int) -> list[Fields]:
    return [
        {**record, "seq": seq, "id": f"leaf-reader-{seq}"}
        for seq, record in enumerate(records, start=first)
    ]


# PostgreSQL's jsonb reads 1e21 back as an integer past 2**53, which ingest refuses for that.
STORABLE = {
    **RECORD,
    "params": {k: v for k, v in cast(Fields, RECORD["params"]).items() if k != "ratio"},
}
UNUSUAL = [
    STORABLE,
    {**STORABLE, "actor": None, "summary": 'tab\t "quoted" \\ bell\x07', "metadata": {}},
    {**STORABLE, "params": {"big": 2**60, "whole": 7157.0}},  # 2**60: beyond what RFC 8785 takes
    {**STORABLE, "created_at": datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=UTC)},
    {**STORABLE, "created_at": datetime(2026, 11, 27, 2, 20, 36, tzinfo=UTC)},  # no microseconds
]


@pytest.mark.parametrize("stored", ["the leaf", "another", "none"])
def test_leaves_are_the_reference_leaves_whatever_is_stored(database_url: str, stored: str) -> None:
    records = numbered(UNUSUAL, 0)
    expected = [reference(record) for record in records]
    stored_hashes: list[bytes | None] = {
        "the leaf": [leaf if isinstance(leaf, bytes) else None for leaf in expected],
        "another": [os.urandom(32) for _ in records],
        "none": [None for _ in records],
    }[stored]
    asyncio.run(store(database_url, records, stored_hashes))
    found = asyncio.run(read(database_url, len(records)))
    assert [found[record["seq"]] for record in records] == expected
    assert isinstance(expected[0], bytes) and isinstance(expected[2], str)


@pytest.mark.parametrize(
    "form", ["2026-11-27T02:20:36", "2026-11-27 02:20:36", "2026-11-27 02:20:36.000000+00:00"]
)
def test_a_timestamp_stored_in_another_form_is_read_as_the_instant_it_names(
    tmp_path: Path, sqlite_template: Path, form: str
) -> None:
    """SQLite keeps created_at as text (PostgreSQL a timestamp): one of another form than
    SQLAlchemy writes still gives the leaf of the instant it names, never a leaf of the text as
    it is."""
    path = tmp_path / "audittrail.db"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite:///{path}"
    [record] = numbered([STORABLE], 0)
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            f"INSERT INTO records ({', '.join(LEAF_FIELDS)}) VALUES ({', '.join('?' * 16)})",
            [
                form
                if name == "created_at"
                else stored_json(record[name])
                if name in JSON_COLUMNS
                else record[name]
                for name in LEAF_FIELDS
            ],
        )
    moment = datetime(2026, 11, 27, 2, 20, 36, tzinfo=UTC)
    assert asyncio.run(read(database_url, 1)) == {0: reference({**record, "created_at": moment})}


# Each database's examples so far, so that each example's records follow the last one's.
_examples: dict[str, itertools.count[int]] = {}

# What the service stores: no NUL (PostgreSQL refuses it in text), no lone surrogate (no driver
# can encode one), numbers within ±(2**53 - 1) (ingest refuses others: limits.py).
storable_texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))
short_texts = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20
)
storable_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(min_value=-(2**53) + 1, max_value=2**53 - 1, allow_nan=False, allow_infinity=False)
    | storable_texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(short_texts, children, max_size=4)
    ),
    max_leaves=12,
)
storable_records = st.fixed_dictionaries(
    {
        "created_at": st.datetimes(
            min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
        ),
        "event_type": short_texts,
        "category": short_texts,
        "summary": short_texts,
        "severity": st.sampled_from(["critical", "high", "medium", "low", "none"]),
        "actor": st.none() | short_texts,
        "application_id": st.none(),
        "application_key": st.none() | short_texts,
        "entity_type": st.none() | short_texts,
        "entity_id": st.none() | short_texts,
        "params": st.dictionaries(short_texts, storable_json, max_size=4),
        "metadata": st.dictionaries(short_texts, storable_json, max_size=4),
        "ip_address": st.none() | st.just("203.0.113.7") | st.just("2001:db8::1"),
        "source": st.sampled_from(["manual", "system"]),
    }
)


@given(st.lists(storable_records, min_size=1, max_size=25))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_the_reader_gives_the_reference_leaf_of_any_stored_record(
    database_url: str, records: list[Fields]
) -> None:
    """Each example appends its records after the last one's: the log only grows."""
    first = next(_examples.setdefault(database_url, itertools.count())) * 100
    records = numbered(records, first)
    expected = [reference(record) for record in records]
    stored = [leaf if isinstance(leaf, bytes) else None for leaf in expected]
    asyncio.run(store(database_url, records, stored))
    found = asyncio.run(read(database_url, first + len(records)))
    assert [found[record["seq"]] for record in records] == expected
