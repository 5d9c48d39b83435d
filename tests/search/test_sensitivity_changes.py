"""When a param's sensitivity changes, search follows at once, for the records stored before:
made sensitive, its values are found by no one; made not sensitive again, or its definition
deleted, they are found again; a new sensitive definition of a param recorded before (as an
unknown one) hides its values too. SQLite's FTS5 index stays in step with the records."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import httpx

from tests.helpers import APPLICATIONS, create_application
from tests.search.support import Posted, found


def fts5_agrees(database_url: str) -> None:
    """FTS5's own check of its index against the records it indexes (raises if they differ)."""
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as sqlite:
            sqlite.execute(
                "INSERT INTO records_search (records_search, rank) VALUES ('integrity-check', 1)"
            )


async def test_search_follows_every_change_of_sensitivity(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await create_application(
        client, "vault", params=[{"key": "token", "type": "string"}], allow_unknown_params=True
    )
    posted = Posted()
    await posted.post(
        client, "both", application_key="vault", params={"token": "tk1alpha", "pin": "pn1beta"}
    )
    await posted.post(client, "other", application_key="vault", params={"note": "tk1alpha"})
    definition = f"{APPLICATIONS}/vault/params"

    async def finds(word: str) -> set[str]:
        return await found(client, posted, search=word)

    assert (await finds("tk1alpha"), await finds("pn1beta")) == ({"both", "other"}, {"both"})

    changed = await client.patch(f"{definition}/token", json={"sensitive": True})
    assert changed.status_code == 200, changed.text
    assert await finds("tk1alpha") == {"other"}  # the same value in a param not sensitive
    assert await finds("tk1al*") == {"other"}
    fts5_agrees(database_url)

    changed = await client.patch(f"{definition}/token", json={"sensitive": False})
    assert changed.status_code == 200, changed.text
    assert await finds("tk1alpha") == {"both", "other"}
    fts5_agrees(database_url)

    # A param stored as an unknown one, then defined as sensitive.
    created = await client.post(
        definition, json={"key": "pin", "type": "string", "sensitive": True}
    )
    assert created.status_code == 201, created.text
    assert await finds("pn1beta") == set()
    fts5_agrees(database_url)

    deleted = await client.delete(f"{definition}/pin")
    assert deleted.status_code == 204, deleted.text
    assert await finds("pn1beta") == {"both"}
    fts5_agrees(database_url)
