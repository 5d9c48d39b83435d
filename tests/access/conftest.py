"""A world to test access control in: two applications, records in each, and one principal of
every kind: each role (signed in), each scope (an API key apiece), and keys bound to either
application."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail.config import Settings
from tests.auth.conftest import quick_password_hashes  # noqa: F401  (an autouse fixture)
from tests.conftest import make_client
from tests.helpers import APPLICATIONS, RECORDS

PASSWORD = "matrix-Passphrase-4711-unguessable"
# What each role and scope is meant to allow, written out here rather than read from the code,
# so that a change to access.ROLE_SCOPES shows in the matrix as the change it is.
SCOPES = [
    "records:write",
    "records:read",
    "stats:read",
    "export",
    "applications:read",
    "applications:write",
    "log:read",
    "admin",
]
ROLE_SCOPES = {
    "admin": frozenset(SCOPES),
    "writer": frozenset({"records:write", "applications:read"}),
    "reader": frozenset({"records:read", "stats:read", "applications:read"}),
    "auditor": frozenset({"records:read", "stats:read", "export", "log:read"}),
}
# Scopes a bound key may hold (access.UNBINDABLE_SCOPES are refused on bound keys).
BOUND_SCOPES = ["records:write", "records:read", "stats:read", "export", "applications:read"]


@dataclass(frozen=True)
class Caller:
    """One column of the matrix: who calls, and with which credential."""

    name: str
    kind: str  # "anonymous", "user" or "api_key"
    scopes: frozenset[str] = frozenset()
    bound_to: str | None = None  # the application key a bound API key is bound to
    headers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    email: str | None = None

    def holds(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def __str__(self) -> str:
        return self.name


@dataclass
class World:
    admin: httpx.AsyncClient
    app: FastAPI
    callers: list[Caller]
    billing_record: str = ""
    shop_record: str = ""
    tree_size: int = 0
    passwords: dict[str, str] = field(default_factory=dict)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        """A fresh name (letters, digits and _: fit for application and param keys too)."""
        return f"{prefix}_{next(self.counter)}"

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.admin.post(path, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def new_application(self) -> str:
        return (await self.post(APPLICATIONS, {"key": self.unique("app"), "name": "App"}))["key"]

    async def new_param(self) -> str:
        key = self.unique("param")
        await self.post(
            f"{APPLICATIONS}/billing/params", {"key": key, "label": key, "type": "string"}
        )
        return key

    async def new_user(self) -> str:
        body = {"email": f"{self.unique('user')}@example.com", "password": PASSWORD}
        return (await self.post("/api/users", body))["id"]

    async def new_key(self) -> str:
        return (await self.post("/api/api-keys", {"name": self.unique("key")}))["id"]

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        """A client of its own, sending only the given headers (no cookie jar shared)."""
        return make_client(self.app, headers)

    async def get_as(self, path: str, headers: dict[str, str]) -> Any:
        async with self.client(headers) as http:
            response = await http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    async def fresh_login(self, caller: Caller) -> dict[str, str]:
        """A second session of a signed-in caller, for requests that end or change sessions."""
        if caller.kind != "user":
            return caller.headers
        assert caller.email is not None
        async with make_client(self.app) as fresh:
            response = await fresh.post(
                "/api/auth/login",
                json={"email": caller.email, "password": self.passwords[caller.email]},
            )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"checkpoint_interval": 0.05})


async def _callers(world: World) -> list[Caller]:
    callers = [Caller("anonymous", "anonymous")]
    for role in ROLE_SCOPES:
        email = f"{role}@matrix.example.com"
        await world.post("/api/users", {"email": email, "password": PASSWORD, "roles": [role]})
        world.passwords[email] = PASSWORD
        caller = Caller(f"user:{role}", "user", ROLE_SCOPES[role], email=email)
        callers.append(
            Caller(
                caller.name,
                "user",
                caller.scopes,
                headers=await world.fresh_login(caller),
                email=email,
            )
        )
    for scope in SCOPES:
        created = await world.post("/api/api-keys", {"name": f"only-{scope}", "scopes": [scope]})
        callers.append(
            Caller(
                f"key:{scope}", "api_key", frozenset({scope}), headers={"X-API-Key": created["key"]}
            )
        )
    for application in ("billing", "shop"):
        body = {
            "name": f"bound-{application}",
            "scopes": BOUND_SCOPES,
            "applications": [application],
        }
        created = await world.post("/api/api-keys", body)
        callers.append(
            Caller(
                f"key:bound:{application}",
                "api_key",
                frozenset(BOUND_SCOPES),
                bound_to=application,
                headers={"Authorization": f"Bearer {created['key']}"},
            )
        )
    return callers


async def _covered(admin: httpx.AsyncClient, record_id: str) -> int:
    """The size of the first checkpoint that covers the record."""
    for _ in range(200):
        response = await admin.get(f"{RECORDS}/{record_id}/proof")
        if response.status_code == 200:
            size: int = response.json()["tree_size"]
            return size
        await asyncio.sleep(0.05)
    raise AssertionError(f"no checkpoint covered {record_id}: {response.text}")


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[World]:
    world = World(admin=client, app=app, callers=[])
    for key in ("billing", "shop"):
        await world.post(APPLICATIONS, {"key": key, "name": key.title()})
    world.callers = await _callers(world)
    base = {"event_type": "order.paid", "summary": "Order paid"}
    world.billing_record = (await world.post(RECORDS, {**base, "application_key": "billing"}))["id"]
    world.shop_record = (await world.post(RECORDS, {**base, "application_key": "shop"}))["id"]
    world.tree_size = await _covered(client, world.shop_record)
    yield world
