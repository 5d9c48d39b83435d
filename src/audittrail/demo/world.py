"""The demo's world as it stands at a moment: who acts, from where, and the entities they change.

Entities live on between records (an invoice is created, sent, paid, perhaps refunded), so the
log holds histories, not unrelated events. Picks are skewed: a few people, customers and
documents account for much of the activity, as in a real product.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from audittrail.applications.service import format_datetime
from audittrail.demo import catalog
from audittrail.demo.catalog import Registered
from audittrail.demo.pools import Person, Pools, random_uuid
from audittrail.demo.weighted import Weighted

# Where each person's requests are served from, by their country.
REGIONS = {"US": "us-east-1", "BR": "sa-east-1", "GB": "eu-west-2"}
DEFAULT_REGION = "eu-central-1"
BROWSERS = ("Chrome", "Firefox", "Safari", "Edge")
SYSTEMS = ("Windows", "macOS", "Linux", "iOS", "Android")
INITIAL_CUSTOMERS = 300
INITIAL_DOCUMENTS = 500
# The people who run audittrail itself (its admins): the first few of the pool.
ADMINS = 4


@dataclass(slots=True)
class Invoice:
    number: str
    customer: str
    amount: float
    currency: str
    line_items: int
    due: datetime
    method: str
    state: str = "draft"


@dataclass(slots=True)
class Customer:
    id: str
    name: str
    plan: str
    seats: int
    contact: str


@dataclass(slots=True)
class Document:
    id: str
    name: str
    content_type: str
    size: int


@dataclass
class World:
    rng: random.Random
    pools: Pools
    applications: dict[str, Registered]
    roles: dict[str, str] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: list[Invoice] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    versions: dict[str, list[int]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    key_actors: dict[tuple[str, ...], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for person in self.pools.people:
            self.roles[person.user_id] = _ROLES.pick(self.rng)
        for _ in range(INITIAL_CUSTOMERS):
            self.customers.append(self.new_customer())
        for _ in range(INITIAL_DOCUMENTS):
            self.documents.append(self.new_document())

    # Who and from where.

    def person(self) -> Person:
        """Anyone, the most active far more often: the first of the pool act most."""
        people = self.pools.people
        return people[int(len(people) * self.rng.random() ** 2.2)]

    def admin(self) -> Person:
        return self.pools.people[self.rng.randrange(ADMINS)]

    def address(self, person: Person) -> str:
        addresses = person.addresses
        return addresses[0] if self.rng.random() < 0.85 else self.rng.choice(addresses)

    def api_key(self, *prefixes: str) -> str:
        """The actor of an API key, one whose name starts with a prefix if any does."""
        actors = self.key_actors.get(prefixes)
        if actors is None:
            keys = self.pools.api_keys
            fitting = [name for name in keys if name.startswith(prefixes)] if prefixes else []
            actors = self.key_actors[prefixes] = [f"api_key:{key}" for key in fitting or keys]
        return self.rng.choice(actors)

    def server_address(self) -> str:
        return self.rng.choice(self.pools.server_addresses)

    def metadata(self, person: Person | None) -> dict[str, Any]:
        """What the product's request adds: its id, the client, the region serving it."""
        rng = self.rng
        metadata: dict[str, Any] = {"request_id": f"req_{rng.getrandbits(48):012x}"}
        if person is None:
            metadata["client"] = "api"
            metadata["sdk"] = rng.choice(("audittrail-python/1.4.2", "audittrail-go/0.9.0"))
        else:
            metadata["client"] = "web" if rng.random() < 0.8 else "mobile"
            metadata["user_agent"] = person.user_agent
            metadata["region"] = REGIONS.get(person.country, DEFAULT_REGION)
        if rng.random() < 0.3:
            metadata["trace_id"] = f"{rng.getrandbits(128):032x}"
        return metadata

    def device(self, person: Person) -> dict[str, Any]:
        device = self.devices.get(person.user_id)
        if device is None:
            device = {
                "browser": self.rng.choice(BROWSERS),
                "os": self.rng.choice(SYSTEMS),
                "trusted": self.rng.random() < 0.7,
            }
            self.devices[person.user_id] = device
        return device

    # Entities.

    def next_number(self, name: str, first: int) -> int:
        number = self.counters.get(name, first)
        self.counters[name] = number + 1
        return number

    def customer_index(self) -> int:
        """An existing customer's place, the oldest (and largest) more often."""
        return int(len(self.customers) * self.rng.random() ** 1.8)

    def customer(self) -> Customer:
        return self.customers[self.customer_index()]

    def new_customer(self) -> Customer:
        rng = self.rng
        companies = self.pools.companies
        number = self.next_number("customer", 10_001)
        return Customer(
            id=f"CUS-{number}",
            name=companies[number % len(companies)],
            plan=_PLANS.pick(rng),
            seats=max(1, int(rng.lognormvariate(2.2, 1.0))),
            contact=rng.choice(self.pools.unknown_emails),
        )

    def new_invoice(self, moment: datetime) -> Invoice:
        rng = self.rng
        currency = _CURRENCIES.pick(rng)
        amount = round(rng.lognormvariate(5.5, 1.1), 2)
        return Invoice(
            number=f"INV-{self.next_number('invoice', 1001)}",
            customer=self.customer().name,
            amount=float(round(amount * 150)) if currency == "JPY" else amount,
            currency=currency,
            line_items=rng.randint(1, 12),
            due=moment + timedelta(days=rng.choice((14, 14, 30, 30, 30, 60))),
            method=self.payment_method(),
        )

    def payment_method(self) -> str:
        return _PAYMENT_METHODS.pick(self.rng)

    def document_index(self) -> int:
        """An existing document's place, the newest more often."""
        count = len(self.documents)
        return count - 1 - int(count * self.rng.random() ** 2.5)

    def new_document(self) -> Document:
        rng = self.rng
        content_type, extension = _FILE_TYPES.pick(rng)
        return Document(
            id=random_uuid(rng),
            name=f"{rng.choice(self.pools.file_stems)}.{extension}",
            content_type=content_type,
            size=int(rng.lognormvariate(12, 1.8)),
        )


def remove_at(items: list[Any], index: int) -> None:
    """Take an entity out of play (closed, deleted) in O(1): the last one takes its place."""
    items[index] = items[-1]
    items.pop()


FILE_TYPES = (
    ("application/pdf", "pdf"),
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("text/csv", "csv"),
    ("application/zip", "zip"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
)


_ROLES = Weighted(catalog.ROLES, (30, 45, 15, 4, 5, 1))
_PLANS = Weighted(catalog.PLANS, (20, 30, 30, 15, 5))
_CURRENCIES = Weighted(catalog.CURRENCIES, (55, 25, 10, 5, 4, 1))
_PAYMENT_METHODS = Weighted(catalog.PAYMENT_METHODS, (60, 20, 15, 5))
_FILE_TYPES = Weighted(FILE_TYPES, (35, 10, 10, 15, 5, 15, 10))


def stamp(moment: datetime) -> str:
    """A datetime param's value as the service stores it."""
    return format_datetime(moment)
