"""The authorization matrix: every route the app serves, for every caller, the expected status.

One row per route (method and path, read from the app itself: a route without a row fails the
test, and so does a row without a route). A row says what the route needs (nothing, a signed-in
caller, or a scope), the status it answers a caller who may call it, and where a binding to
applications changes that. Every request is a real one: resources a request changes are made
afresh for it, so each cell is the answer to exactly that caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from audittrail.records import ingest
from tests.access.conftest import PASSWORD, Caller, World
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.helpers import APPLICATIONS, RECORDS

PUBLIC = "public"
SIGNED_IN = "signed in"
LOG = "/api/audit-trail/log"
IMPORTS = "/api/audit-trail/imports"
EXPORTS = "/api/audit-trail/exports"
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None  # instead of the caller's own


Build = Callable[[World, Caller], Awaitable[Call]]


@dataclass(frozen=True)
class Row:
    needs: str
    ok: int
    call: Build
    bound: dict[str, int] = field(default_factory=dict)
    """The status for a key bound to the named application, where binding changes it."""
    api_key: int | None = None
    """The status for an API key allowed to call it, where that differs from a user's."""
    last: bool = False
    """Ends the caller's other sessions: asked after every other row."""


def fixed(path: str, **params: Any) -> Build:
    async def build(world: World, caller: Caller) -> Call:
        return Call(path, params=params)

    return build


def on_record(template: str) -> Build:
    """A request about billing's record (a key bound to shop must not find it)."""

    async def build(world: World, caller: Caller) -> Call:
        return Call(template.format(record=world.billing_record))

    return build


def record_body(world: World, caller: Caller) -> dict[str, Any]:
    return {"event_type": "matrix.call", "summary": caller.name, "application_key": "billing"}


async def create_record(world: World, caller: Caller) -> Call:
    return Call(RECORDS, json=record_body(world, caller))


async def create_batch(world: World, caller: Caller) -> Call:
    return Call(f"{RECORDS}/batch", json=[record_body(world, caller)] * 2)


