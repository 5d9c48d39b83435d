"""The log's records as the verifier reads them: leaf hashes, a chunk at a time, in seq order.

At a million records SQLAlchemy's row handling cost more than the hashing, so this reads with
the drivers themselves (the standard library's sqlite3, read-only; asyncpg) and decodes only
what a leaf needs. A leaf is first encoded a quicker way, taken only where it gives the stored
leaf hash; any other record gets the reference encoding, `canonical.record_leaf_hash`.
Encoding is still most of the work, so a large log is hashed by worker processes (this module
run with ``python -m``), each reading every n-th chunk over its own connection, while the
caller only fits the hashes together.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import pickle
import re
import signal
import sqlite3
import struct
import sys
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import asyncpg
import orjson

from audittrail.integrity import canonical
from audittrail.integrity.hashing import HASH_SIZE, leaf_hash

CHUNK = 5000
# Measured on two cores, which the database server shares: more workers would take turns, and
# each holds a database connection. Fewer where there is one core.
WORKERS = min(2, os.cpu_count() or 1)
# Below this many records, starting the workers takes about as long as they save.
PARALLEL_FROM = 20_000

Row = Sequence[Any]
"""A record's leaf fields in canonical.MEMBERS order, then the tree's leaf hash for its seq."""

_MEMBERS = canonical.MEMBERS
_CREATED_AT = _MEMBERS.index("created_at")
_SEQ = _MEMBERS.index("seq")

_COLUMNS = ", ".join(_MEMBERS)
_QUERY = (
    f"SELECT {_COLUMNS}, substr(tree_hashes, 1, {HASH_SIZE}) FROM records"
    " WHERE seq >= {start} AND seq < {end} ORDER BY seq"
)
_FRAME = struct.Struct(">Q")
_SQLITE_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")


@dataclass(frozen=True)
class LeafChunk:
    """The records of one seq range, in seq order, as the audit takes them."""

    seqs: list[int]
    leaves: list[bytes | ValueError]
    """Each record's leaf hash, or why it has none."""
    stored: list[bytes | None]
    """The tree's leaf hash for each seq; None where the tree lacks it."""

    def __len__(self) -> int:
        return len(self.seqs)


class RowReader(ABC):
    """One connection to the log's database, reading records by seq range."""

    @abstractmethod
    async def rows(self, start: int, end: int) -> Sequence[Row]:
        """The records with start <= seq < end, in seq order."""

    @abstractmethod
    async def close(self) -> None: ...

    async def chunk(self, start: int, end: int) -> LeafChunk:
        rows = await self.rows(start, end)
        return LeafChunk(
            seqs=[row[_SEQ] for row in rows],
            leaves=[self._leaf(row) for row in rows],
            stored=[row[-1] or None for row in rows],
        )

    def _leaf(self, row: Row) -> bytes | ValueError:
        """The record's leaf hash, or why it has none.

        A quick encoding is only taken where it gives the stored leaf hash; any other record,
        a tampered one included, is left to the reference encoding, so that what the audit
        finds never rests on a quick one.
        """
        stored = row[-1]
        quick = None if stored is None else self._quick_leaf(row, stored)
        return self._reference_leaf(row) if quick is None else quick

    def _quick_leaf(self, row: Row, stored: bytes) -> bytes | None:
        """The stored leaf hash if a quick encoding of the row gives it."""
        try:
            created_at = self._created_at_text(row[_CREATED_AT])
        except (ValueError, TypeError):
            return None
        for quick_leaf_bytes in QUICK_WAYS:
            try:
                quick = leaf_hash(quick_leaf_bytes(row, created_at))
            except (ValueError, TypeError):
                continue
            if quick == stored:
                return quick
        return None

    def _reference_leaf(self, row: Row) -> bytes | ValueError:
        # Not strict: the stored leaf hash after the leaf fields is left out.
        entry = dict(zip(_MEMBERS, row, strict=False))
        try:
            entry["created_at"] = self._created_at(entry["created_at"])
            entry["params"] = _json_value(entry["params"])
            entry["metadata"] = _json_value(entry["metadata"])
            return canonical.record_leaf_hash(entry)
        except ValueError as error:
            # As a plain ValueError: some of rfc8785's lose their message through pickle.
            return ValueError(str(error))

    @abstractmethod
    def _created_at(self, stored: Any) -> Any:
        """The stored timestamp as SQLAlchemy reads it, for record_leaf_bytes."""

    @abstractmethod
    def _created_at_text(self, stored: Any) -> str:
        """The leaf's created_at text for a stored timestamp of the usual form; ValueError or
        TypeError for any other."""


