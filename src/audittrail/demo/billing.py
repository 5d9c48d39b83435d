"""The billing records: invoices from creation to payment (or not), subscriptions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from audittrail.demo import catalog
from audittrail.demo.manual import BILLING, by_key, by_person
from audittrail.demo.weighted import Weighted
from audittrail.demo.world import Invoice, World, remove_at, stamp
from audittrail.log.append import NewRecord


def invoice(world: World, moment: datetime) -> NewRecord:
    """The next step in some invoice's life; a new invoice when few are open."""
    rng = world.rng
    invoices = world.invoices
    if len(invoices) < 25 or rng.random() < 0.3:
        created = world.new_invoice(moment)
        invoices.append(created)
        return _invoice_record(world, created, "created", "low", _invoice_params(created, moment))
    index = rng.randrange(len(invoices))
    current = invoices[index]
    step = _NEXT[current.state].pick(rng)
    # Voided and refunded invoices are done; of the paid, a few are refunded later.
    if step in ("voided", "refunded") or (step == "paid" and rng.random() >= 0.06):
        remove_at(invoices, index)
    current.state = step
    params: dict[str, Any] = {
        "invoice_number": current.number,
        "amount": current.amount,
        "currency": current.currency,
    }
    severity = _INVOICE_SEVERITY[step]
    if step == "updated":
        current.amount = round(current.amount * rng.uniform(0.8, 1.25), 2)
        current.line_items += 1
        params.update(amount=current.amount, line_items=current.line_items)
        current.state = "draft"
    elif step == "paid":
        params["payment_method"] = current.method
        if current.method == "card":
            params["card_last4"] = f"{rng.randrange(10_000):04d}"
    elif step == "payment_failed":
        params["reason"] = rng.choice(("card_declined", "insufficient_funds", "expired_card"))
    elif step == "refunded" and current.amount > 2_000:
        severity = "high"
    return _invoice_record(world, current, step, severity, params)


# An invoice's next step from each state.
_NEXT = {
    "draft": Weighted(("updated", "sent"), (20, 80)),
    "sent": Weighted(("paid", "payment_failed", "overdue"), (75, 15, 10)),
    "payment_failed": Weighted(("paid", "overdue"), (60, 40)),
    "overdue": Weighted(("paid", "voided"), (70, 30)),
    "paid": Weighted(("refunded",), (1,)),
}
_INVOICE_SEVERITY = {
    "updated": "low",
    "sent": "none",
    "paid": "low",
    "payment_failed": "medium",
    "overdue": "medium",
    "voided": "high",
    "refunded": "medium",
}
_INVOICE_SUMMARIES = {
    "created": "Invoice {number} created for {customer}: {amount} {currency}",
    "updated": "Invoice {number} updated: {amount} {currency}",
    "sent": "Invoice {number} sent to {customer}",
    "paid": "Invoice {number} paid: {amount} {currency}",
    "payment_failed": "Payment of invoice {number} failed",
    "overdue": "Invoice {number} is overdue",
    "voided": "Invoice {number} voided",
    "refunded": "Refunded invoice {number} to {customer}: {amount} {currency}",
}


def _invoice_params(created: Invoice, moment: datetime) -> dict[str, Any]:
    return {
        "invoice_number": created.number,
        "customer": created.customer,
        "amount": created.amount,
        "currency": created.currency,
        "line_items": created.line_items,
        "due_date": stamp(created.due),
        "auto_charge": created.method in ("card", "sepa_debit"),
        "tax": {"rate": 0.19 if created.currency == "EUR" else 0.0, "country": "DE"},
    }


def _invoice_record(
    world: World, current: Invoice, step: str, severity: str, params: dict[str, Any]
) -> NewRecord:
    summary = _INVOICE_SUMMARIES[step].format(
        number=current.number,
        customer=current.customer,
        amount=f"{current.amount:,.2f}",
        currency=current.currency,
    )
    fields: dict[str, Any] = {
        "event_type": f"invoice.{step}",
        "summary": summary,
        "category": BILLING,
        "severity": severity,
        "entity_type": "invoice",
        "entity_id": current.number,
        "params": params,
    }
    if step in ("overdue", "payment_failed") or world.rng.random() < 0.3:
        return by_key(world, "billing", world.api_key("billing"), **fields)
    return by_person(world, "billing", world.person(), **fields)


def subscription_changed(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    customer = world.customer()
    old = customer.plan
    customer.plan = rng.choice([plan for plan in catalog.PLANS if plan != old])
    upgrade = catalog.PLANS.index(customer.plan) > catalog.PLANS.index(old)
    mrr = round(customer.seats * _PRICE[customer.plan], 2)
    return by_person(
        world,
        "crm",
        world.person(),
        event_type="subscription.upgraded" if upgrade else "subscription.downgraded",
        summary=f"{customer.name} moved from {old} to {customer.plan}",
        category=BILLING,
        severity="low" if upgrade else "medium",
        entity_type="customer",
        entity_id=customer.id,
        params={
            "customer_name": customer.name,
            "plan": customer.plan,
            "previous_plan": old,
            "seats": customer.seats,
            "mrr": mrr,
            "renewal_at": stamp(moment + timedelta(days=rng.choice((30, 365)))),
        },
    )


_PRICE = {"free": 0.0, "starter": 9.0, "pro": 19.0, "business": 39.0, "enterprise": 79.0}


def payment_method_updated(world: World, moment: datetime) -> NewRecord:
    rng = world.rng
    customer = world.customer()
    method = world.payment_method()
    params: dict[str, Any] = {"customer": customer.name, "payment_method": method}
    if method == "card":
        params["card_last4"] = f"{rng.randrange(10_000):04d}"
    return by_person(
        world,
        "billing",
        world.person(),
        event_type="payment_method.updated",
        summary=f"Payment method of {customer.name} changed to {method.replace('_', ' ')}",
        category=BILLING,
        severity="medium",
        entity_type="customer",
        entity_id=customer.id,
        params=params,
    )
