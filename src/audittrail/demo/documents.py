"""The documents application's records: views, downloads, uploads, sharing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from audittrail.demo.manual import DATA, SECURITY, by_key, by_person
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World, remove_at, stamp
from audittrail.log.append import NewRecord

_DOCUMENT_EVENTS = Weighted(
    ("uploaded", "shared_externally", "permission_changed", "deleted"), (70, 10, 12, 8)
)


def document_read(world: World, moment: datetime) -> NewRecord:
    """A view (most of them) or a download."""
    document = world.documents[world.document_index()]
    person = world.person()
    viewed = world.rng.random() < 0.7
    return by_person(
        world,
        "documents",
        person,
        event_type="document.viewed" if viewed else "document.downloaded",
        summary=f"{person.name} {'viewed' if viewed else 'downloaded'} {document.name}",
        category=DATA,
        severity="none",
        entity_type="document",
        entity_id=document.id,
        params={"file_name": document.name, "size_bytes": document.size},
    )


def document_change(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    person = world.person()
    event = _DOCUMENT_EVENTS.pick(rng)
    if event == "uploaded":
        document = world.new_document()
        world.documents.append(document)
    else:
        index = world.document_index()
        document = world.documents[index]
        if event == "deleted" and len(world.documents) > 100:
            remove_at(world.documents, index)
    params: dict[str, Any] = {"file_name": document.name}
    severity = _DOCUMENT_SEVERITY[event]
    if event == "uploaded":
        params.update(
            size_bytes=document.size,
            content_type=document.content_type,
            checksum=f"{rng.getrandbits(256):064x}",
            storage_gb=round(rng.uniform(1, 500), 2),
        )
    elif event == "shared_externally":
        recipients = rng.sample(world.pools.unknown_emails, rng.randint(1, 4))
        params.update(
            shared_externally=True,
            recipients=recipients,
            link_expires_at=stamp(moment + timedelta(days=rng.choice((1, 7, 30)))),
        )
    elif event == "permission_changed":
        params["shared_externally"] = False
        params["permission"] = rng.choice(("view", "comment", "edit"))
    return by_person(
        world,
        "documents",
        person,
        event_type=f"document.{event}",
        summary=f"{document.name} {event.replace('_', ' ')} by {person.name}",
        category=DATA,
        severity=severity,
        entity_type="document",
        entity_id=document.id,
        params=params,
    )


_DOCUMENT_SEVERITY = {
    "uploaded": "low",
    "shared_externally": "high",
    "permission_changed": "medium",
    "deleted": "medium",
}


def malware_found(world: World, moment: datetime) -> NewRecord:
    document = world.documents[world.document_index()]
    return by_key(
        world,
        "documents",
        world.api_key("documents"),
        event_type="document.malware_detected",
        summary=f"Malware found in {document.name}; the file was quarantined",
        category=SECURITY,
        severity="critical",
        entity_type="document",
        entity_id=document.id,
        params={"file_name": document.name, "signature": "Eicar-Test-Signature"},
    )
