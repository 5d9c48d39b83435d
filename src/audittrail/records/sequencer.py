"""Appends records to the log: gap-free sequence numbers, in commit order, across processes.

Every append locks the single log_head row first (SELECT ... FOR UPDATE on PostgreSQL;
on SQLite the writer's BEGIN IMMEDIATE already serialises writers). The lock is held until
the caller's transaction commits, so sequence numbers are handed out in commit order and
a rolled-back transaction gives its numbers back.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail import clock
from audittrail.db import bulk
from audittrail.db.models import Application, LogHead, Record
from audittrail.ids import new_id
from audittrail.integrity import store as tree_store
from audittrail.integrity.canonical import MEMBERS, JSONText, stored_json

LOG_HEAD_ID = 1
RECORDS = cast(Table, Record.__table__)


@dataclass
class NewRecord:
    """A record that passed validation and waits for its place in the log."""

    event_type: str
    summary: str
    source: Literal["manual", "system"]
    actor: str | None
    category: str = "general"
    severity: str = "low"
    application: Application | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class AppendedRecord:
    """A record as appended: the stored columns under the ORM model's attribute names (so
    responses and leaf encoding read it like a loaded `Record`) and its application."""

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
    metadata_: dict[str, Any]
    ip_address: str | None
    source: str
    application: Application | None
    # params and metadata as stored: their JSON text, which the leaf takes as it is where it is
    # canonical (canonical.stored_json).
    params_json: str = field(init=False)
    metadata_json: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params_json", stored_json(self.params))
        object.__setattr__(self, "metadata_json", stored_json(self.metadata_))

    @classmethod
    def of(cls, record: Record) -> AppendedRecord:
        """The same for a record loaded through the ORM, its application loaded with it."""
        columns = {name: getattr(record, name) for name in _ATTRIBUTES}
        return cls(**columns, application=record.application)

    def row(self) -> tuple[Any, ...]:
        """The values to insert, in the order of COLUMNS (JSON_COLUMNS as their text)."""
        return _column_values(self)

    def leaf_members(self) -> list[Any]:
        """The leaf's members in canonical.MEMBERS order."""
        members = list(_leaf_members(self))
        if type(self.params_json) is not JSONText:
            members[_PARAMS] = self.params
        if type(self.metadata_json) is not JSONText:
            members[_METADATA] = self.metadata_
        return members


_STORED_AS = {"params": "params_json", "metadata_": "metadata_json"}
_ATTRIBUTES = tuple(
    name for name in AppendedRecord.__slots__ if name not in ("application", *_STORED_AS.values())
)
_column_values = operator.attrgetter(*(_STORED_AS.get(name, name) for name in _ATTRIBUTES))
_leaf_members = operator.attrgetter(
    *(_STORED_AS.get("metadata_" if name == "metadata" else name, name) for name in MEMBERS)
)
_PARAMS = MEMBERS.index("params")
_METADATA = MEMBERS.index("metadata")
COLUMNS = tuple("metadata" if name == "metadata_" else name for name in _ATTRIBUTES)
JSON_COLUMNS = frozenset(("params", "metadata"))
# With what the record stores of the Merkle tree (integrity/store.py).
_INSERTED = (*COLUMNS, "tree_hashes")


@dataclass(frozen=True)
class Head:
    size: int
    root_hash: bytes
    last_created_at: datetime | None
    registry_version: int


LOG_HEAD = cast(Table, LogHead.__table__)
_LOCK_HEAD = (
    select(
        LOG_HEAD.c.size,
        LOG_HEAD.c.root_hash,
        LOG_HEAD.c.last_created_at,
        LOG_HEAD.c.registry_version,
    )
    .where(LOG_HEAD.c.id == LOG_HEAD_ID)
    .with_for_update()
)
_UPDATE_HEAD = update(LOG_HEAD).where(LOG_HEAD.c.id == LOG_HEAD_ID)


async def lock(session: AsyncSession) -> Head:
    """Take the log's write lock for the rest of the transaction; the head as it stands."""
    # Core on the session's connection: the ORM's statement handling costs more than the
    # statement, and every group commit runs these.
    connection = await session.connection()
    head = (await connection.execute(_LOCK_HEAD)).one()
    return Head(*head)


async def registry_version(session: AsyncSession) -> int:
    """The version of what records are checked against, as committed (no lock taken)."""
    query = select(LogHead.registry_version).where(LogHead.id == LOG_HEAD_ID)
    return (await session.execute(query)).scalar_one()


async def append(
    session: AsyncSession, new_records: Sequence[NewRecord], *, locked: Head | None = None
) -> list[AppendedRecord]:
    """Sequence the records, insert them and extend the tree, in the caller's transaction.

    ``locked``: the head as `lock` returned it earlier in this transaction, which saves taking
    the lock a second time (one round trip of every group commit).
    """
    if not new_records:
        return []
    head = locked if locked is not None else await lock(session)
    # created_at never runs backwards along the log, so ordering by time agrees with seq.
    created_at = clock.now()
    if head.last_created_at is not None and created_at < head.last_created_at:
        created_at = head.last_created_at
    records = [
        _appended(new, seq=head.size + offset, created_at=created_at)
        for offset, new in enumerate(new_records)
    ]
    extension = await tree_store.extend(session, head.size, head.root_hash, records)
    rows = [
        (*record.row(), tree_hashes)
        for record, tree_hashes in zip(records, extension.tree_hashes, strict=True)
    ]
    await bulk.insert_rows(session, RECORDS, _INSERTED, rows, encoded=JSON_COLUMNS)
    changes_registry = any(new.source == "system" for new in new_records)
    await (await session.connection()).execute(
        _UPDATE_HEAD,
        {
            "size": head.size + len(records),
            "root_hash": extension.root,
            "last_created_at": created_at,
            "registry_version": head.registry_version + changes_registry,
        },
    )
    return records


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
        metadata_=new.metadata,
        ip_address=new.ip_address,
        source=new.source,
        application=new.application,
    )
