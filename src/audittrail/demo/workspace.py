"""The CRM's and the admin console's records: customers, settings, feature flags, webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from audittrail.demo import catalog
from audittrail.demo.manual import CONFIGURATION, CUSTOMERS, by_key, by_person
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import World, remove_at, stamp
from audittrail.log.append import NewRecord

_CUSTOMER_EVENTS = Weighted(
    ("updated", "created", "note_added", "exported", "deleted"), (50, 15, 30, 3, 1)
)
_SCOPES = Weighted(("organization", "workspace", "project"), (50, 35, 15))
_WEBHOOK_EVENTS = Weighted(("delivery_failed", "created", "deleted"), (75, 15, 10))


def customer_event(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    person = world.person()
    event = _CUSTOMER_EVENTS.pick(rng)
    if event == "deleted" and len(world.customers) <= 50:
        event = "note_added"
    if event == "created":
        customer = world.new_customer()
        world.customers.append(customer)
    elif event == "deleted":
        index = world.customer_index()
        customer = world.customers[index]
        remove_at(world.customers, index)
    else:
        customer = world.customer()
    params: dict[str, Any] = {"customer_name": customer.name}
    severity = "low"
    summary = f"Customer {customer.name} {event.replace('_', ' ')}"
    if event == "created":
        params.update(
            plan=customer.plan, seats=customer.seats, contact_email=customer.contact, tags=[]
        )
    elif event == "updated":
        change = rng.random()
        if change < 0.5:
            old_seats = customer.seats
            customer.seats = max(1, customer.seats + rng.randint(-3, 8))
            params["seats"] = customer.seats
            summary = f"Customer {customer.name}: seats {old_seats} → {customer.seats}"
        elif change < 0.8:
            params["tags"] = rng.sample(_TAGS, rng.randint(1, 3))
            params["churn_risk"] = "at-risk" in params["tags"]
        else:
            customer.contact = rng.choice(world.pools.unknown_emails)
            params["contact_email"] = customer.contact
            params["contact_phone"] = rng.choice(world.pools.phones)
    elif event == "note_added":
        severity = "none"
        params["note"] = rng.choice(world.pools.sentences)
    elif event == "exported":
        severity = "high"
        params["rows"] = rng.randint(200, 25_000)
        summary = f"Customer list exported: {params['rows']:,} customers"
    else:
        severity = "high"
    return by_person(
        world,
        "crm",
        person,
        event_type=f"customer.{event}",
        summary=summary,
        category=CUSTOMERS,
        severity=severity,
        entity_type="customer",
        entity_id=customer.id,
        params=params,
    )


_TAGS = ["vip", "at-risk", "partner", "reseller", "trial", "nonprofit", "eu", "us", "apac"]


# Admin console: settings, feature flags, webhooks.


def setting_changed(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    name, make, severity = rng.choice(_SETTINGS)
    old = world.settings.get(name)
    new = make(world)
    while new == old:
        new = make(world)
    world.settings[name] = new
    params: dict[str, Any] = {
        "setting": name,
        "old_value": old,
        "new_value": new,
        "scope": _SCOPES.pick(rng),
        "requires_restart": name.startswith("security.session"),
    }
    if rng.random() < 0.2:
        params["effective_at"] = stamp(moment + timedelta(hours=rng.randint(1, 48)))
    return by_person(
        world,
        "admin_console",
        world.admin() if severity == "high" else world.person(),
        event_type="settings.updated",
        summary=f"Setting {name} changed from {_shown(old)} to {_shown(new)}",
        category=CONFIGURATION,
        severity=severity,
        entity_type="setting",
        entity_id=name,
        params=params,
    )


def _shown(value: Any) -> str:
    return "unset" if value is None else str(value)


_SETTINGS: tuple[tuple[str, Callable[[World], Any], str], ...] = (
    ("security.password_min_length", lambda w: w.rng.choice((8, 10, 12, 14, 16)), "high"),
    ("security.mfa_required", lambda w: w.rng.random() < 0.5, "high"),
    ("security.session_timeout_minutes", lambda w: w.rng.choice((15, 30, 60, 480)), "high"),
    (
        "security.allowed_ip_ranges",
        lambda w: [f"{w.rng.choice(w.pools.server_addresses)}/32"],
        "high",
    ),
    ("billing.tax_rate", lambda w: w.rng.choice((0.0, 0.07, 0.19, 0.2, 0.21)), "medium"),
    ("billing.dunning_days", lambda w: sorted(w.rng.sample((3, 7, 14, 21, 30), 3)), "medium"),
    ("billing.invoice_prefix", lambda w: w.rng.choice(("INV", "RE", "FAC", "BILL")), "medium"),
    ("notifications.digest", lambda w: w.rng.choice(("daily", "weekly", "never")), "low"),
    ("workspace.default_role", lambda w: w.rng.choice(catalog.ROLES[:3]), "medium"),
    ("workspace.retention_days", lambda w: w.rng.choice((30, 90, 365, 730)), "medium"),
    ("branding.primary_color", lambda w: f"#{w.rng.getrandbits(24):06x}", "low"),
    ("locale.city", lambda w: w.rng.choice(w.pools.cities), "low"),
)


def feature_flag(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    words = world.pools.words
    flag = f"{words[rng.randrange(40)]}_{words[40 + rng.randrange(20)]}"
    enabled = rng.random() < 0.6
    return by_person(
        world,
        "admin_console",
        world.person(),
        event_type="feature_flag.toggled",
        summary=f"Feature flag {flag} turned {'on' if enabled else 'off'}",
        category=CONFIGURATION,
        severity="low",
        entity_type="feature_flag",
        entity_id=flag,
        params={"setting": flag, "old_value": not enabled, "new_value": enabled},
    )


def webhook(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    customer = world.customers[rng.randrange(min(40, len(world.customers)))]
    url = f"https://hooks.{customer.id.lower()}.example/audit"
    hook = f"wh_{customer.id[4:]}"
    event = _WEBHOOK_EVENTS.pick(rng)
    params: dict[str, Any] = {"webhook_url": url}
    if event == "delivery_failed":
        params.update(retries=rng.randint(1, 8), error_rate=round(rng.random() * 0.5, 3))
        return by_key(
            world,
            "admin_console",
            world.api_key("reporting", "warehouse"),
            event_type="webhook.delivery_failed",
            summary=f"Deliveries to {url} failing after {params['retries']} retries",
            category=CONFIGURATION,
            severity="medium",
            entity_type="webhook",
            entity_id=hook,
            params=params,
        )
    return by_person(
        world,
        "admin_console",
        world.admin(),
        event_type=f"webhook.{event}",
        summary=f"Webhook {url} {event}",
        category=CONFIGURATION,
        severity="medium" if event == "deleted" else "low",
        entity_type="webhook",
        entity_id=hook,
        params=params,
    )
