"""Appends records to the log: gap-free sequence numbers, in commit order, across processes.

An append locks the log head (log/head.py), numbers the records after it, extends the Merkle
tree (log/tree_store.py), inserts the rows, counts them into the rollups (log/rollups.py) and
moves the head, all in the caller's transaction.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, cast

import orjson
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock, search_words
from audittrail.db import bulk, fts5
from audittrail.db.models import Application, Record
from audittrail.ids import new_id
from audittrail.integrity.canonical import LEAF_FIELDS, record_leaf_bytes, stored_json
from audittrail.log import head as log_head
from audittrail.log import rollups, tree_store

RECORDS = cast(Table, Record.__table__)


@dataclass
class NewRecord:
    """A record that passed validation and waits for its place in the log."""

    event_type: str
    summary: str
    # "manual": a client's; "system": the service's own (log/system.py); "import": a file's,
    # imported by an admin or the system (records/imports.py).
    source: Literal["manual", "system", "import"]
    actor: str | None
    category: str = "general"
    severity: str = "low"
    application: Application | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    ip_address: str | None = None
    # Whether it records a change to what records are checked against (keys, users, roles,
    # applications, param definitions): appending it bumps the registry version.
    changes_registry: bool = False
    # Params whose values full-text search must not find (sensitive ones): search_words.document.
    unsearchable: frozenset[str] = frozenset()
    # Its words (search_words.of), when made before the append (records.service.prepare, out
    # of the log's lock); the append makes them otherwise.
    words: str | None = None

    @property
    def application_key(self) -> str | None:
        return self.application.key if self.application else None


@dataclass(frozen=True, slots=True)
class AppendedRecord:
    """A record as appended: its stored columns, by their names, and its application."""

    id: str
    seq: int
    created_at: datetime
    event_type: str
    category: str
    summary: str
    severity: str
    actor: str | None
    application_id: str | None
    application_key: str | None
    entity_type: str | None
    entity_id: str | None
    params: dict[str, Any]
    metadata: dict[str, Any]
    ip_address: str | None
    source: str
    application: Application | None

    @classmethod
    def of(cls, record: Record) -> AppendedRecord:
        """The same for a record loaded through the ORM, its application loaded with it. The one
        place that knows the ORM calls the metadata column `metadata_` (a name declarative
        models reserve)."""
        columns = {name: getattr(record, name) for name in _SCALAR_COLUMNS}
        return cls(
            **columns,
            params=record.params,
            metadata=record.metadata_,
            application=record.application,
        )

    def leaf_fields(self) -> dict[str, Any]:
        """The fields the record's leaf is made of (integrity.canonical.record_leaf_bytes)."""
        return dict(zip(LEAF_FIELDS, _leaf_values(self), strict=True))


_JSON_COLUMNS = ("params", "metadata")
_SCALAR_COLUMNS = tuple(
    f.name for f in fields(AppendedRecord) if f.name not in (*_JSON_COLUMNS, "application")
)
_scalar_values = operator.attrgetter(*_SCALAR_COLUMNS)
_leaf_values = operator.attrgetter(*LEAF_FIELDS)
# The JSON columns as their text (canonical.stored_json), what the record stores of the Merkle
# tree (log/tree_store.py) and the words search finds it by (search_words.py).
_INSERTED = (*_SCALAR_COLUMNS, *_JSON_COLUMNS, "tree_hashes", "search_text")


