"""The accounts application's records: sign-ins (and failed ones), roles, sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from audittrail.demo import catalog
from audittrail.demo.manual import ACCESS, AUTHENTICATION, SECURITY, by_person, record
from audittrail.demo.pools import Person
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World, stamp
from audittrail.log.append import NewRecord

_SIGN_IN = Weighted(catalog.SIGN_IN_METHODS, (55, 35, 8, 2))
_FAILURES = Weighted(("wrong_password", "mfa_failed", "expired"), (80, 15, 5))


def login(world: World, moment: datetime) -> NewRecord:
    person = world.person()
    rng = world.rng
    method = _SIGN_IN.pick(rng)
    how = {"sso": " with SSO", "passkey": " with a passkey"}.get(method, "")
    return by_person(
        world,
        "accounts",
        person,
        event_type="user.login",
        summary=f"{person.name} signed in{how}",
        category=AUTHENTICATION,
        severity="low",
        entity_type="user",
        entity_id=person.user_id,
        params={
            "email": person.email,
            "method": method,
            "mfa": method == "password" and rng.random() < 0.6,
            "session_started_at": stamp(moment),
            "device": world.device(person),
            "country": person.country,
        },
    )


def logout(world: World, moment: datetime) -> NewRecord:
    person = world.person()
    started = moment - timedelta(minutes=world.rng.randint(3, 600))
    return by_person(
        world,
        "accounts",
        person,
        event_type="user.logout",
        summary=f"{person.name} signed out",
        category=AUTHENTICATION,
        severity="none",
        entity_type="user",
        entity_id=person.user_id,
        params={"email": person.email, "session_started_at": stamp(started)},
    )


def login_failed(world: World, moment: datetime) -> NewRecord:
    """A mistyped password now and then; an unknown email, less often, is more suspicious."""
    rng = world.rng
    person = world.person()
    if rng.random() < 0.25:
        email = rng.choice(world.pools.unknown_emails)
        return failed_login(world, email, None, world.address(person), "unknown_user", 1)
    reason = _FAILURES.pick(rng)
    return failed_login(
        world, person.email, person, world.address(person), reason, rng.randint(1, 3)
    )


def failed_login(
    world: World, email: str, person: Person | None, address: str, reason: str, attempts: int
) -> NewRecord:
    """A failed sign-in; the more attempts in a row, the more serious."""
    severity = "high" if attempts >= 20 else "medium" if attempts >= 5 or person is None else "low"
    return record(
        world,
        "accounts",
        email,
        address,
        person,
        event_type="user.login_failed",
        summary=f"Failed sign-in for {email}: {reason.replace('_', ' ')}",
        category=AUTHENTICATION,
        severity=severity,
        entity_type="user",
        entity_id=person.user_id if person else None,
        params={"email": email, "reason": reason, "failed_attempts": attempts},
    )


def account_locked(world: World, email: str, person: Person, address: str) -> NewRecord:
    return record(
        world,
        "accounts",
        world.api_key("accounts"),
        address,
        None,
        event_type="user.locked",
        summary=f"Account {email} locked after repeated failed sign-ins",
        category=SECURITY,
        severity="high",
        entity_type="user",
        entity_id=person.user_id,
        params={"email": email, "reason": "locked", "failed_attempts": 10},
    )


def role_changed(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    admin, person = world.admin(), world.person()
    old = world.roles[person.user_id]
    new = rng.choice([role for role in catalog.ROLES if role != old])
    world.roles[person.user_id] = new
    return by_person(
        world,
        "accounts",
        admin,
        event_type="user.role_changed",
        summary=f"{person.name}'s role changed from {old} to {new}",
        category=ACCESS,
        severity="high" if new in ("admin", "owner") else "medium",
        entity_type="user",
        entity_id=person.user_id,
        params={"email": person.email, "role": new, "previous_role": old},
    )


def account_event(world: World, moment: datetime) -> NewRecord:
    """The rarer changes to an account: MFA, passwords, invitations, recovery phone."""
    rng = world.rng
    person = world.person()
    event_type, summary, category, severity = _ACCOUNT_EVENTS.pick(rng)
    params: dict[str, Any] = {"email": person.email}
    if event_type == "user.invited":
        params["email"] = rng.choice(world.pools.unknown_emails)
        params["role"] = rng.choice(catalog.ROLES[:3])
    elif event_type == "user.recovery_phone_changed":
        params["recovery_phone"] = person.phone
    elif event_type == "session.revoked":
        started = moment - timedelta(hours=rng.randint(1, 72))
        params["session_started_at"] = stamp(started)
    elif event_type == "user.mfa_enabled":
        params["method"] = rng.choice(("passkey", "password"))
    actor = world.admin() if event_type in ("user.invited", "user.deactivated") else person
    return by_person(
        world,
        "accounts",
        actor,
        event_type=event_type,
        summary=summary.format(name=person.name, email=params["email"]),
        category=category,
        severity=severity,
        entity_type="user",
        entity_id=person.user_id,
        params=params,
    )


_ACCOUNT_EVENTS = Weighted(
    (
        (
            "user.password_reset_requested",
            "Password reset requested for {email}",
            AUTHENTICATION,
            "low",
        ),
        ("user.password_changed", "{name} changed their password", AUTHENTICATION, "medium"),
        ("user.mfa_enabled", "{name} enabled two-factor authentication", SECURITY, "low"),
        ("user.invited", "{email} invited", ACCESS, "low"),
        ("user.deactivated", "{name} deactivated", ACCESS, "medium"),
        ("session.revoked", "A session of {name} was revoked", SECURITY, "medium"),
        ("user.recovery_phone_changed", "{name} changed their recovery phone", SECURITY, "medium"),
    ),
    (25, 20, 15, 15, 8, 10, 7),
)
