"""System records: what the service writes about what is done through it.

A record of a change is appended in the change's own transaction (`write`); one that records no
change of ours, a failed sign-in, joins the group commit (`Queue`).

Each says whether it records a change to what records are checked against (API keys, users,
roles, applications, param definitions): only those bump the registry version, which sends
every record checked against the version before back to be checked again
(records/registry.py). Sign-ins, sign-outs and failed sign-ins change nothing records are
checked against, and must not stall the writes of everyone else: an attacker can send failed
sign-ins as fast as they like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Protocol, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.errors import PayloadTooLarge
from audittrail.log.append import (
    MAX_LEAF_BYTES,
    AppendedRecord,
    NewRecord,
    append,
    oversized_leaf,
)

SYSTEM = "system"
SECURITY = "security"


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, as {field: {"old": ..., "new": ...}}."""
    return {
        name: {"old": old.get(name), "new": value}
        for name, value in new.items()
        if old.get(name) != value
    }


class Fields(TypedDict):
    """What a system record says; the rest (id, seq, time, source) the log gives it."""

    event_type: str
    summary: str
    actor: str | None
    entity_type: str
    entity_id: str | None
    changes_registry: bool
    params: NotRequired[dict[str, Any]]
    category: NotRequired[str]
    severity: NotRequired[str]
    ip_address: NotRequired[str | None]


def new(**fields: Unpack[Fields]) -> NewRecord:
    """A system record, to append now (`write`) or to hand to the group commit (`Queue`)."""
    return NewRecord(
        event_type=fields["event_type"],
        summary=fields["summary"],
        source="system",
        actor=fields["actor"],
        category=fields.get("category", SYSTEM),
        severity=fields.get("severity", "low"),
        entity_type=fields["entity_type"],
        entity_id=fields["entity_id"],
        params=fields.get("params", {}),
        ip_address=fields.get("ip_address"),
        changes_registry=fields["changes_registry"],
    )


async def write(session: AsyncSession, **fields: Unpack[Fields]) -> AppendedRecord:
    """Append a system record in the caller's transaction: with the change it records,
    committed or rolled back together."""
    record = new(**fields)
    size = oversized_leaf(record)
    if size is not None:
        raise PayloadTooLarge(
            f"This change would be recorded in {size} bytes as the log stores it; the limit is "
            f"{MAX_LEAF_BYTES}. Make it smaller (fewer or shorter values, a shorter text).",
            code="RECORD_TOO_LARGE",
        )
    [appended] = await append(session, [record])
    return appended


class Queue(Protocol):
    """The process's group commit (records/writer.py), on `app.state.writer`: a record about
    nothing else the caller writes (a failed sign-in) joins the next batch there instead of
    taking the log's lock for a transaction of its own."""

    async def submit(self, records: Sequence[NewRecord]) -> object:
        """Append the records with others'; return once they are committed."""
