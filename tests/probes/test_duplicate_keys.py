"""A record body naming a key twice is refused: parsers differ on which one counts (Python's
and PostgreSQL's keep the last, others the first or refuse), so another reader of the same
body could see another record.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import RECORDS
from tests.probes.support import assert_answer, error, holdings, problem

BATCH = f"{RECORDS}/batch"
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def duplicated(*fields: tuple[str, int]) -> dict[str, Any]:
    names = ", ".join(field for field, _ in fields)
    return error(
        "DUPLICATE_KEY",
        f"A JSON object names a key more than once: {names}.",
        [
            problem(field, "DUPLICATE_KEY", f"appears {n} times in its object.")
            for field, n in fields
        ],
    )


SINGLE = [
    ('{"event_type":"a","event_type":"b","summary":"s"}', [("body.event_type", 2)]),
    ('{"event_type":"a","summary":"s","summary":"t","summary":"u"}', [("body.summary", 3)]),
    ('{"event_type":"a","summary":"s","params":{"x":1,"x":2}}', [("body.params.x", 2)]),
    (
        '{"event_type":"a","summary":"s","metadata":{"x":{"y":[{"z":1,"z":1}]}}}',
        [("body.metadata.x.y[0].z", 2)],
    ),
    # The same key, once escaped: a duplicate once decoded.
    ('{"event_type":"a","summary":"s","params":{"ab":1,"\\u0061b":2}}', [("body.params.ab", 2)]),
    (
        '{"event_type":"a","event_type":"a","summary":"s","params":{"k":1,"k":1}}',
        [("body.event_type", 2), ("body.params.k", 2)],
    ),
]


@pytest.mark.parametrize(("body", "fields"), SINGLE)
async def test_a_record_naming_a_key_twice_is_a_422(
    client: httpx.AsyncClient, body: str, fields: list[tuple[str, int]]
) -> None:
    before = await holdings(client)
    response = await client.post(RECORDS, content=body, headers=JSON)
    assert_answer(response, 422, duplicated(*fields))
    assert await holdings(client) == before


async def test_a_batch_names_the_item_with_a_key_twice(client: httpx.AsyncClient) -> None:
    before = await holdings(client)
    body = (
        '[{"event_type":"a","summary":"s"},'
        '{"event_type":"a","summary":"s","params":{"p":{"q":1,"q":2}}},'
        '{"event_type":"a","severity":"low","severity":"high","summary":"s"}]'
    )
    response = await client.post(BATCH, content=body, headers=JSON)
    assert_answer(response, 422, duplicated(("body[1].params.p.q", 2), ("body[2].severity", 2)))
    lines = '{"event_type":"a","summary":"s"}\n\n{"summary":"s","event_type":"a","summary":"t"}\n'
    response = await client.post(BATCH, content=lines, headers=NDJSON)
    assert_answer(response, 422, duplicated(("body[1].summary", 2)))
    assert await holdings(client) == before


async def test_keys_repeated_in_different_objects_are_fine(client: httpx.AsyncClient) -> None:
    body = (
        '{"event_type":"a","summary":"s","params":{"a":{"a":1}},"metadata":{"a":[{"a":1},{"a":2}]}}'
    )
    response = await client.post(RECORDS, content=body, headers=JSON)
    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {"a": [{"a": 1}, {"a": 2}]}
    batch = await client.post(BATCH, content=f"[{body},{body}]", headers=JSON)
    assert batch.status_code == 201, batch.text


async def test_invalid_json_is_still_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(RECORDS, content='{"event_type":"a","event_type":', headers=JSON)
    assert_answer(response, 400, error("INVALID_JSON", "The request body is not valid JSON."))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/users",
            '{"email":"dup@example.com","password":"Quiet-Harbour-7-Lanterns",'
            '"roles":["reader"],"roles":["admin"]}',
            "body.roles",
        ),
        ("/api/audit-trail/applications", '{"key":"dupa","name":"A","key":"dupb"}', "body.key"),
        (
            "/api/api-keys",
            '{"name":"a","scopes":["records:read"],"scopes":["admin"]}',
            "body.scopes",
        ),
    ],
    ids=["a user", "an application", "an API key"],
)
async def test_every_route_refuses_a_key_twice(
    client: httpx.AsyncClient, path: str, body: str, field: str
) -> None:
    """Not only records: a user made an admin by the last of two "roles" would be what one
    parser read and not another."""
    before = await holdings(client)
    response = await client.post(path, content=body, headers=JSON)
    assert_answer(response, 422, duplicated((field, 2)))
    assert await holdings(client) == before