async def login(world: World, caller: Caller) -> Call:
    """A successful sign-in: failed ones are throttled, and the matrix makes many."""
    return Call("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})


async def logout(world: World, caller: Caller) -> Call:
    return Call("/api/auth/logout", headers=await world.fresh_login(caller))


async def change_password(world: World, caller: Caller) -> Call:
    headers = await world.fresh_login(caller)
    current = world.passwords.get(caller.email or "", PASSWORD)
    new = f"{current}-x"
    if caller.kind == "user" and caller.email:
        world.passwords[caller.email] = new
    return Call(
        "/api/auth/password",
        json={"current_password": current, "new_password": new},
        headers=headers,
    )


async def end_session(world: World, caller: Caller) -> Call:
    """A user ends a session of their own: a fresh one, so the caller's stays (a key has none:
    any id is not its own)."""
    headers = await world.fresh_login(caller)
    mine = await world.get_as("/api/auth/sessions", headers) if caller.kind == "user" else None
    current = [row["id"] for row in mine["sessions"] if row["current"]] if mine else []
    session_id = current[0] if current else "no-such-session"
    return Call(f"/api/auth/sessions/{session_id}", headers=headers)


async def create_user(world: World, caller: Caller) -> Call:
    return Call(
        "/api/users", json={"email": f"{world.unique('new')}@x.example.com", "password": PASSWORD}
    )


async def a_user(world: World, caller: Caller) -> Call:
    return Call(f"/api/users/{await world.new_user()}", json={"roles": ["reader"]})


async def create_key(world: World, caller: Caller) -> Call:
    return Call("/api/api-keys", json={"name": world.unique("made")})


async def a_key(world: World, caller: Caller) -> Call:
    return Call(f"/api/api-keys/{await world.new_key()}")


async def rotate_key(world: World, caller: Caller) -> Call:
    return Call(f"/api/api-keys/{await world.new_key()}/rotate", json={})


async def create_application(world: World, caller: Caller) -> Call:
    return Call(APPLICATIONS, json={"key": world.unique("made"), "name": "Made"})


async def an_application(world: World, caller: Caller) -> Call:
    return Call(f"{APPLICATIONS}/{await world.new_application()}", json={"name": "Changed"})


async def create_param(world: World, caller: Caller) -> Call:
    key = world.unique("p")
    return Call(f"{APPLICATIONS}/billing/params", json={"key": key, "label": key, "type": "string"})


async def a_param(world: World, caller: Caller) -> Call:
    return Call(f"{APPLICATIONS}/billing/params/{await world.new_param()}", json={"label": "New"})


async def param_analytics(world: World, caller: Caller) -> Call:
    """A param of billing's (a key bound to shop must not find billing)."""
    return Call(f"{APPLICATIONS}/billing/params/{await world.new_param()}/analytics")


async def entry_bundle(world: World, caller: Caller) -> Call:
    return Call(f"{LOG}/tlog/tile/entries/000.p/{world.tree_size}")


async def hash_tile(world: World, caller: Caller) -> Call:
    return Call(f"{LOG}/tlog/tile/0/000.p/{world.tree_size}")


async def import_records(world: World, caller: Caller) -> Call:
    """A file of one line, the caller's own: an admin's import stores it (201), never replays
    another caller's. httpx writes the JSON on one line: NDJSON."""
    line = {"event_type": "matrix.import", "summary": caller.name, "application_key": "billing"}
    return Call(IMPORTS, json=line, headers={**caller.headers, "Content-Type": NDJSON})


async def own_export(world: World, caller: Caller) -> str:
    """An export job of the caller's own, done, where it may make one; else an id it cannot
    reach (the request is refused before the job is looked up)."""
    async with world.client(caller.headers) as http:
        created = await http.post(EXPORTS, params={"event_types": "order.paid"})
        if created.status_code != 202:
            return "no-such-export"
        job_id: str = created.json()["id"]
        for _ in range(400):
            if (await http.get(f"{EXPORTS}/{job_id}")).json()["status"] == "done":
                return job_id
            await asyncio.sleep(0.025)
    raise AssertionError(f"{caller}'s export job {job_id} did not finish")


def on_own_export(template: str) -> Build:
    """A request about an export job: whose they are is tests/export/test_jobs.py's."""

    async def build(world: World, caller: Caller) -> Call:
        return Call(template.format(job=await own_export(world, caller)))

    return build


MATRIX: dict[tuple[str, str], Row] = {
    # The seed's intake and the record reads.
    ("POST", RECORDS): Row("records:write", 201, create_record, bound={"shop": 403}),
    ("POST", f"{RECORDS}/batch"): Row("records:write", 201, create_batch, bound={"shop": 403}),
    ("GET", RECORDS): Row("records:read", 200, fixed(RECORDS)),
    ("GET", f"{RECORDS}/{{record_uuid}}"): Row(
        "records:read", 200, on_record(f"{RECORDS}/{{record}}"), bound={"shop": 404}
    ),
    ("GET", f"{RECORDS}/{{record_uuid}}/proof"): Row(
        "records:read", 200, on_record(f"{RECORDS}/{{record}}/proof"), bound={"shop": 404}
    ),
    # Statistics: a bound key's cover its own applications (tests/stats/test_stats_access.py).
    ("GET", "/api/audit-trail/stats"): Row("stats:read", 200, fixed("/api/audit-trail/stats")),
    ("GET", f"{APPLICATIONS}/{{app}}/params/{{param_key}}/analytics"): Row(
        "stats:read", 200, param_analytics, bound={"shop": 404}
    ),
    # Exports: a bound key's cover its own applications (tests/export/test_export_api.py).
    ("GET", "/api/audit-trail/export"): Row("export", 200, fixed("/api/audit-trail/export")),
    ("POST", EXPORTS): Row("export", 202, fixed(EXPORTS)),
    ("GET", EXPORTS): Row("export", 200, fixed(EXPORTS)),
    ("GET", f"{EXPORTS}/{{job_id}}"): Row("export", 200, on_own_export(f"{EXPORTS}/{{job}}")),
    ("GET", f"{EXPORTS}/{{job_id}}/download"): Row(
        "export", 200, on_own_export(f"{EXPORTS}/{{job}}/download")
    ),
    ("GET", f"{EXPORTS}/{{job_id}}/manifest"): Row(
        "export", 200, on_own_export(f"{EXPORTS}/{{job}}/manifest")
    ),
    # Imports write into any application, keeping the file's provenance: admins only
    # (docs/export.md, "Import").
    ("POST", IMPORTS): Row("admin", 201, import_records),
    # Signing in and out, one's own sessions and password.
    ("POST", "/api/auth/login"): Row(PUBLIC, 200, login),
    ("POST", "/api/auth/logout"): Row(SIGNED_IN, 204, logout, api_key=400),
    ("GET", "/api/auth/me"): Row(SIGNED_IN, 200, fixed("/api/auth/me")),
    ("GET", "/api/auth/sessions"): Row(SIGNED_IN, 200, fixed("/api/auth/sessions"), api_key=400),
    ("DELETE", "/api/auth/sessions/{session_id}"): Row(SIGNED_IN, 204, end_session, api_key=400),
    ("POST", "/api/auth/password"): Row(SIGNED_IN, 204, change_password, api_key=400, last=True),
    # Administration.
    ("POST", "/api/users"): Row("admin", 201, create_user),
    ("GET", "/api/users"): Row("admin", 200, fixed("/api/users")),
    ("GET", "/api/users/{user_id}"): Row("admin", 200, a_user),
    ("PATCH", "/api/users/{user_id}"): Row("admin", 200, a_user),
    ("POST", "/api/api-keys"): Row("admin", 201, create_key),
    ("GET", "/api/api-keys"): Row("admin", 200, fixed("/api/api-keys")),
    ("GET", "/api/api-keys/{key_id}"): Row("admin", 200, a_key),
    ("DELETE", "/api/api-keys/{key_id}"): Row("admin", 200, a_key),
    ("POST", "/api/api-keys/{key_id}/rotate"): Row("admin", 200, rotate_key),
    ("GET", "/metrics"): Row("admin", 200, fixed("/metrics")),
    # The registry of applications.
    ("POST", APPLICATIONS): Row("applications:write", 201, create_application),
    ("GET", APPLICATIONS): Row("applications:read", 200, fixed(APPLICATIONS)),
    ("GET", f"{APPLICATIONS}/{{app}}"): Row(
        "applications:read", 200, fixed(f"{APPLICATIONS}/billing"), bound={"shop": 404}
    ),
    ("PATCH", f"{APPLICATIONS}/{{app}}"): Row("applications:write", 200, an_application),
    ("DELETE", f"{APPLICATIONS}/{{app}}"): Row("applications:write", 204, an_application),
    ("POST", f"{APPLICATIONS}/{{app}}/params"): Row("applications:write", 201, create_param),
    ("GET", f"{APPLICATIONS}/{{app}}/params"): Row(
        "applications:read", 200, fixed(f"{APPLICATIONS}/billing/params"), bound={"shop": 404}
    ),
    ("GET", f"{APPLICATIONS}/{{app}}/params/{{param_key}}"): Row(
        "applications:read", 200, a_param, bound={"shop": 404}
    ),
    ("PATCH", f"{APPLICATIONS}/{{app}}/params/{{param_key}}"): Row(
        "applications:write", 200, a_param
    ),
    ("DELETE", f"{APPLICATIONS}/{{app}}/params/{{param_key}}"): Row(
        "applications:write", 204, a_param
    ),
    # The log: what carries no record content is public; the hashed bytes need log:read.
    ("GET", f"{LOG}/checkpoint"): Row(PUBLIC, 200, fixed(f"{LOG}/checkpoint")),
    ("GET", f"{LOG}/head"): Row(PUBLIC, 200, fixed(f"{LOG}/head")),
    ("GET", f"{LOG}/checkpoints"): Row(PUBLIC, 200, fixed(f"{LOG}/checkpoints")),
    ("GET", f"{LOG}/key"): Row(PUBLIC, 200, fixed(f"{LOG}/key")),
    ("GET", f"{LOG}/consistency"): Row(PUBLIC, 200, fixed(f"{LOG}/consistency", first=1, second=2)),
    ("GET", f"{LOG}/entries"): Row("log:read", 200, fixed(f"{LOG}/entries")),
    ("GET", f"{LOG}/tlog/checkpoint"): Row(PUBLIC, 200, fixed(f"{LOG}/tlog/checkpoint")),
    ("GET", f"{LOG}/tlog/tile/entries/{{bundle_path:path}}"): Row("log:read", 200, entry_bundle),
    ("GET", f"{LOG}/tlog/tile/{{tile_path:path}}"): Row(PUBLIC, 200, hash_tile),
    # The viewer's pages (web/): the same rules as the API they show. Asked as here, by a client
    # that does not ask for HTML, a page answers the API's error envelope; a browser gets a
    # page, or a redirect to sign in (tests/web/test_access.py).
    ("GET", "/login"): Row(PUBLIC, 200, fixed("/login")),
    ("GET", "/"): Row(SIGNED_IN, 200, fixed("/")),
    ("GET", "/records"): Row("records:read", 200, fixed("/records")),
    ("GET", "/records/rows"): Row("records:read", 200, fixed("/records/rows")),
    ("GET", "/records/{record_id}"): Row(
        "records:read", 200, on_record("/records/{record}"), bound={"shop": 404}
    ),
    ("GET", "/stats"): Row("stats:read", 200, fixed("/stats")),
    ("GET", "/analytics"): Row("stats:read", 200, fixed("/analytics")),
    ("GET", "/applications"): Row("applications:read", 200, fixed("/applications")),
    ("GET", "/applications/new"): Row("applications:write", 200, fixed("/applications/new")),
    ("GET", "/applications/{app}"): Row(
        "applications:read", 200, fixed("/applications/billing"), bound={"shop": 404}
    ),
    ("GET", "/api-keys"): Row("admin", 200, fixed("/api-keys")),
    ("GET", "/users"): Row("admin", 200, fixed("/users")),
    # Health, for load balancers: anyone (tests/ops/test_health.py).
    ("GET", "/healthz"): Row(PUBLIC, 200, fixed("/healthz")),
    ("GET", "/readyz"): Row(PUBLIC, 200, fixed("/readyz")),
    # The API's own description.
    ("GET", "/openapi.json"): Row(PUBLIC, 200, fixed("/openapi.json")),
    ("GET", "/docs"): Row(PUBLIC, 200, fixed("/docs")),
}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every method and path the app answers (HEAD aside): FastAPI's routes and the intake
    routes served outside them (records/ingest.py)."""
    served = set()
    for context in iter_route_contexts([*ingest.documented.routes, *app.routes]):
        route = context.route
        if isinstance(route, Mount):  # static files: public by nature, not routes with handlers
            continue
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                served.add((method, context.path))
    return served


def expected(row: Row, caller: Caller) -> int:
    if row.needs == PUBLIC:
        return row.ok
    if caller.kind == "anonymous":
        return 401
    if row.needs != SIGNED_IN and not caller.holds(row.needs):
        return 403
    if caller.bound_to in row.bound:
        return row.bound[caller.bound_to]
    if caller.kind == "api_key" and row.api_key is not None:
        return row.api_key
    return row.ok


async def test_every_route_has_a_row(app: FastAPI) -> None:
    served = served_routes(app)
    assert sorted(served - MATRIX.keys()) == [], "routes without a row in the matrix"
    assert sorted(MATRIX.keys() - served) == [], "rows for routes the app does not serve"


async def test_the_matrix(world: World) -> None:
    """Each cell: the caller's request and the status the row gives it; all cells checked
    before the test fails, so a failure shows every wrong cell at once."""
    wrong = []
    cells = 0
    for (method, _path), row in sorted(MATRIX.items(), key=lambda item: item[1].last):
        for caller in world.callers:
            call = await row.call(world, caller)
            headers = call.headers if call.headers is not None else caller.headers
            async with world.client() as http:
                response = await http.request(
                    method, call.path, json=call.json, params=call.params, headers=headers
                )
            cells += 1
            want = expected(row, caller)
            if response.status_code != want:
                wrong.append(
                    f"{method} {call.path} as {caller}: {response.status_code}, not {want}: "
                    + response.text[:200]
                )
    assert wrong == [], f"{len(wrong)} of {cells} cells wrong:\n" + "\n".join(wrong)