def _orjson_leaf(row: Row, created_at: str) -> bytes:
    """The leaf written by orjson in one call, with the JSON columns decoded by it: RFC 8785's
    bytes for the usual records (not where params hold 5.0 or 1e21, or keys past U+FFFF) at
    about half the cost of the project's own encoding, and the same on both databases.

    Any correct JSON encoder may write a quick leaf. Where its bytes give the stored leaf hash
    they are the bytes the service hashed, and a correct encoder's bytes decode to the values
    it was given, so those are the values the service wrote: the columns hold them, the
    timestamp's text being one stored value's only. (orjson decodes JSON as the standard
    library does wherever it decodes it at all, but for integers past 64 bits, which it makes
    floats; no leaf holds a number that large.)
    """
    return _orjson_bytes(row, created_at, orjson.loads)


def _fast_form_leaf(row: Row, created_at: str) -> bytes:
    """orjson's leaf again, with the JSON columns' values in canonical.fast_form: whole floats
    as integers, ValueError for what only rfc8785 writes right. orjson writes the other floats
    of that form as the standard library does, so these are RFC 8785's bytes for every record
    the reference encoding writes without rfc8785 (a differential test holds them to it)."""
    return _orjson_bytes(row, created_at, _fast_form_json)


def _fast_form_json(stored: Any) -> Any:
    return canonical.fast_form(orjson.loads(stored))


def _orjson_bytes(row: Row, created_at: str, json_value: Callable[[Any], Any]) -> bytes:
    """The leaf members written by orjson, the JSON columns' texts made values by json_value."""
    # Not strict: the stored leaf hash after the leaf fields is left out.
    members = dict(zip(_MEMBERS, row, strict=False))
    members["created_at"] = created_at
    members["metadata"] = json_value(members["metadata"])
    members["params"] = json_value(members["params"])
    return orjson.dumps(members, option=orjson.OPT_SORT_KEYS)


QUICK_WAYS = (_orjson_leaf, _fast_form_leaf)
"""The quick encodings, in the order they are tried: ValueError or TypeError for a row of an
unusual shape."""


Connect = tuple[str, dict[str, Any]]
"""A driver, "sqlite" or "asyncpg", and the arguments of its connect()."""


def driver_connect(database_url: str) -> Connect:
    """How the drivers reach the database at this URL: SQLite read-only, so the verifier cannot
    change what it checks."""
    # Imported here, not at the top: worker processes start faster without SQLAlchemy.
    from sqlalchemy.engine import make_url

    from audittrail.db.engine import SQLITE_BUSY_TIMEOUT_MS

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        uri = f"file:{quote(url.database or '')}?mode=ro"
        return "sqlite", {"database": uri, "uri": True, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    return "asyncpg", {
        "dsn": url.set(drivername="postgresql").render_as_string(hide_password=False)
    }


async def open_reader(connect: Connect) -> RowReader:
    driver, arguments = connect
    if driver == "sqlite":
        # Used by one thread at a time, if not always the same one.
        return _SqliteReader(sqlite3.connect(**arguments, check_same_thread=False))
    return _PostgresReader(await asyncpg.connect(**arguments))


class _SqliteReader(RowReader):
    _query = _QUERY.format(start=":start", end=":end")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def rows(self, start: int, end: int) -> list[Row]:
        return await asyncio.to_thread(self._fetch, start, end)

    def _fetch(self, start: int, end: int) -> list[Row]:
        return self._connection.execute(self._query, {"start": start, "end": end}).fetchall()

    async def close(self) -> None:
        self._connection.close()

    # Stored as SQLAlchemy writes it: naive UTC, as text.

    def _created_at(self, stored: Any) -> Any:
        if not isinstance(stored, str):
            return stored
        moment = datetime.fromisoformat(stored)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def _created_at_text(self, stored: Any) -> str:
        """SQLAlchemy's text, which always has microseconds, with the leaf's T and Z: one
        stored text gives one leaf text, and only that one, so the stored leaf hash vouches
        for the stored text."""
        if not isinstance(stored, str) or not _SQLITE_TIMESTAMP.fullmatch(stored):
            raise ValueError("created_at is not SQLAlchemy's naive UTC text")
        return f"{stored[:10]}T{stored[11:]}Z"


class _PostgresReader(RowReader):
    _query = _QUERY.format(start="$1", end="$2")

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def rows(self, start: int, end: int) -> list[Row]:
        rows: list[Row] = await self._connection.fetch(self._query, start, end)
        return rows

    async def close(self) -> None:
        await self._connection.close()

    # Stored as TIMESTAMPTZ, read as an aware datetime in UTC.

    def _created_at(self, stored: Any) -> Any:
        return stored

    def _created_at_text(self, stored: Any) -> str:
        if not isinstance(stored, datetime):
            raise TypeError("created_at is not a datetime")
        text = stored.isoformat(timespec="microseconds")
        if not text.endswith("+00:00"):
            raise ValueError("created_at is not in UTC")
        return text.removesuffix("+00:00") + "Z"


def _json_value(stored: Any) -> Any:
    """A JSON column's value: both drivers hand over the stored text, which SQLAlchemy decodes."""
    return json.loads(stored) if isinstance(stored, str) else stored


async def leaf_chunks(database_url: str, end: int) -> AsyncGenerator[LeafChunk, None]:
    """The records with seq from 0 to end, and on to where the last CHUNK ends, chunk by chunk.

    Close it (contextlib.aclosing) when leaving early: that stops the workers.
    """
    connect = driver_connect(database_url)
    ranges = [(start, start + CHUNK) for start in range(0, end, CHUNK)]
    chunks = (
        _from_workers(connect, ranges) if end >= PARALLEL_FROM else _in_process(connect, ranges)
    )
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            yield chunk


async def _in_process(
    connect: Connect, ranges: list[tuple[int, int]]
) -> AsyncGenerator[LeafChunk, None]:
    reader = await open_reader(connect)
    try:
        for start, end in ranges:
            yield await reader.chunk(start, end)
    finally:
        await reader.close()


async def _from_workers(
    connect: Connect, ranges: list[tuple[int, int]]
) -> AsyncGenerator[LeafChunk, None]:
    workers = [_Worker() for _ in range(min(WORKERS, len(ranges)))]
    try:
        for number, worker in enumerate(workers):
            await worker.start(connect, ranges[number :: len(workers)])
        for index in range(len(ranges)):
            yield await workers[index % len(workers)].next_chunk()
        for worker in workers:
            await worker.finish()
    finally:
        for worker in workers:
            await worker.stop()


class _Worker:
    """A process that hashes every n-th chunk: its job on stdin, length-prefixed pickles out."""

    _process: asyncio.subprocess.Process | None = None

    async def start(self, connect: Connect, ranges: list[tuple[int, int]]) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**20,
        )
        # On stdin, not the command line: the arguments may hold a password.
        job = {"connect": connect, "ranges": ranges}
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(job).encode())
        await self._process.stdin.drain()
        self._process.stdin.close()

    async def next_chunk(self) -> LeafChunk:
        assert self._process is not None and self._process.stdout is not None
        try:
            header = await self._process.stdout.readexactly(_FRAME.size)
            payload = await self._process.stdout.readexactly(_FRAME.unpack(header)[0])
        except asyncio.IncompleteReadError:
            await self.finish()
            raise RuntimeError("a leaf reader worker stopped early") from None
        return _unpacked(pickle.loads(payload))

    async def finish(self) -> None:
        assert self._process is not None
        status = await self._process.wait()
        if status != 0:
            raise RuntimeError(f"a leaf reader worker failed (exit status {status})")

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


