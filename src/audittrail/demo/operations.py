"""Records of operations: deployments from CI; reports, exports and security alerts (these
belong to no application)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from audittrail.demo import catalog
from audittrail.demo.manual import DATA, DEPLOYMENT, GENERAL, SECURITY, by_key, by_person, record
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World, stamp
from audittrail.log.append import NewRecord

_OUTCOMES = Weighted(("succeeded", "failed", "rolled_back"), (90, 8, 2))
_ENVIRONMENTS = Weighted(catalog.ENVIRONMENTS, (15, 50, 35))


def deployment(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    service = rng.choice(world.pools.services)
    version = world.versions.setdefault(service, [1, rng.randint(0, 9), 0])
    outcome = _OUTCOMES.pick(rng)
    environment = _ENVIRONMENTS.pick(rng)
    if outcome == "succeeded" and environment != "production":
        version[2] += 1
        if rng.random() < 0.1:
            version[1:] = [version[1] + 1, 0]
    duration = round(rng.lognormvariate(5, 0.5), 1)
    release = ".".join(map(str, version))
    production = environment == "production"
    severity = {
        "succeeded": "low",
        "failed": "high" if production else "medium",
        "rolled_back": "critical" if production else "high",
    }[outcome]
    return by_key(
        world,
        "deployments",
        world.api_key("deployments", "ci"),
        event_type=f"deploy.{outcome}",
        summary=f"Deploy of {service} {release} to {environment} {outcome.replace('_', ' ')}",
        category=DEPLOYMENT,
        severity=severity,
        entity_type="service",
        entity_id=service,
        params={
            "service": service,
            "environment": environment,
            "version": release,
            "commit": f"{rng.getrandbits(160):040x}",
            "duration_seconds": duration,
            "success": outcome == "succeeded",
            "replicas": rng.choice((1, 2, 3, 4, 6)),
            "started_at": stamp(moment - timedelta(seconds=duration)),
            "changes": {"files": rng.randint(1, 80), "migrations": rng.random() < 0.15},
        },
    )


# Without an application: reports, exports, security alerts.


def report(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    words = world.pools.words
    title = f"{words[rng.randrange(60)].title()} {words[rng.randrange(60, 120)]} report"
    rows = rng.randint(10, 50_000)
    fields: dict[str, Any] = {
        "event_type": "report.generated",
        "summary": f"Report “{title}” generated ({rows:,} rows)",
        "category": GENERAL,
        "severity": "none",
        "entity_type": "report",
        "entity_id": title.lower().replace(" ", "-"),
        "params": {"rows": rows, "format": rng.choice(("pdf", "csv", "xlsx"))},
    }
    if rng.random() < 0.6:
        return by_key(world, None, world.api_key("reporting", "warehouse"), **fields)
    return by_person(world, None, world.person(), **fields)


def data_export(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    person = world.person()
    rows = int(rng.lognormvariate(8, 1.5))
    bulk = rows > 50_000
    return record(
        world,
        None,
        person.email,
        world.address(person),
        person,
        event_type="data.bulk_export" if bulk else "export.completed",
        summary=f"{person.name} exported {rows:,} records",
        category=DATA,
        severity="high" if bulk else "low",
        entity_type="export",
        entity_id=f"EXP-{world.next_number('export', 501)}",
        params={
            "rows": rows,
            "format": rng.choice(("csv", "ndjson")),
            "note": rng.choice(world.pools.sentences),
        },
    )


def security_alert(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    person = world.person()
    cities = world.pools.cities
    if rng.random() < 0.75:
        there, here = rng.sample(cities, 2)
        minutes = rng.randint(5, 90)
        # The sign-in's address is the suspicious one; the detector posts from its server.
        return by_key(
            world,
            None,
            world.api_key("accounts"),
            event_type="security.impossible_travel",
            summary=f"{person.email} signed in from {here} {minutes} minutes after {there}",
            category=SECURITY,
            severity="high",
            entity_type="user",
            entity_id=person.user_id,
            params={
                "from": there,
                "to": here,
                "minutes": minutes,
                "email": person.email,
                "address": rng.choice(world.pools.attacker_addresses),
            },
        )
    return record(
        world,
        None,
        person.email,
        world.address(person),
        person,
        event_type="security.privilege_escalation_blocked",
        summary=f"{person.name} tried to grant themselves the owner role",
        category=SECURITY,
        severity="critical",
        entity_type="user",
        entity_id=person.user_id,
        params={"attempted_role": "owner", "role": world.roles[person.user_id]},
    )
