"""Hash tiles and entry bundles at any address a client can write: a 404, never a 500.

A tile of level 7 and up, or of an index past 2**63 / 256, once reached SQL with node numbers
past a BIGINT (PostgreSQL: out of range; SQLite: wrong), a 500 with a page of traceback.
"""

from __future__ import annotations

import httpx
import pytest

from tests.probes.support import LOG_HEAD, assert_answer, error

TILES = "/api/audit-trail/log/tlog/tile"
HUGE = "x999/x999/x999/x999/x999/x999/999"
NOT_GROWN = error("TILE_NOT_FOUND", "The log has not grown to this tile yet.")
NO_SUCH = error("TILE_NOT_FOUND", "No such tile.")

# Well-formed addresses the log (two records) has not grown to: high levels, huge indexes.
UNGROWN = [
    "9/000",
    "7/000",
    "8/000",
    "63/000",
    "6/000",
    "1/000.p/1",
    f"0/{HUGE}",
    f"0/{HUGE}.p/255",
    f"7/{HUGE}",
    "0/001",
    "0/000",  # a full tile: 256 leaves
    "0/000.p/3",
]
# Not tile addresses at all: level past 63, bad widths, padding, letters, a 5,000-digit index.
MALFORMED = [
    "64/000",
    "99/000",
    "100/000",
    "-1/000",
    "0/000.p/0",
    "0/000.p/256",
    "0/000.p/",
    "0/x000/001",
    "0/1",
    "0/abc",
    "0/000/",
    "00/000",
    "0/" + "x999/" * 1700 + "999",
    "",
]


async def log_size(client: httpx.AsyncClient) -> int:
    size: int = (await client.get(LOG_HEAD)).json()["tree_size"]
    return size


@pytest.mark.parametrize("address", UNGROWN)
async def test_a_hash_tile_the_log_has_not_grown_to_is_a_404(
    anonymous: httpx.AsyncClient, address: str
) -> None:
    before = await log_size(anonymous)
    assert_answer(await anonymous.get(f"{TILES}/{address}"), 404, NOT_GROWN)
    assert await log_size(anonymous) == before


@pytest.mark.parametrize("address", UNGROWN[6:])
async def test_an_entry_bundle_the_log_has_not_grown_to_is_a_404(
    client: httpx.AsyncClient, address: str
) -> None:
    level_zero = address.removeprefix("0/").removeprefix("7/")
    assert_answer(await client.get(f"{TILES}/entries/{level_zero}"), 404, NOT_GROWN)


@pytest.mark.parametrize("address", MALFORMED)
async def test_a_malformed_tile_address_is_a_404(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, address: str
) -> None:
    assert_answer(await anonymous.get(f"{TILES}/{address}"), 404, NO_SUCH)
    assert_answer(await client.get(f"{TILES}/entries/{address}"), 404, NO_SUCH)


async def test_the_tiles_the_log_has_are_served(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    size = await log_size(anonymous)
    tile = await anonymous.get(f"{TILES}/0/000.p/{size}")
    assert (tile.status_code, len(tile.content)) == (200, 32 * size)
    bundle = await client.get(f"{TILES}/entries/000.p/{size}")
    assert bundle.status_code == 200
    # One past the log's size is not there yet.
    assert_answer(await anonymous.get(f"{TILES}/0/000.p/{size + 1}"), 404, NOT_GROWN)
    assert_answer(await client.get(f"{TILES}/entries/000.p/{size + 1}"), 404, NOT_GROWN)


async def test_entry_bundles_ask_for_a_reader_first(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(f"{TILES}/entries/{HUGE}")
    assert_answer(
        response,
        401,
        error("UNAUTHENTICATED", "Missing, invalid or expired credentials."),
    )
