"""System records: what the service writes about changes made through it, in their transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.records.sequencer import AppendedRecord, NewRecord, append

SYSTEM = "system"
SECURITY = "security"


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The fields whose value differs, as {field: {"old": ..., "new": ...}}."""
    return {
        name: {"old": old.get(name), "new": value}
        for name, value in new.items()
        if old.get(name) != value
    }


async def write(
    session: AsyncSession,
    *,
    event_type: str,
    summary: str,
    actor: str | None,
    entity_type: str,
    entity_id: str | None,
    params: dict[str, Any] | None = None,
    category: str = SYSTEM,
    severity: str = "low",
    ip_address: str | None = None,
) -> AppendedRecord:
    [record] = await append(
        session,
        [
            NewRecord(
                event_type=event_type,
                summary=summary,
                source="system",
                actor=actor,
                category=category,
                severity=severity,
                entity_type=entity_type,
                entity_id=entity_id,
                params=params or {},
                ip_address=ip_address,
            )
        ],
    )
    return record
