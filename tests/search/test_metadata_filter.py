"""GET /api/audit-trail/records?metadata=key:value (repeatable): the record's metadata has the key
at its top level, with the text `value`, or the JSON number, true, false or null it spells.
Several are one AND; they combine with every other filter and with search."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import RECORDS, create_application, record_total
from tests.search.support import NUL_IN_URL, Posted, found, query_error

METADATA: dict[str, dict[str, Any]] = {
    "m1": {"region": "eu", "retries": 3, "flag": True, "note": None, "tier": "gold"},
    "m2": {"region": "us", "retries": "3", "flag": "true", "note": "null"},
    "m3": {"region": "eu", "retries": 3.5, "flag": False, "ratio": 0.1},
    "m4": {"nested": {"region": "eu", "retries": 3}, "retries": [3], "list": ["eu"]},
    "m5": {},
    "m6": {"region": "EU", "retries": 30, "big": 100},
    "m7": {"region": "", "empty": "", "spaced": " eu "},
    "m8": {"url": "http://x:8080/a", "a.b": "dot", "with space": "sp", "ключ": "значение"},
    "m9": {"region": "eu ", "count": 1e2, "zero": 0, "negative": -1},
}


@pytest.fixture
async def posted(client: httpx.AsyncClient) -> Posted:
    await create_application(client, "ledger")
    posted = Posted()
    for name, metadata in METADATA.items():
        fields: dict[str, Any] = {"metadata": metadata, "summary": f"Stored {name}"}
        if name in ("m1", "m2", "m3"):
            fields.update(application_key="ledger", event_type="invoice.paid")
        await posted.post(client, name, **fields)
    return posted


async def matching(client: httpx.AsyncClient, posted: Posted, *items: str, **params: Any) -> Any:
    return await found(client, posted, metadata=list(items), **params)


CASES: list[tuple[list[str], set[str]]] = [
    # text: exact, case and spaces included
    (["region:eu"], {"m1", "m3"}),
    (["region:EU"], {"m6"}),
    (["region:us"], {"m2"}),
    (["region:eu "], {"m9"}),
    (["region:e"], set()),
    (["region:"], {"m7"}),  # the empty text
    (["spaced: eu "], {"m7"}),
    # numbers: the JSON number, and the text that spells it
    (["retries:3"], {"m1", "m2"}),
    (["retries:3.0"], {"m1"}),  # the number 3; the text "3.0" is nowhere
    (["retries:3e0"], {"m1"}),
    (["retries:3.5"], {"m3"}),
    (["retries:30"], {"m6"}),
    (["retries:03"], set()),  # not a JSON number, and no text "03"
    (["retries:+3"], set()),
    (["big:100"], {"m6"}),
    (["big:1e2"], {"m6"}),
    (["count:100"], {"m9"}),
    (["ratio:0.1"], {"m3"}),
    (["zero:0"], {"m9"}),
    (["zero:-0"], {"m9"}),
    (["negative:-1"], {"m9"}),
    # true, false and null: the JSON value, and the text
    (["flag:true"], {"m1", "m2"}),
    (["flag:false"], {"m3"}),
    (["flag:True"], set()),
    (["note:null"], {"m1", "m2"}),
    (["note:None"], set()),
    # a key the record lacks, or holds only nested or in a list, never matches
    (["tier:gold"], {"m1"}),
    (["tier:silver"], set()),
    (["missing:null"], set()),
    (["missing:"], set()),
    (["nested:eu"], set()),
    (["list:eu"], set()),
    (["retries:[3]"], set()),
    (['nested:{"region": "eu", "retries": 3}'], set()),
    # the first colon ends the key: the value may hold colons
    (["url:http://x:8080/a"], {"m8"}),
    (["url:http"], set()),
    # keys are plain text: dots, spaces, any script
    (["a.b:dot"], {"m8"}),
    (["with space:sp"], {"m8"}),
    (["ключ:значение"], {"m8"}),
    (["a:dot"], set()),
    # repeated: all of them
    (["region:eu", "retries:3"], {"m1"}),
    (["region:eu", "flag:false"], {"m3"}),
    (["region:eu", "region:us"], set()),
    (["region:eu", "region:eu"], {"m1", "m3"}),
    (["retries:3", "flag:true", "note:null"], {"m1", "m2"}),
    (["retries:3", "tier:gold", "region:eu", "flag:true"], {"m1"}),
]


async def test_each_kind_of_value_and_key(client: httpx.AsyncClient, posted: Posted) -> None:
    wrong = []  # every case that fails, not just the first
    for items, expected in CASES:
        got = await matching(client, posted, *items)
        if got != expected:
            wrong.append((items, "expected", expected, "found", got))
    assert wrong == []


async def test_combined_with_other_filters_and_search(
    client: httpx.AsyncClient, posted: Posted
) -> None:
    paid = json.dumps([{"key": "x", "operator": "exists", "value": False}])
    cases: list[tuple[list[str], dict[str, Any], set[str]]] = [
        (["region:eu"], {"application_key": "ledger"}, {"m1", "m3"}),
        (["region:eu"], {"event_types": "sample.noted"}, set()),
        (["retries:3"], {"event_types": "invoice.paid"}, {"m1", "m2"}),
        (["retries:3"], {"search": "m2"}, {"m2"}),
        (["region:eu"], {"search": "stored -m3"}, {"m1"}),
        (["region:eu"], {"search": "m9"}, set()),
        (["flag:true"], {"severities": "low", "param_filters": paid}, {"m1", "m2"}),
        (["flag:true"], {"categories": "general", "actors": "api_key:bootstrap"}, {"m1", "m2"}),
        (["region:eu"], {"sort_by": "event_type", "sort_dir": "asc"}, {"m1", "m3"}),
    ]
    wrong = []
    for items, params, expected in cases:
        got = await matching(client, posted, *items, **params)
        if got != expected:
            wrong.append((items, params, "expected", expected, "found", got))
    assert wrong == []
    # Pages and the cursor walk the same matching set.
    first = (await client.get(RECORDS, params={"metadata": ["retries:3"], "page_size": 1})).json()
    assert first["total"] == 2 and first["total_pages"] == 2
    assert posted.names(first["records"]) == ["m2"]
    second = (
        await client.get(
            RECORDS,
            params={"metadata": ["retries:3"], "page_size": 1, "cursor": first["next_cursor"]},
        )
    ).json()
    assert posted.names(second["records"]) == ["m1"]
    assert second["next_cursor"] is None


def metadata_error(message: str, code: str = "INVALID_QUERY_PARAMETER") -> Any:
    return query_error("metadata", message, code)


SHAPE = "expected key:value, as in metadata=region:eu."
BAD: list[tuple[list[str], Any]] = [
    (["novalue"], metadata_error(f"its value: {SHAPE}")),
    ([":x"], metadata_error(f"its value: {SHAPE}")),
    ([":"], metadata_error(f"its value: {SHAPE}")),
    ([""], metadata_error(f"its value: {SHAPE}")),
    (["region:eu", "novalue"], metadata_error(f"item 1: {SHAPE}")),
    (["region:eu", "tier:gold", ":gold"], metadata_error(f"item 2: {SHAPE}")),
    (["novalue", ":x"], metadata_error(f"item 0: {SHAPE}")),
]


async def test_bad_items_are_422_with_our_message(
    client: httpx.AsyncClient, posted: Posted
) -> None:
    stored = await record_total(client)
    for items, body in BAD:
        response = await client.get(RECORDS, params={"metadata": items})
        assert response.status_code == 422, (items, response.text)
        assert response.json() == body, items
    # A NUL in the key or the value never reaches the filter: the URL is refused.
    for item in ("region:e\x00u", "reg\x00ion:eu"):
        response = await client.get(RECORDS, params={"metadata": [item]})
        assert response.status_code == 400, (item, response.text)
        assert response.json() == NUL_IN_URL
    assert await record_total(client) == stored


HOSTILE = [
    "x:1e400",
    "x:-1e400",
    "x:NaN",
    "x:Infinity",
    "x:99999999999999999999",
    "x:-99999999999999999999",
    "x:9223372036854775808",
    "x:1e-400",
    'x:"quoted"',
    "x:[1]",
    'x:{"a": 1}',
    "x:'",
    "x:%",
    "x:_",
    "x:\\",
    "$:x",
    "$.x:1",
    "[0]:x",
    "*:x",
    "x' OR '1'='1:y",
    "k" * 300 + ":v",
    "x:" + "v" * 2000,
    "😀:😀",
]


async def test_hostile_items_never_fail(client: httpx.AsyncClient, posted: Posted) -> None:
    failing = []
    for item in HOSTILE:
        response = await client.get(RECORDS, params={"metadata": [item]})
        if response.status_code != 200 or response.json()["total"] != 0:
            failing.append(f"{item[:40]} -> {response.status_code}")
    assert failing == []


async def test_numbers_spelled_past_what_json_holds_match_their_text(
    client: httpx.AsyncClient,
) -> None:
    """A value no record holds as a number (past 2**53, or no finite double) still matches the
    text of it."""
    posted = Posted()
    for name, value in (("huge", "99999999999999999999"), ("inf", "1e400")):
        await posted.post(client, name, metadata={"x": value})
    assert await matching(client, posted, "x:99999999999999999999") == {"huge"}
    assert await matching(client, posted, "x:1e400") == {"inf"}


async def test_keys_with_quotes_and_backslashes_are_plain_keys(
    client: httpx.AsyncClient,
) -> None:
    posted = Posted()
    await posted.post(client, "quoted", metadata={'say "hi"': "yes", "C\\temp": "dir"})
    assert await matching(client, posted, 'say "hi":yes') == {"quoted"}
    assert await matching(client, posted, "C\\temp:dir") == {"quoted"}


async def test_at_most_twenty_filters_a_list(client: httpx.AsyncClient) -> None:
    """More would only deepen the SQL: a 422 naming the parameter, not a database error."""
    stored = (await client.get(RECORDS, params={"page_size": 1})).json()["total"]
    many = [f"k{n}:v" for n in range(21)]
    response = await client.get(RECORDS, params={"metadata": many})
    assert response.status_code == 422
    assert response.json() == query_error("metadata", "at most 20 filters.")
    assert len((await client.get(RECORDS, params={"metadata": many[:20]})).json()["records"]) == 0
    filters = json.dumps([{"key": f"k{n}", "operator": "exists"} for n in range(21)])
    response = await client.get(RECORDS, params={"param_filters": filters})
    assert response.status_code == 422
    assert response.json() == query_error("param_filters", "at most 20 filters.")
    assert (await client.get(RECORDS, params={"page_size": 1})).json()["total"] == stored
