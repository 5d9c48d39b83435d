"""audittrail's own records in the demo: what the service writes about changes made through it.

They mirror what the domains write (applications/service.py, auth/keys.py, auth/users.py,
auth/sessions.py): the same event types, summaries and params, built by `log.system.new`. The
history opens with the applications and their params being created and the API keys that post
records being issued; sign-ins to audittrail, new users, role changes and key rotations follow.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime

from audittrail.access import ROLE_SCOPES, WRITER
from audittrail.applications import service as application_service
from audittrail.demo.catalog import Registered
from audittrail.demo.pools import Person, random_uuid
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World
from audittrail.log import system
from audittrail.log.append import NewRecord

WRITER_SCOPES = sorted(ROLE_SCOPES[WRITER])
PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def announcements(world: World) -> Iterator[NewRecord]:
    """The records of setting up: each application with its params, then the API keys."""
    for registered in world.applications.values():
        yield from _application_created(registered)
    for name in world.pools.api_keys:
        yield api_key_created(world, world.pools.people[0], name)


def _application_created(registered: Registered) -> Iterator[NewRecord]:
    application = registered.application
    yield system.new(
        event_type="application.created",
        summary=f"Application {application.key} created",
        actor="system",
        entity_type="application",
        entity_id=application.id,
        changes_registry=True,
        params=system.changes({}, application_service.audited(application)),
    )
    for definition in registered.definitions:
        yield system.new(
            event_type="param.created",
            summary=f"Param {definition.key} of application {application.key} created",
            actor="system",
            entity_type="param",
            entity_id=f"{application.key}.{definition.key}",
            changes_registry=True,
            params=system.changes({}, application_service.audited_definition(definition)),
        )


def api_key_created(world: World, creator: Person, name: str) -> NewRecord:
    prefix = _prefix(world.rng)
    application_key = name.split("-")[0].replace("-", "_")
    bound = world.applications.get(application_key)
    applications = [bound.application.id] if bound else None
    return system.new(
        event_type="api_key.created",
        summary=f"API key {name} ({prefix}…) created",
        actor=creator.email,
        entity_type="api_key",
        entity_id=random_uuid(world.rng),
        changes_registry=True,
        params={
            "name": {"old": None, "new": name},
            "scopes": {"old": None, "new": WRITER_SCOPES},
            "applications": {"old": None, "new": applications},
        },
        category=system.SECURITY,
        ip_address=world.address(creator),
    )


def _prefix(rng: random.Random) -> str:
    return "atk_" + "".join(rng.choices(PREFIX_ALPHABET, k=6))


def service_event(world: World, moment: datetime) -> NewRecord:
    """One of audittrail's own records later in the history, mostly sign-ins to it."""
    rng = world.rng
    admin = world.admin()
    kind = _KINDS.pick(rng)
    if kind == "auth.login":
        return system.new(
            event_type="auth.login",
            summary=f"{admin.email} signed in",
            actor=admin.email,
            entity_type="user",
            entity_id=admin.user_id,
            changes_registry=False,
            params={"session_id": random_uuid(rng)},
            category=system.SECURITY,
            ip_address=world.address(admin),
        )
    if kind == "auth.logout":
        return system.new(
            event_type="auth.logout",
            summary=f"{admin.email} signed out",
            actor=admin.email,
            entity_type="user",
            entity_id=admin.user_id,
            changes_registry=False,
            category=system.SECURITY,
            ip_address=world.address(admin),
        )
    if kind == "auth.login_failed":
        return system.new(
            event_type="auth.login_failed",
            summary=f"Failed login for {admin.email}",
            actor="anonymous",
            entity_type="user",
            entity_id=admin.user_id,
            changes_registry=False,
            params={"reason": "wrong_password", "email": admin.email},
            category=system.SECURITY,
            severity="medium",
            ip_address=world.address(admin),
        )
    if kind == "api_key.rotated":
        name = rng.choice(world.pools.api_keys)
        old, new = _prefix(rng), _prefix(rng)
        return system.new(
            event_type="api_key.rotated",
            summary=f"API key {name} ({new}…) rotated",
            actor=admin.email,
            entity_type="api_key",
            entity_id=random_uuid(rng),
            changes_registry=True,
            params={
                "prefix": {"old": old, "new": new},
                "previous_valid_until": None,
            },
            category=system.SECURITY,
            severity="medium",
            ip_address=world.address(admin),
        )
    if kind == "api_key.created":
        name = f"temporary-{rng.choice(world.pools.words)}-{rng.randrange(100)}"
        return api_key_created(world, admin, name)
    if kind == "api_key.revoked":
        name = f"temporary-{rng.choice(world.pools.words)}-{rng.randrange(100)}"
        return system.new(
            event_type="api_key.revoked",
            summary=f"API key {name} ({_prefix(rng)}…) revoked",
            actor="system" if rng.random() < 0.5 else admin.email,
            entity_type="api_key",
            entity_id=random_uuid(rng),
            changes_registry=True,
            params={"revoked_at": {"old": None, "new": moment.isoformat()}},
            category=system.SECURITY,
            severity="medium",
            ip_address=None,
        )
    return _user_change(world, kind, admin)


_KINDS = Weighted(
    (
        "auth.login",
        "auth.logout",
        "auth.login_failed",
        "api_key.rotated",
        "user.updated",
        "user.created",
        "api_key.created",
        "api_key.revoked",
    ),
    (60, 25, 8, 2, 2, 1.5, 1, 0.5),
)


def _user_change(world: World, kind: str, admin: Person) -> NewRecord:
    """A user of audittrail created, or their roles changed (an auditor made a reader...)."""
    rng = world.rng
    person = world.pools.people[rng.randrange(len(world.pools.people))]
    roles = sorted(rng.sample(sorted(ROLE_SCOPES), rng.randint(1, 2)))
    if kind == "user.created":
        return system.new(
            event_type="user.created",
            summary=f"User {person.email} created",
            actor=admin.email,
            entity_type="user",
            entity_id=person.user_id,
            changes_registry=True,
            params={
                "email": {"old": None, "new": person.email},
                "roles": {"old": None, "new": roles},
            },
            category=system.SECURITY,
            ip_address=world.address(admin),
        )
    before = sorted(rng.sample(sorted(ROLE_SCOPES), 1))
    return system.new(
        event_type="user.updated",
        summary=f"User {person.email} changed: roles",
        actor=admin.email,
        entity_type="user",
        entity_id=person.user_id,
        changes_registry=True,
        params={"roles": {"old": before, "new": roles}},
        category=system.SECURITY,
        severity="medium",
        ip_address=world.address(admin),
    )
