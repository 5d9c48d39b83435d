"""C2SP tlog-tiles: hash tiles are the tree's stored hashes, entry bundles the entries lines.

Over a log of four full leaf tiles and a partial one, longer than one chunk of /log/entries.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from fastapi import FastAPI

from audittrail.integrity.tree import root_from_leaf_hashes
from audittrail.log.append import NewRecord, append
from tests.log.support import BOOTSTRAP_RECORDS, LOG, entry_lines, head_size

TILES = f"{LOG}/tlog/tile"
IMMUTABLE = "public, max-age=31536000, immutable"
# Partial tiles change as the log grows: no-store, as every answer without a Cache-Control of
# its own (guards.SecurityHeaders).
NO_STORE = "no-store"
FULL_TILES = 4
SIZE = FULL_TILES * 256 + 16


@pytest.fixture
async def lines(app: FastAPI, client: httpx.AsyncClient) -> list[bytes]:
    """A log of SIZE records, appended in one batch through the service's own write path."""
    batch = [
        NewRecord(event_type="tile.test", summary=f"record {n}", source="manual", actor="test")
        for n in range(SIZE - BOOTSTRAP_RECORDS)
    ]
    async with app.state.database.write_session() as session:
        await append(session, batch)
    assert await head_size(client) == SIZE
    return await entry_lines(client)


def leaf_hashes(lines: list[bytes]) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + line).digest() for line in lines]


def decode_bundle(bundle: bytes) -> list[bytes]:
    """Entries of a bundle: each a big-endian uint16 length, then that many bytes."""
    entries, offset = [], 0
    while offset < len(bundle):
        length = int.from_bytes(bundle[offset : offset + 2], "big")
        entries.append(bundle[offset + 2 : offset + 2 + length])
        offset += 2 + length
    assert offset == len(bundle)
    return entries


async def test_hash_tiles_hold_the_tree_hashes(
    lines: list[bytes], anonymous: httpx.AsyncClient
) -> None:
    leaves = leaf_hashes(lines)
    level_8 = [root_from_leaf_hashes(leaves[n * 256 : (n + 1) * 256]) for n in range(FULL_TILES)]
    expected = {
        "0/000": (b"".join(leaves[:256]), IMMUTABLE),
        "0/003": (b"".join(leaves[768:1024]), IMMUTABLE),
        "0/004.p/16": (b"".join(leaves[1024:]), NO_STORE),
        "0/004.p/3": (b"".join(leaves[1024:1027]), NO_STORE),
        "0/000.p/1": (leaves[0], NO_STORE),
        "1/000.p/4": (b"".join(level_8), NO_STORE),
        "1/000.p/1": (level_8[0], NO_STORE),
    }
    for path, (content, cache) in expected.items():
        response = await anonymous.get(f"{TILES}/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.content == content, path
        assert response.headers.get("cache-control") == cache, path


async def test_entry_bundles_and_entries_hold_the_entries(
    lines: list[bytes], client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    # Never cached, full or not: they are records' bytes, for holders of log:read only.
    for path, wanted, cache in (
        ("000", lines[:256], NO_STORE),
        ("003", lines[768:1024], NO_STORE),
        ("004.p/16", lines[1024:], NO_STORE),
        ("004.p/2", lines[1024:1026], NO_STORE),
    ):
        response = await client.get(f"{TILES}/entries/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "application/octet-stream"
        assert decode_bundle(response.content) == wanted
        assert response.headers.get("cache-control") == cache
    # /log/entries reads its range in chunks of 1000 records; the seams do not show.
    assert [json.loads(line)["seq"] for line in lines] == list(range(SIZE))
    assert await entry_lines(client, start=990, end=1010) == lines[990:1010]
    assert await entry_lines(client, start=1000) == lines[1000:]

    response = await anonymous.get(f"{TILES}/entries/000")
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "UNAUTHENTICATED", "message": "Missing, invalid or expired credentials."}
    }


async def test_tiles_beyond_the_log_are_404(lines: list[bytes], client: httpx.AsyncClient) -> None:
    for path in (
        "0/004",  # the fifth leaf tile is partial
        "0/004.p/17",  # wider than the log
        "0/005.p/1",
        "1/000",
        "1/000.p/5",
        "2/000.p/1",
        "entries/004",
        "entries/004.p/17",
        "entries/005.p/1",
    ):
        response = await client.get(f"{TILES}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {
            "error": {
                "code": "TILE_NOT_FOUND",
                "message": "The log has not grown to this tile yet.",
            }
        }


async def test_malformed_tile_paths_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "0/0",
        "0/0000",
        "0/x000/001",
        "00/000",
        "64/000",
        "-1/000",
        "0/000.p/0",
        "0/000.p/256",
        "0/000.p/08",
        "0/000.p/",
        "0/000/",
        "0/000.P/1",
        "x/000",
        "entries/1",
        "entries/000.p/0",
        "entries/000/extra",
    ):
        response = await client.get(f"{TILES}/{path}")
        assert response.status_code == 404, path
        assert response.json() == {"error": {"code": "TILE_NOT_FOUND", "message": "No such tile."}}
