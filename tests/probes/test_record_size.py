"""A record is refused at intake if its leaf would not fit a tlog-tiles entry bundle (two bytes
of length: 65,535 at most). Accepted, its bundle would answer 409 to everyone, for good.

The limit counts the leaf with seq at its widest (16 digits), so a record's fate does not
depend on where in the log it would land. The sizes here are worked out from a stored leaf
(GET /log/entries) and the reference RFC 8785 encoder, not from the code under test.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import rfc8785

from tests.helpers import RECORDS
from tests.probes.support import LOG_HEAD, assert_answer, error, holdings, problem

LIMIT = 65535
WIDEST_SEQ_DIGITS = 16  # 2**53 - 1
TILES = "/api/audit-trail/log/tlog/tile"


def too_large(size: int) -> str:
    return (
        f"The record takes {size} bytes as the log stores it (its leaf: canonical JSON of its "
        f"fields, params and metadata); the limit is {LIMIT}."
    )


def record(params: Any = "", metadata: str = "") -> dict[str, Any]:
    return {
        "event_type": "size.probe",
        "summary": "s",
        "params": {"a": params},
        "metadata": {"b": metadata},
    }


@pytest.fixture
async def widest_base(client: httpx.AsyncClient) -> int:
    """The widest leaf of record() as stored, with empty params and metadata values."""
    created = await client.post(RECORDS, json=record())
    assert created.status_code == 201, created.text
    lines = (await client.get("/api/audit-trail/log/entries")).content.splitlines()
    [line] = [line for line in lines if json.loads(line)["id"] == created.json()["id"]]
    return len(line) - len(str(json.loads(line)["seq"])) + WIDEST_SEQ_DIGITS


def sized(widest_base: int, size: int) -> dict[str, Any]:
    """record() with params and metadata text making its widest leaf `size` bytes (ASCII)."""
    room = size - widest_base
    return record("p" * (room // 2), "m" * (room - room // 2))


async def test_a_record_past_the_bundle_limit_is_a_413(
    client: httpx.AsyncClient, widest_base: int
) -> None:
    before = await holdings(client)
    response = await client.post(RECORDS, json=sized(widest_base, LIMIT + 1))
    message = too_large(LIMIT + 1)
    assert_answer(
        response,
        413,
        error("RECORD_TOO_LARGE", message, [problem("body", "RECORD_TOO_LARGE", message)]),
    )
    assert await holdings(client) == before


async def test_numbers_are_counted_as_the_leaf_writes_them(
    client: httpx.AsyncClient, widest_base: int
) -> None:
    """1e-6 is `0.000001` in a leaf: small in the body, and in orjson's text, large in the leaf."""
    before = await holdings(client)
    floats = [1e-6] * 7300
    size = widest_base - len(b'""') + len(rfc8785.dumps(floats))
    assert size > LIMIT
    body = json.dumps(record(floats), separators=(",", ":")).replace("1e-06", "1e-6")
    assert len(body) < 37_000
    response = await client.post(
        RECORDS, content=body, headers={"Content-Type": "application/json"}
    )
    message = too_large(size)
    assert_answer(
        response,
        413,
        error("RECORD_TOO_LARGE", message, [problem("body", "RECORD_TOO_LARGE", message)]),
    )
    assert await holdings(client) == before


async def test_a_batch_names_the_record_past_the_limit(
    client: httpx.AsyncClient, widest_base: int
) -> None:
    before = await holdings(client)
    batch = [record(), sized(widest_base, LIMIT + 1), record()]
    response = await client.post(f"{RECORDS}/batch", json=batch)
    assert_answer(
        response,
        422,
        error(
            "BATCH_VALIDATION_FAILED",
            "1 of 3 records do not fit; nothing was stored.",
            [problem("body[1]", "RECORD_TOO_LARGE", too_large(LIMIT + 1))],
        ),
    )
    assert await holdings(client) == before


@pytest.mark.parametrize("batched", [False, True])
async def test_a_record_at_the_limit_is_taken_and_its_bundle_served(
    client: httpx.AsyncClient, widest_base: int, batched: bool
) -> None:
    body = sized(widest_base, LIMIT)
    if batched:
        response = await client.post(f"{RECORDS}/batch", json=[body])
        assert response.status_code == 201, response.text
        created = response.json()["records"][0]
    else:
        response = await client.post(RECORDS, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
    size = (await client.get(LOG_HEAD)).json()["tree_size"]
    assert size < 256
    bundle = await client.get(f"{TILES}/entries/000.p/{size}")
    assert bundle.status_code == 200, bundle.text
    entries, data = [], bundle.content
    while data:
        length = int.from_bytes(data[:2], "big")
        entries.append(data[2 : 2 + length])
        data = data[2 + length :]
    assert len(entries) == size
    [entry] = [entry for entry in entries if json.loads(entry)["id"] == created["id"]]
    seq_digits = len(str(json.loads(entry)["seq"]))
    assert len(entry) == LIMIT - WIDEST_SEQ_DIGITS + seq_digits


async def test_a_change_whose_system_record_would_not_fit_a_bundle_is_refused(
    client: httpx.AsyncClient,
) -> None:
    """The system record of a change to the registry is a leaf too: an enum of 500 long values
    would make one no bundle can hold, so the change is refused and nothing of it is stored."""
    created = await client.post(
        "/api/audit-trail/applications", json={"key": "billing", "name": "Billing"}
    )
    assert created.status_code == 201, created.text
    size_before = (await client.get(LOG_HEAD)).json()["tree_size"]
    values = [f"{n:03d}-" + "v" * 200 for n in range(500)]
    response = await client.post(
        "/api/audit-trail/applications/billing/params",
        json={"key": "plan", "label": "Plan", "type": "enum", "enum_values": values},
    )
    assert response.status_code == 413
    body = response.json()
    assert body["error"]["code"] == "RECORD_TOO_LARGE"
    assert body["error"]["message"].startswith("This change would be recorded in ")
    assert body["error"]["message"].endswith(
        f"bytes as the log stores it; the limit is {LIMIT}. Make it smaller (fewer or shorter "
        "values, a shorter text)."
    )
    params = await client.get("/api/audit-trail/applications/billing/params")
    assert params.json()["params"] == []
    assert (await client.get(LOG_HEAD)).json()["tree_size"] == size_before
