"""GET /api/audit-trail/records?param_filters=...: each operator on each param type.

Within one application whose definitions are known, values compare by the registered type;
otherwise by the JSON type of the filter's value. A record whose param has another JSON type
(or lacks it) never matches, and never makes the database raise.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record, record_total

BILLING_PARAMS = [
    {"key": "amount", "type": "number"},
    {"key": "count", "type": "integer"},
    {"key": "currency", "type": "string"},
    {"key": "paid_at", "type": "datetime"},
    {"key": "refunded", "type": "boolean"},
    {"key": "tier", "type": "enum", "enum_values": ["gold", "silver", "bronze"]},
    {"key": "extra", "type": "json"},
]
REGISTERED = {param["key"] for param in BILLING_PARAMS}

# name -> (application key or None, params)
RECORDS_BY_NAME: dict[str, tuple[str | None, dict[str, Any]]] = {
    "b1": (
        "billing",
        {
            "amount": 10,
            "count": 1,
            "currency": "EUR",
            "paid_at": "2024-01-01T10:00:00Z",
            "refunded": False,
            "tier": "gold",
            "extra": {"a": 1},
            "note": "first",
        },
    ),
    "b2": (
        "billing",
        {
            "amount": 99.5,
            "count": 20,
            "currency": "usd",
            "paid_at": "2024-06-01T12:00:00+02:00",  # stored as 10:00 UTC
            "refunded": True,
            "tier": "silver",
        },
    ),
    "b3": (
        "billing",
        {
            "amount": 100,
            "count": 3,
            "currency": "Eur-X",
            "paid_at": "2025-01-01T00:00:00.5Z",
            "refunded": False,
            "tier": "bronze",
            "note": 5,
            "late": "abc",  # registered as a number only after this record was written
        },
    ),
    "b4": ("billing", {"amount": None, "late": 8}),
    "b5": ("billing", {}),
    "o1": ("other", {"amount": 50, "currency": 5, "title": "Zulu"}),
    "n1": (None, {"amount": 7, "title": "Alpha", "flag": True, "when": "2024-03-01T00:00:00Z"}),
    "n2": (None, {"amount": "abc", "title": 12, "flag": "yes", "a.b": "dotted", "x y": 1}),
    "n3": (None, {"amount": 12.5, "title": "beta", "flag": False, "when": "2023-12-31"}),
    "n4": (None, {"amount": [1, 2], "title": {"x": 1}, "flag": None, "count": "20"}),
    "n5": (None, {"amount": -3, "title": "a_b%c", "flag": 1}),
}


@pytest.fixture
async def posted(client: httpx.AsyncClient) -> dict[str, str]:
    """Record ids by name."""
    await create_application(client, "billing", params=BILLING_PARAMS)
    await create_application(client, "other")
    record_ids = {}
    for name, (application, params) in RECORDS_BY_NAME.items():
        fields = {"application_key": application} if application else {}
        record = await post_record(client, summary=name, params=params, **fields)
        record_ids[name] = record["id"]
    response = await client.post(
        f"{APPLICATIONS}/billing/params", json={"key": "late", "type": "number"}
    )
    assert response.status_code == 201, response.text
    return record_ids


async def matching(
    client: httpx.AsyncClient, filters: list[dict[str, Any]], **params: Any
) -> dict[str, Any]:
    response = await client.get(
        RECORDS, params={"param_filters": json.dumps(filters), "page_size": 200, **params}
    )
    assert response.status_code == 200, (filters, response.text)
    body: dict[str, Any] = response.json()
    assert body["total"] == len(body["records"])
    return body


def names(body: dict[str, Any], posted: dict[str, str]) -> set[str]:
    """The names of the listed records; a record this file did not post fails the test."""
    by_id = {record_id: name for name, record_id in posted.items()}
    return {by_id[record["id"]] for record in body["records"]}


def one(key: str, operator: str, *value: Any) -> list[dict[str, Any]]:
    condition: dict[str, Any] = {"key": key, "operator": operator}
    if value:
        condition["value"] = value[0]
    return [condition]


# Filtering application billing: compared by the registered type.
REGISTERED_CASES: list[tuple[list[dict[str, Any]], set[str]]] = [
    # number
    (one("amount", "eq", 10), {"b1"}),
    (one("amount", "eq", 10.0), {"b1"}),
    (one("amount", "ne", 10), {"b2", "b3"}),  # null and missing never match
    (one("amount", "gt", 10), {"b2", "b3"}),
    (one("amount", "gt", 99), {"b2", "b3"}),
    (one("amount", "gte", 99.5), {"b2", "b3"}),
    (one("amount", "lt", 99.5), {"b1"}),
    (one("amount", "lte", 10), {"b1"}),
    (one("amount", "in", [10, 100, 5]), {"b1", "b3"}),
    (one("amount", "exists"), {"b1", "b2", "b3", "b4"}),  # b4's amount is null: present
    (one("amount", "exists", True), {"b1", "b2", "b3", "b4"}),
    (one("amount", "exists", False), {"b5"}),
    # integer: numerically, "20" > "3" is not how it compares
    (one("count", "gt", 5), {"b2"}),
    (one("count", "lte", 3), {"b1", "b3"}),
    (one("count", "in", [20]), {"b2"}),
    (one("count", "gte", 2.5), {"b2", "b3"}),
    # a param registered after records carried it with another JSON type: skipped, no error
    (one("late", "gt", 5), {"b4"}),
    (one("late", "exists"), {"b3", "b4"}),
    # string: eq/ne/in exact, contains case-insensitive
    (one("currency", "eq", "EUR"), {"b1"}),
    (one("currency", "ne", "EUR"), {"b2", "b3"}),
    (one("currency", "in", ["usd", "EUR", "GBP"]), {"b1", "b2"}),
    (one("currency", "contains", "eur"), {"b1", "b3"}),
    (one("currency", "contains", "R-x"), {"b3"}),
    (one("currency", "contains", "%"), set()),  # literal, not a wildcard
    (one("currency", "gte", "m"), {"b2"}),
    (one("currency", "lt", "F"), {"b1", "b3"}),
    # datetime: by instant, whatever the offset or precision written
    (one("paid_at", "eq", "2024-06-01T10:00:00Z"), {"b2"}),
    (one("paid_at", "eq", "2024-06-01T12:00:00+02:00"), {"b2"}),
    (one("paid_at", "eq", "2024-01-01T10:00:00.000000Z"), {"b1"}),
    (one("paid_at", "gt", "2024-01-01T10:00:00Z"), {"b2", "b3"}),
    (one("paid_at", "gte", "2024-01-01T10:00:00"), {"b1", "b2", "b3"}),  # naive: UTC
    (one("paid_at", "lt", "2024-06-01T10:00:00Z"), {"b1"}),
    (one("paid_at", "lte", "2025-01-01T00:00:00.5Z"), {"b1", "b2", "b3"}),
    (one("paid_at", "lt", "2025-01-01T00:00:00.5Z"), {"b1", "b2"}),
    (one("paid_at", "ne", "2024-01-01T11:00:00+01:00"), {"b2", "b3"}),
    (one("paid_at", "in", ["2024-01-01T11:00:00+01:00", "2030-01-01T00:00:00Z"]), {"b1"}),
    # boolean
    (one("refunded", "eq", True), {"b2"}),
    (one("refunded", "eq", False), {"b1", "b3"}),
    (one("refunded", "ne", True), {"b1", "b3"}),
    (one("refunded", "exists", False), {"b4", "b5"}),
    # enum: compared as its text
    (one("tier", "eq", "gold"), {"b1"}),
    (one("tier", "ne", "gold"), {"b2", "b3"}),
    (one("tier", "in", ["gold", "bronze"]), {"b1", "b3"}),
    (one("tier", "contains", "ILV"), {"b2"}),
    # json: only exists
    (one("extra", "exists"), {"b1"}),
    (one("extra", "exists", False), {"b2", "b3", "b4", "b5"}),
    # not registered in billing: by the value's JSON type
    (one("note", "eq", "first"), {"b1"}),
    (one("note", "eq", 5), {"b3"}),
    (one("note", "gt", 1), {"b3"}),
    (one("note", "contains", "IRS"), {"b1"}),
    # several filters: AND
    (
        [
            {"key": "amount", "operator": "gte", "value": 10},
            {"key": "refunded", "operator": "eq", "value": False},
        ],
        {"b1", "b3"},
    ),
    (
        [
            {"key": "tier", "operator": "in", "value": ["gold", "silver"]},
            {"key": "paid_at", "operator": "gt", "value": "2024-03-01T00:00:00Z"},
            {"key": "currency", "operator": "exists"},
        ],
        {"b2"},
    ),
    ([], {"b1", "b2", "b3", "b4", "b5"}),
]


async def test_registered_types_within_one_application(
    client: httpx.AsyncClient, posted: dict[str, str]
) -> None:
    for filters, expected in REGISTERED_CASES:
        body = await matching(client, filters, application_key="billing")
        assert names(body, posted) == expected, filters
    billing_id = (await client.get(f"{APPLICATIONS}/billing")).json()["id"]
    # application_id selects the definitions as well as application_key does.
    body = await matching(client, one("count", "gt", 5), application_id=billing_id)
    assert names(body, posted) == {"b2"}


# No application filter: compared by the JSON type of the filter's value.
INFERRED_CASES: list[tuple[list[dict[str, Any]], set[str]]] = [
    # numbers: "abc", [1, 2] and null are skipped, not an error
    (one("amount", "gt", 5), {"b1", "b2", "b3", "o1", "n1", "n3"}),
    (one("amount", "lt", 0), {"n5"}),
    (one("amount", "gte", 7), {"b1", "b2", "b3", "o1", "n1", "n3"}),
    (one("amount", "lte", 7.0), {"n1", "n5"}),
    (one("amount", "ne", 7), {"b1", "b2", "b3", "o1", "n3", "n5"}),
    (one("amount", "eq", 12.5), {"n3"}),
    (one("amount", "in", [7, 50]), {"n1", "o1"}),
    (one("count", "gte", 20), {"b2"}),  # n4's "20" is a string
    # strings
    (one("amount", "eq", "abc"), {"n2"}),
    (one("count", "eq", "20"), {"n4"}),
    (one("title", "contains", "ALP"), {"n1"}),
    (one("title", "contains", "a_"), {"n5"}),  # _ is literal: not "Alpha"
    (one("title", "contains", "%c"), {"n5"}),
    (one("title", "gt", "b"), {"n3"}),  # 12 and {"x": 1} are skipped
    (one("title", "in", ["beta", "Zulu", "zulu"]), {"n3", "o1"}),
    (one("title", "ne", "beta"), {"n1", "n5", "o1"}),
    (one("currency", "eq", "EUR"), {"b1"}),
    (one("currency", "ne", "EUR"), {"b2", "b3"}),  # o1's 5 is a number
    # datetimes without a registered type compare as text
    (one("when", "gte", "2024-01-01"), {"n1"}),
    (one("when", "lt", "2024"), {"n3"}),
    # booleans: "yes", 1 and null are not booleans
    (one("flag", "eq", True), {"n1"}),
    (one("flag", "eq", False), {"n3"}),
    (one("flag", "ne", False), {"n1"}),
    (one("refunded", "eq", False), {"b1", "b3"}),
    # exists
    (one("flag", "exists"), {"n1", "n2", "n3", "n4", "n5"}),
    (one("title", "exists", True), {"o1", "n1", "n2", "n3", "n4", "n5"}),
    # keys with dots and spaces are plain keys
    (one("a.b", "eq", "dotted"), {"n2"}),
    (one("x y", "eq", 1), {"n2"}),
    (one("a", "exists"), set()),
    # across records of several applications and none
    (
        [
            {"key": "amount", "operator": "gt", "value": 5},
            {"key": "title", "operator": "exists"},
        ],
        {"o1", "n1", "n3"},
    ),
]


async def test_inferred_types_without_an_application(
    client: httpx.AsyncClient, posted: dict[str, str]
) -> None:
    for filters, expected in INFERRED_CASES:
        body = await matching(client, filters)
        assert names(body, posted) == expected, filters
    # exists false matches every record without the key, system records included.
    everything = await record_total(client)
    body = await matching(client, one("flag", "exists", False))
    assert body["total"] == everything - 5
    flagged = {posted[name] for name in ("n1", "n2", "n3", "n4", "n5")}
    assert not flagged & {record["id"] for record in body["records"]}


async def test_registered_type_in_one_application_other_types_elsewhere(
    client: httpx.AsyncClient, posted: dict[str, str]
) -> None:
    # In "other", currency is not registered: a number filter finds its 5; in billing
    # currency is a string, so a number is refused.
    body = await matching(client, one("currency", "eq", 5), application_key="other")
    assert names(body, posted) == {"o1"}
    response = await client.get(
        RECORDS,
        params={
            "param_filters": json.dumps(one("currency", "eq", 5)),
            "application_key": "billing",
        },
    )
    assert response.status_code == 422
    assert response.json() == query_error(
        "param_filters", "value 5 does not fit string param currency."
    )


async def test_registered_params_only(client: httpx.AsyncClient, posted: dict[str, str]) -> None:
    body = await matching(client, [], registered_params_only="true")
    params = {record["summary"]: record["params"] for record in body["records"]}
    # Only registered params are returned: note is not; records without an application or
    # with an application without definitions show none.
    for name in ("b1", "b3"):
        stored = (await client.get(f"{RECORDS}/{posted[name]}")).json()["params"]
        assert "note" in stored
        assert params[name] == {key: value for key, value in stored.items() if key != "note"}
    assert set(params["b1"]) == REGISTERED
    assert params["b4"] == {"amount": None, "late": 8}
    assert params["o1"] == {} and params["n1"] == {}
    # Filters consider only registered params too.
    for filters, expected in [
        (one("amount", "gt", 5), {"b1", "b2", "b3"}),
        (one("note", "eq", "first"), set()),
        (one("note", "exists"), set()),
        (one("title", "exists"), set()),
        (one("refunded", "eq", False), {"b1", "b3"}),
        (one("late", "exists", True), {"b3", "b4"}),
    ]:
        body = await matching(client, filters, registered_params_only="true")
        assert names(body, posted) == expected, filters
    # Without it, the same filters see every param.
    assert names(await matching(client, one("note", "eq", "first")), posted) == {"b1"}
    scoped = await matching(
        client, one("amount", "gte", 0), registered_params_only="true", application_key="billing"
    )
    assert names(scoped, posted) == {"b1", "b2", "b3"}
    assert "note" not in scoped["records"][-1]["params"]
    # A single record is always returned whole.
    whole = (await client.get(f"{RECORDS}/{posted['b1']}")).json()
    assert whole["params"]["note"] == "first"


def query_error(parameter: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter {parameter}: {message}",
            "details": [
                {
                    "field": f"query.{parameter}",
                    "code": "INVALID_QUERY_PARAMETER",
                    "message": message,
                }
            ],
        }
    }


SHAPE = 'a JSON array of {"key", "operator", "value"} objects'
OPERATORS = "eq, ne, gt, gte, lt, lte, in, contains, exists"

# (param_filters as sent, application_key or None, the message)
BAD_FILTERS: list[tuple[str, str | None, str]] = [
    ("[", None, f"is not JSON; expected {SHAPE}."),
    ("amount>5", None, f"is not JSON; expected {SHAPE}."),
    ("[" * 5000, None, f"is not JSON; expected {SHAPE}."),  # nested past Python's recursion
    (
        '[{"key": "amount", "operator": "gt", "value": NaN}]',
        None,
        f"is not JSON; expected {SHAPE}.",
    ),
    (
        '[{"key": "amount", "operator": "lt", "value": -Infinity}]',
        None,
        f"is not JSON; expected {SHAPE}.",
    ),
    ('{"key": "amount", "operator": "gt", "value": 5}', None, f"expected {SHAPE}."),
    ("null", None, f"expected {SHAPE}."),
    ('"amount"', None, f"expected {SHAPE}."),
    ("[1]", None, f"item 0: expected {SHAPE}."),
    ('[{"key": "amount", "value": 5}]', None, f"item 0: expected {SHAPE}."),
    ('[{"operator": "eq", "value": 5}]', None, f"item 0: expected {SHAPE}."),
    (
        '[{"key": "a", "operator": "exists"}, {"key": "amount", "op": "gt", "value": 5}]',
        None,
        f"item 1: expected {SHAPE}.",
    ),
    (
        '[{"key": "amount", "operator": "gt", "value": 5, "type": "number"}]',
        None,
        f"item 0: unexpected fields; expected {SHAPE}.",
    ),
    (
        '[{"key": "", "operator": "exists"}]',
        None,
        "item 0: key must be a string of 1 to 64 characters.",
    ),
    (
        '[{"key": 5, "operator": "exists"}]',
        None,
        "item 0: key must be a string of 1 to 64 characters.",
    ),
    (
        json.dumps(one("k" * 65, "exists")),
        None,
        "item 0: key must be a string of 1 to 64 characters.",
    ),
    (
        json.dumps(one('a"b', "exists")),
        None,
        "item 0: key must be a string of 1 to 64 characters.",
    ),
    (
        json.dumps(one("amount", "like", "5")),
        None,
        f"item 0: unknown operator 'like'; use {OPERATORS}.",
    ),
    (json.dumps(one("amount", "GT", 5)), None, f"item 0: unknown operator 'GT'; use {OPERATORS}."),
    (
        '[{"key": "amount", "operator": 3, "value": 5}]',
        None,
        f"item 0: unknown operator 3; use {OPERATORS}.",
    ),
    (json.dumps(one("amount", "in", 5)), None, "item 0: 'in' takes a non-empty array value."),
    (json.dumps(one("amount", "in", [])), None, "item 0: 'in' takes a non-empty array value."),
    (json.dumps(one("amount", "in")), None, "item 0: 'in' takes a non-empty array value."),
    (
        json.dumps(one("amount", "exists", "yes")),
        None,
        "item 0: 'exists' takes true, false or no value.",
    ),
    (json.dumps(one("amount", "eq")), None, "item 0: 'eq' takes a scalar value."),
    (json.dumps(one("amount", "eq", None)), None, "item 0: 'eq' takes a scalar value."),
    (json.dumps(one("amount", "gt", [5])), None, "item 0: 'gt' takes a scalar value."),
    (json.dumps(one("extra", "eq", {"a": 1})), None, "item 0: 'eq' takes a scalar value."),
    # the registered type decides which operators and values fit
    (
        json.dumps(one("amount", "gt", "abc")),
        "billing",
        "value 'abc' does not fit number param amount.",
    ),
    (
        json.dumps(one("amount", "eq", True)),
        "billing",
        "value True does not fit number param amount.",
    ),
    (
        '[{"key": "amount", "operator": "gt", "value": 1e400}]',
        None,
        "value inf does not fit number param amount.",
    ),
    (
        json.dumps(one("amount", "lt", 10**400)),
        None,
        f"value {10**400} does not fit number param amount.",
    ),
    (
        json.dumps(one("amount", "in", [1, "2"])),
        "billing",
        "value '2' does not fit number param amount.",
    ),
    (json.dumps(one("count", "lt", "3")), "billing", "value '3' does not fit integer param count."),
    (
        json.dumps(one("paid_at", "gt", "yesterday")),
        "billing",
        "value 'yesterday' does not fit datetime param paid_at.",
    ),
    (
        json.dumps(one("paid_at", "gt", "0001-01-01T00:00:00+01:00")),
        "billing",
        "value '0001-01-01T00:00:00+01:00' does not fit datetime param paid_at.",
    ),
    (
        json.dumps(one("paid_at", "gt", 1700000000)),
        "billing",
        "value 1700000000 does not fit datetime param paid_at.",
    ),
    (
        json.dumps(one("refunded", "eq", "true")),
        "billing",
        "value 'true' does not fit boolean param refunded.",
    ),
    (json.dumps(one("tier", "eq", 1)), "billing", "value 1 does not fit enum param tier."),
    (
        json.dumps(one("amount", "contains", "1")),
        "billing",
        "'contains' does not apply to number param amount.",
    ),
    (
        json.dumps(one("paid_at", "contains", "2024")),
        "billing",
        "'contains' does not apply to datetime param paid_at.",
    ),
    (
        json.dumps(one("refunded", "gt", False)),
        "billing",
        "'gt' does not apply to boolean param refunded.",
    ),
    (
        json.dumps(one("refunded", "in", [True])),
        "billing",
        "'in' does not apply to boolean param refunded.",
    ),
    (json.dumps(one("extra", "eq", 1)), "billing", "'eq' does not apply to json param extra."),
    # without definitions, the value's own type decides
    (
        json.dumps(one("amount", "contains", 5)),
        None,
        "'contains' does not apply to number param amount.",
    ),
    (json.dumps(one("flag", "lt", True)), None, "'lt' does not apply to boolean param flag."),
    (
        json.dumps(one("amount", "in", [7, "abc"])),
        None,
        "value 'abc' does not fit number param amount.",
    ),
]


async def test_bad_param_filters_are_422_with_our_message(
    client: httpx.AsyncClient, posted: dict[str, str]
) -> None:
    stored = await record_total(client)
    for raw, application, message in BAD_FILTERS:
        params = {"param_filters": raw}
        if application:
            params["application_key"] = application
        response = await client.get(RECORDS, params=params)
        assert response.status_code == 422, (raw, response.text)
        assert response.json() == query_error("param_filters", message), raw
    assert await record_total(client) == stored


@pytest.mark.parametrize(
    "value", [10**30, -(10**30), 1e308, 2**63, 123456789012345678901234567890.5]
)
async def test_numbers_of_any_size_compare_without_error(
    client: httpx.AsyncClient, value: float
) -> None:
    await post_record(client, params={"amount": 10})
    body = await matching(client, one("amount", "lt", value))
    assert body["total"] == (1 if value > 10 else 0)
    body = await matching(client, one("amount", "in", [value, 10]))
    assert body["total"] == 1
