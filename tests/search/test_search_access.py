"""Search and who may read what: a search never finds a record by a value its reader is not
shown (sensitive params' values), and a key bound to applications searches, and counts, only
their records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_client
from tests.helpers import APPLICATIONS, RECORDS, create_application
from tests.search.support import Posted, found, ids, key_client, listing

IBAN = "DE89370400440532013000"
PASSWORD = "search-Passphrase-4711-unguessable"


async def signed_in_reader(app: FastAPI, admin: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client signed in as a user with the role reader (a session, not an API key)."""
    email = "reader@search.example.com"
    response = await admin.post(
        "/api/users", json={"email": email, "password": PASSWORD, "roles": ["reader"]}
    )
    assert response.status_code == 201, response.text
    async with make_client(app) as anonymous:
        response = await anonymous.post(
            "/api/auth/login", json={"email": email, "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    return make_client(app, {"Authorization": f"Bearer {response.json()['access_token']}"})


@pytest.fixture
async def readers(
    app: FastAPI, client: httpx.AsyncClient
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The admin, a records:read key and a signed-in reader, by name."""
    key = await key_client(app, client, "searcher", ["records:read"])
    session = await signed_in_reader(app, client)
    yield {"admin": client, "reader key": key, "reader session": session}
    await key.aclose()
    await session.aclose()


async def test_values_of_sensitive_params_are_never_found(
    client: httpx.AsyncClient, readers: dict[str, httpx.AsyncClient]
) -> None:
    await create_application(
        client,
        "vault",
        params=[
            {"key": "iban", "type": "string", "sensitive": True},
            {"key": "pin", "type": "integer", "sensitive": True},
            {"key": "secret", "type": "json", "sensitive": True},
            {"key": "memo", "type": "string"},
        ],
    )
    posted = Posted()
    await posted.post_all(
        client,
        {
            "sensitive": {
                "application_key": "vault",
                "summary": "Transfer ordered",
                "params": {
                    "iban": IBAN,
                    "pin": 80417,
                    "secret": {"token": "zq7hidden"},
                    "memo": "rent",
                },
            },
            # The same value in a param that is not sensitive: in vault, and without application.
            "memo": {"application_key": "vault", "summary": "Transfer", "params": {"memo": IBAN}},
            "loose": {"summary": "Unfiled", "params": {"iban": "DE44500105175407324931"}},
        },
    )
    for who, reader in readers.items():
        cases: list[tuple[str, set[str]]] = [
            (IBAN, {"memo"}),
            (IBAN.lower(), {"memo"}),
            ("de8937*", {"memo"}),
            ("DE89370400440532013000 transfer", {"memo"}),
            ("80417", set()),
            ("zq7hidden", set()),
            ("zq7*", set()),
            ("rent", {"sensitive"}),  # the record's other params are searched
            ("transfer ordered", {"sensitive"}),
            ("DE44500105175407324931", {"loose"}),  # no application: nothing is sensitive
        ]
        for search, expected in cases:
            assert await found(reader, posted, search=search) == expected, (who, search)
        # Excluding a sensitive value excludes nothing.
        body = await listing(reader, search="transfer -zq7hidden -80417", application_key="vault")
        assert posted.names(body["records"]) == ["memo", "sensitive"], who


async def test_a_param_made_sensitive_later_is_not_found_by_its_value(
    client: httpx.AsyncClient, readers: dict[str, httpx.AsyncClient]
) -> None:
    """Marking a param sensitive masks the values recorded before (docs/security.md): a reader
    who sees "[masked]" must not find the record by the value, nor spell it out by prefixes."""
    await create_application(client, "vault", params=[{"key": "token", "type": "string"}])
    posted = Posted()
    await posted.post(client, "early", application_key="vault", params={"token": "tk7qz93x"})
    changed = await client.patch(f"{APPLICATIONS}/vault/params/token", json={"sensitive": True})
    assert changed.status_code == 200, changed.text
    await posted.post(client, "late", application_key="vault", params={"token": "tk7qz93y"})
    for who, reader in readers.items():
        if who == "admin":
            continue
        shown = (await reader.get(f"{RECORDS}/{posted.ids['early']}")).json()
        assert shown["params"] == {"token": "[masked]"}, who
        totals = {}
        for search in ("tk7qz93x", "tk7qz93y", "tk7q*", "tk7qz93*", "tk7qz94*"):
            body = await listing(reader, search=search)
            assert body["total"] == len(body["records"])
            totals[search] = body["total"]
        assert totals == dict.fromkeys(totals, 0), who


@pytest.fixture
async def hemispheres(client: httpx.AsyncClient) -> Posted:
    for key in ("north", "south"):
        await create_application(client, key)
    posted = Posted()
    await posted.post_all(
        client,
        {
            "n1": {"application_key": "north", "summary": "aurora seen"},
            "n2": {"application_key": "north", "summary": "Aurora again"},
            "n3": {"application_key": "north", "summary": "clear night"},
            "s1": {"application_key": "south", "summary": "aurora seen"},
            "x1": {"summary": "aurora seen without an application"},
        },
    )
    return posted


async def test_a_bound_key_searches_and_counts_only_its_applications(
    app: FastAPI, client: httpx.AsyncClient, hemispheres: Posted
) -> None:
    posted = hemispheres
    async with await key_client(app, client, "north-only", ["records:read"], ["north"]) as bound:
        body = await listing(bound, search="aurora")
        assert posted.names(body["records"]) == ["n2", "n1"]
        assert body["total"] == 2
        # Its unfiltered total counts its applications' records only (not the system records).
        unfiltered = await listing(bound)
        assert posted.names(unfiltered["records"]) == ["n3", "n2", "n1"]
        assert unfiltered["total"] == 3
        assert (await listing(bound, page_size=1))["total"] == 3
        # Other applications' records stay out of every search and filter.
        for narrowed in (
            {"search": "aurora", "application_key": "south"},
            {"search": "seen -night", "application_key": "south"},
            {"search": "without application"},
            {"search": "-aurora", "application_key": "south"},
        ):
            body = await listing(bound, **narrowed)
            assert (body["total"], body["records"]) == (0, []), narrowed
        assert await found(bound, posted, search="-aurora") == {"n3"}
        assert await found(bound, posted, search="aurora -again") == {"n1"}
        assert await found(bound, posted, search="seen") == {"n1"}
        # A cursor walk stays within the binding.
        walked: list[str] = []
        cursor: str | None = None
        for _ in range(4):
            params: dict[str, Any] = {"search": "aurora", "page_size": 1}
            if cursor:
                params["cursor"] = cursor
            page = await listing(bound, **params)
            assert page["total"] == 2
            walked += ids(page["records"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert walked == [posted.ids["n2"], posted.ids["n1"]]
    # The admin finds all of them.
    assert await found(client, posted, search="aurora") == {"n1", "n2", "s1", "x1"}


async def test_a_key_bound_to_two_applications_sees_both(
    app: FastAPI, client: httpx.AsyncClient, hemispheres: Posted
) -> None:
    async with await key_client(app, client, "both", ["records:read"], ["north", "south"]) as bound:
        assert await found(bound, hemispheres, search="aurora") == {"n1", "n2", "s1"}
        assert (await listing(bound))["total"] == 4
        assert await found(bound, hemispheres, search="aurora seen") == {"n1", "s1"}
