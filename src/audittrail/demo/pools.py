"""Pools of people, addresses, companies and text, made by Faker once and then picked from.

A Faker call costs tens of microseconds; a million records pick from these pools instead, with
the generator's own `random.Random`, so the whole demo follows from one seed.
"""

from __future__ import annotations

import random
import re
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

from audittrail.demo.catalog import APPLICATIONS

# Names and places from several countries: search and sorting meet accents (É, ø, ł, ß).
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "sv_SE", "pt_BR")
PEOPLE = 420
UNKNOWN_EMAILS = 300
ORGANIZATIONS = 24
COMPANIES = 2_500
API_KEYS = 14
ATTACKERS = 9


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str
    user_id: str
    country: str
    addresses: tuple[str, ...]
    user_agent: str
    phone: str


@dataclass(frozen=True, slots=True)
class Pools:
    people: tuple[Person, ...]
    # Emails nobody has: what credential stuffing tries.
    unknown_emails: tuple[str, ...]
    companies: tuple[str, ...]
    api_keys: tuple[str, ...]
    # The addresses API keys call from (servers, CI runners).
    server_addresses: tuple[str, ...]
    attacker_addresses: tuple[str, ...]
    user_agents: tuple[str, ...]
    sentences: tuple[str, ...]
    # File names without their extension, which goes with the file's type.
    file_stems: tuple[str, ...]
    services: tuple[str, ...]
    phones: tuple[str, ...]
    words: tuple[str, ...]
    cities: tuple[str, ...]


def build(seed: int) -> Pools:
    """Every pool, the same for the same seed (and Faker version)."""
    fakers = {locale: _faker(locale, seed + index) for index, locale in enumerate(LOCALES)}
    english = fakers["en_US"]
    rng = random.Random(seed)
    domains = _unique(lambda: f"{_slug(english.company())}.example", ORGANIZATIONS)
    people = _people(rng, fakers, domains)
    agents = tuple(english.user_agent() for _ in range(160))
    return Pools(
        people=people,
        unknown_emails=tuple(english.unique.email() for _ in range(UNKNOWN_EMAILS)),
        companies=tuple(fakers[rng.choice(LOCALES)].company() for _ in range(COMPANIES)),
        api_keys=_unique(lambda: f"{rng.choice(_KEY_OWNERS)}-{rng.choice(_KEY_ROLES)}", API_KEYS),
        server_addresses=tuple(english.ipv4_public() for _ in range(40)),
        attacker_addresses=(
            *(english.ipv4_public() for _ in range(ATTACKERS - 1)),
            english.ipv6(),
        ),
        user_agents=agents,
        sentences=tuple(english.sentence(nb_words=rng.randint(6, 14)) for _ in range(600)),
        file_stems=tuple("-".join(english.words(nb=rng.randint(1, 3))) for _ in range(800)),
        services=_unique(lambda: f"{rng.choice(_SERVICES)}-{rng.choice(_SERVICE_ROLES)}", 12),
        phones=tuple(english.phone_number() for _ in range(300)),
        words=tuple(english.words(nb=400, unique=True)),
        cities=tuple(fakers[rng.choice(LOCALES)].city() for _ in range(200)),
    )


_KEY_OWNERS = (*(spec.key.replace("_", "-") for spec in APPLICATIONS), "reporting", "warehouse")
_KEY_ROLES = ("sync", "importer", "exporter", "ci", "worker", "integration", "backup")
_SERVICES = ("payments", "search", "notifications", "identity", "ledger", "files", "reporting")
_SERVICE_ROLES = ("api", "worker", "web", "gateway", "scheduler")


def _faker(locale: str, seed: int) -> Faker:
    faker = Faker(locale)
    faker.seed_instance(seed)
    return faker


def _people(
    rng: random.Random, fakers: dict[str, Faker], domains: tuple[str, ...]
) -> tuple[Person, ...]:
    english = fakers["en_US"]
    taken: set[str] = set()
    people = []
    for _ in range(PEOPLE):
        locale = rng.choice(LOCALES)
        faker = fakers[locale]
        first, last = faker.first_name(), faker.last_name()
        email = _email(f"{first}.{last}", rng.choice(domains), taken)
        addresses = [english.ipv4_public() for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.12:
            addresses.append(english.ipv6())
        people.append(
            Person(
                name=f"{first} {last}",
                email=email,
                user_id=random_uuid(rng),
                country=locale.split("_")[1],
                addresses=tuple(addresses),
                user_agent=english.user_agent(),
                phone=faker.phone_number(),
            )
        )
    return tuple(people)


def _email(name: str, domain: str, taken: set[str]) -> str:
    local = ".".join(part for part in re.split(r"[^a-z]+", _ascii(name).lower()) if part)
    email, number = f"{local}@{domain}", 1
    while email in taken:
        number += 1
        email = f"{local}{number}@{domain}"
    taken.add(email)
    return email


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _slug(text: str) -> str:
    return "-".join(part for part in re.split(r"[^a-z0-9]+", _ascii(text).lower()) if part)


def _unique(make: Callable[[], str], count: int) -> tuple[str, ...]:
    """``count`` distinct values of ``make``, in the order first made."""
    values: dict[str, None] = {}
    while len(values) < count:
        values[make()] = None
    return tuple(values)


def random_uuid(rng: random.Random) -> str:
    """A version 4 UUID from the generator (uuid.uuid4 would not follow the seed)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