async def append(
    session: AsyncSession,
    new_records: Sequence[NewRecord],
    *,
    locked: log_head.Head | None = None,
    times: Sequence[datetime] | None = None,
) -> list[AppendedRecord]:
    """Sequence the records, insert them and extend the tree, in the caller's transaction.

    ``locked``: the head as `log_head.lock` returned it earlier in this transaction, which saves
    taking the lock a second time (one round trip of every group commit). ``times``: each
    record's created_at, for loading history (`audittrail seed`), in place of now; they must
    not run backwards, from the head's last time on.
    """
    if not new_records:
        return []
    head = locked if locked is not None else await log_head.lock(session)
    created = _times(head, len(new_records), times)
    records = [
        _appended(new, seq=head.size + offset, created_at=created_at)
        for offset, (new, created_at) in enumerate(zip(new_records, created, strict=True))
    ]
    extension = await tree_store.extend(session, head.size, head.root_hash, records)
    search_texts = [
        new.words if new.words is not None else search_words.of(record, new.unsearchable)
        for record, new in zip(records, new_records, strict=True)
    ]
    rows = [
        (
            *_scalar_values(record),
            stored_json(record.params),
            stored_json(record.metadata),
            hashes,
            search_text,
        )
        for record, hashes, search_text in zip(
            records, extension.tree_hashes, search_texts, strict=True
        )
    ]
    await bulk.insert_rows(session, RECORDS, _INSERTED, rows, encoded=frozenset(_JSON_COLUMNS))
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql(
            fts5.INSERT,
            [(record.seq, text) for record, text in zip(records, search_texts, strict=True)],
        )
    await rollups.add(session, records)
    changes_registry = any(new.changes_registry for new in new_records)
    moved = log_head.Head(
        size=head.size + len(records),
        root_hash=extension.root,
        last_created_at=records[-1].created_at,
        registry_version=head.registry_version + changes_registry,
    )
    await log_head.advance(session, moved)
    return records


def _times(head: log_head.Head, count: int, times: Sequence[datetime] | None) -> list[datetime]:
    """Each record's created_at. It never runs backwards along the log, so ordering by time
    agrees with ordering by seq (the record list's keyset cursor relies on it)."""
    if times is None:
        now = clock.now()
        if head.last_created_at is not None and now < head.last_created_at:
            now = head.last_created_at
        return [now] * count
    given = list(times)
    previous = head.last_created_at
    for moment in given:
        if previous is not None and moment < previous:
            raise ValueError("created_at would run backwards along the log")
        previous = moment
    return given


# What a tlog-tiles entry bundle holds of one entry: its length is two bytes.
MAX_LEAF_BYTES = 0xFFFF


def oversized_leaf(new: NewRecord) -> int | None:
    """The size of the record's leaf bytes if they could be over MAX_LEAF_BYTES wherever in the
    log it lands (its bundle could never be served); None if they fit."""
    leaf = _widest_leaf(new)
    if _surely_fits(leaf):
        return None
    size = len(record_leaf_bytes(leaf))
    return size if size > MAX_LEAF_BYTES else None


def _surely_fits(leaf: dict[str, Any]) -> bool:
    """Whether orjson's text of the leaf is within half the limit. orjson writes it as RFC 8785
    does but for some floats, and never at under half their canonical length (1e-6 for
    0.000001): nearly every record is told apart for 1 µs instead of 4 (docs/NOTES.md)."""
    try:
        return len(orjson.dumps(leaf)) <= MAX_LEAF_BYTES // 2
    except orjson.JSONEncodeError:
        return False


def _widest_leaf(new: NewRecord) -> dict[str, Any]:
    """The record's leaf fields (integrity.canonical.record_leaf_bytes) as `append` will give
    them, but for what the log sets, here at its widest: the largest seq a leaf can carry (RFC
    8785 integers are exact doubles), an id and a created_at as long as every one. So the leaf
    is at least as long as the record's will be wherever in the log it lands."""
    application = new.application
    return {
        "id": "00000000-0000-0000-0000-000000000000",
        "seq": 2**53 - 1,
        "created_at": "9999-12-31T23:59:59.999999Z",
        "event_type": new.event_type,
        "category": new.category,
        "summary": new.summary,
        "severity": new.severity,
        "actor": new.actor,
        "application_id": application.id if application else None,
        "application_key": application.key if application else None,
        "entity_type": new.entity_type,
        "entity_id": new.entity_id,
        "params": new.params,
        "metadata": new.metadata,
        "ip_address": new.ip_address,
        "source": new.source,
    }


def _appended(new: NewRecord, *, seq: int, created_at: datetime) -> AppendedRecord:
    return AppendedRecord(
        id=new_id(),
        seq=seq,
        created_at=created_at,
        event_type=new.event_type,
        category=new.category,
        summary=new.summary,
        severity=new.severity,
        actor=new.actor,
        application_id=new.application.id if new.application else None,
        application_key=new.application.key if new.application else None,
        entity_type=new.entity_type,
        entity_id=new.entity_id,
        params=new.params,
        metadata=new.metadata,
        ip_address=new.ip_address,
        source=new.source,
        application=new.application,
    )