Packed = tuple[int, bytes] | tuple[list[int], list[bytes | ValueError], list[bytes | None]]
"""A chunk as a worker sends it: a clean one (the next seqs from ``start``, each leaf its stored
hash) as its start and leaves joined, any other as its three lists. Plain types: the worker's
LeafChunk is __main__.LeafChunk, unknown to the caller; and a clean chunk, nearly every one,
costs the caller a tenth of the unpickling."""


def _packed(start: int, chunk: LeafChunk) -> Packed:
    if chunk.leaves == chunk.stored and chunk.seqs == list(range(start, start + len(chunk))):
        return start, b"".join(cast("list[bytes]", chunk.leaves))
    return chunk.seqs, chunk.leaves, chunk.stored


def _unpacked(packed: Packed) -> LeafChunk:
    if len(packed) == 3:
        return LeafChunk(*packed)
    start, joined = packed
    leaves = [joined[i : i + HASH_SIZE] for i in range(0, len(joined), HASH_SIZE)]
    seqs = list(range(start, start + len(leaves)))
    # One list as both: the audit only reads them.
    return LeafChunk(
        seqs, cast("list[bytes | ValueError]", leaves), cast("list[bytes | None]", leaves)
    )


async def _work(connect: Connect, ranges: list[tuple[int, int]], out: BinaryIO) -> None:
    reader = await open_reader(connect)
    try:
        for start, end in ranges:
            packed = _packed(start, await reader.chunk(start, end))
            payload = pickle.dumps(packed, pickle.HIGHEST_PROTOCOL)
            out.write(_FRAME.pack(len(payload)))
            out.write(payload)
            out.flush()
    finally:
        await reader.close()


def main() -> None:
    """A worker's life: read the job, write its chunks, exit (a traceback on stderr if it fails)."""
    # One job, and reference counting frees each chunk: the collector would only walk them.
    gc.disable()
    # Ctrl-C is for the caller, which stops the workers; one traceback is enough.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    job = json.loads(sys.stdin.buffer.read())
    driver, arguments = job["connect"]
    ranges = [(start, end) for start, end in job["ranges"]]
    asyncio.run(_work((driver, arguments), ranges, sys.stdout.buffer))


if __name__ == "__main__":
    main()
