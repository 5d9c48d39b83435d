"""Manual records as the product posts them, shaped as records.service.prepare shapes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from audittrail.demo.pools import Person
from audittrail.demo.world import World
from audittrail.log.append import NewRecord

AUTHENTICATION = "authentication"
ACCESS = "access"
BILLING = "billing"
CUSTOMERS = "customers"
CONFIGURATION = "configuration"
DATA = "data"
DEPLOYMENT = "deployment"
SECURITY = "security"
GENERAL = "general"
CATEGORIES = (
    AUTHENTICATION,
    ACCESS,
    BILLING,
    CUSTOMERS,
    CONFIGURATION,
    DATA,
    DEPLOYMENT,
    SECURITY,
    GENERAL,
)

Builder = Callable[[World, datetime], NewRecord]


def record(
    world: World,
    application: str | None,
    actor: str,
    address: str,
    person: Person | None,
    **fields: Any,
) -> NewRecord:
    """A manual record as records.service.prepare makes it: sensitive params unsearchable."""
    registered = world.applications[application] if application else None
    return NewRecord(
        source="manual",
        actor=actor,
        application=registered.application if registered else None,
        unsearchable=registered.unsearchable if registered else frozenset(),
        ip_address=address,
        metadata=world.metadata(person),
        **fields,
    )


def by_person(world: World, application: str | None, person: Person, **fields: Any) -> NewRecord:
    return record(world, application, person.email, world.address(person), person, **fields)


def by_key(world: World, application: str | None, key: str, **fields: Any) -> NewRecord:
    return record(world, application, key, world.server_address(), None, **fields)
