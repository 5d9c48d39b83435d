"""param_filters, every operator on every registered type, as the indexes answer them: equality
and `in` (which PostgreSQL also asks of its GIN index, by containment) find the same records as
the ordered comparisons around them, whatever way a number is written (100, 100.0, 1e2).

tests/records/test_param_filters.py covers the operators' rules and refusals; this is the
matrix, one application and a few records, with each operator on each type.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.helpers import create_application
from tests.search.support import Posted, found

SHOP_PARAMS = [
    {"key": "qty", "type": "integer"},
    {"key": "price", "type": "number"},
    {"key": "sku", "type": "string"},
    {"key": "active", "type": "boolean"},
    {"key": "at", "type": "datetime"},
    {"key": "size", "type": "enum", "enum_values": ["s", "m", "l"]},
]

SHOP: dict[str, dict[str, Any]] = {
    "p1": {
        "qty": 100,
        "price": 100,
        "sku": "a-1",
        "active": True,
        "at": "2024-01-01T00:00:00Z",
        "size": "s",
    },
    "p2": {
        "qty": 5,
        "price": 100.0,
        "sku": "b-2",
        "active": False,
        "at": "2024-06-01T00:00:00+02:00",  # 2024-05-31T22:00:00Z
        "size": "m",
    },
    "p3": {
        "qty": 250,
        "price": 2.5,
        "sku": "a-10",
        "active": True,
        "at": "2025-01-01T00:00:00.5Z",
        "size": "l",
    },
    "p4": {"price": 1e2},
    "p5": {},
}
WITH = {"p1", "p2", "p3"}


@pytest.fixture
async def shop(client: httpx.AsyncClient) -> Posted:
    await create_application(client, "shop", params=SHOP_PARAMS)
    posted = Posted()
    for name, params in SHOP.items():
        await posted.post(client, name, application_key="shop", params=params)
    # Outside the application: the same keys, compared by the filter value's JSON type.
    await posted.post(client, "loose", params={"qty": 100.0, "sku": "a-1", "size": 5})
    return posted


def one(key: str, operator: str, *value: Any) -> str:
    condition: dict[str, Any] = {"key": key, "operator": operator}
    if value:
        condition["value"] = value[0]
    return json.dumps([condition])


MATRIX: dict[str, list[tuple[str, set[str]]]] = {
    "integer": [
        (one("qty", "eq", 100), {"p1"}),
        (one("qty", "eq", 100.0), {"p1"}),
        (one("qty", "eq", 1e2), {"p1"}),
        (one("qty", "eq", 99), set()),
        (one("qty", "ne", 100), {"p2", "p3"}),
        (one("qty", "gt", 100), {"p3"}),
        (one("qty", "gte", 100), {"p1", "p3"}),
        (one("qty", "lt", 100), {"p2"}),
        (one("qty", "lte", 100), {"p1", "p2"}),
        (one("qty", "in", [5, 250]), {"p2", "p3"}),
        (one("qty", "in", [100.0, 7]), {"p1"}),
        (one("qty", "in", [1, 2]), set()),
        (one("qty", "exists"), WITH),
        (one("qty", "exists", False), {"p4", "p5"}),
    ],
    "number": [
        (one("price", "eq", 100), {"p1", "p2", "p4"}),
        (one("price", "eq", 100.0), {"p1", "p2", "p4"}),
        (one("price", "eq", 2.5), {"p3"}),
        (one("price", "ne", 100), {"p3"}),
        (one("price", "gt", 2.5), {"p1", "p2", "p4"}),
        (one("price", "gte", 2.5), {"p1", "p2", "p3", "p4"}),
        (one("price", "lt", 100), {"p3"}),
        (one("price", "lte", 100), {"p1", "p2", "p3", "p4"}),
        (one("price", "in", [2.5, 7]), {"p3"}),
        (one("price", "in", [100]), {"p1", "p2", "p4"}),
        (one("price", "exists"), {"p1", "p2", "p3", "p4"}),
        (one("price", "exists", False), {"p5"}),
    ],
    "string": [
        (one("sku", "eq", "a-1"), {"p1"}),
        (one("sku", "eq", "A-1"), set()),
        (one("sku", "ne", "a-1"), {"p2", "p3"}),
        (one("sku", "gt", "a-1"), {"p2", "p3"}),
        (one("sku", "gte", "a-10"), {"p2", "p3"}),
        (one("sku", "lt", "b"), {"p1", "p3"}),
        (one("sku", "lte", "a-10"), {"p1", "p3"}),
        (one("sku", "in", ["a-1", "zz"]), {"p1"}),
        (one("sku", "in", ["b-2", "a-10"]), {"p2", "p3"}),
        (one("sku", "contains", "-1"), {"p1", "p3"}),
        (one("sku", "contains", "A-"), {"p1", "p3"}),
        (one("sku", "exists"), WITH),
        (one("sku", "exists", False), {"p4", "p5"}),
    ],
    "boolean": [
        (one("active", "eq", True), {"p1", "p3"}),
        (one("active", "eq", False), {"p2"}),
        (one("active", "ne", True), {"p2"}),
        (one("active", "ne", False), {"p1", "p3"}),
        (one("active", "exists"), WITH),
        (one("active", "exists", False), {"p4", "p5"}),
    ],
    "datetime": [
        (one("at", "eq", "2024-05-31T22:00:00Z"), {"p2"}),
        (one("at", "eq", "2024-06-01T00:00:00+02:00"), {"p2"}),
        (one("at", "ne", "2024-05-31T22:00:00Z"), {"p1", "p3"}),
        (one("at", "gt", "2024-05-31T22:00:00Z"), {"p3"}),
        (one("at", "gte", "2024-05-31T22:00:00Z"), {"p2", "p3"}),
        (one("at", "lt", "2024-05-31T22:00:00Z"), {"p1"}),
        (one("at", "lte", "2024-05-31T22:00:00Z"), {"p1", "p2"}),
        (one("at", "in", ["2024-01-01T01:00:00+01:00", "2025-01-01T00:00:00.5Z"]), {"p1", "p3"}),
        (one("at", "exists"), WITH),
        (one("at", "exists", False), {"p4", "p5"}),
    ],
    "enum": [
        (one("size", "eq", "m"), {"p2"}),
        (one("size", "ne", "m"), {"p1", "p3"}),
        (one("size", "gt", "m"), {"p1"}),  # compared as text: l < m < s
        (one("size", "gte", "m"), {"p1", "p2"}),
        (one("size", "lt", "m"), {"p3"}),
        (one("size", "lte", "m"), {"p2", "p3"}),
        (one("size", "in", ["s", "l"]), {"p1", "p3"}),
        (one("size", "contains", "M"), {"p2"}),
        (one("size", "exists"), WITH),
        (one("size", "exists", False), {"p4", "p5"}),
    ],
}


async def test_each_operator_on_each_type(client: httpx.AsyncClient, shop: Posted) -> None:
    wrong = []  # every case that fails, not just the first
    for param_type, cases in MATRIX.items():
        for filters, expected in cases:
            got = await found(client, shop, param_filters=filters, application_key="shop")
            if got != expected:
                wrong.append((param_type, filters, "expected", expected, "found", got))
    assert wrong == []


async def test_without_an_application_by_the_values_json_type(
    client: httpx.AsyncClient, shop: Posted
) -> None:
    """Across applications: numbers match numbers however written, strings match strings."""
    cases: list[tuple[str, set[str]]] = [
        (one("qty", "eq", 100), {"p1", "loose"}),
        (one("qty", "eq", 100.0), {"p1", "loose"}),
        (one("qty", "in", [100, 5]), {"p1", "p2", "loose"}),
        (one("qty", "in", [250.0]), {"p3"}),
        (one("qty", "gte", 100), {"p1", "p3", "loose"}),
        (one("sku", "eq", "a-1"), {"p1", "loose"}),
        (one("sku", "in", ["a-1", "b-2"]), {"p1", "p2", "loose"}),
        (one("size", "eq", 5), {"loose"}),
        (one("size", "eq", "s"), {"p1"}),
        (one("size", "in", [5, 6]), {"loose"}),
        (one("price", "eq", 100), {"p1", "p2", "p4"}),
    ]
    wrong = []
    for filters, expected in cases:
        got = await found(client, shop, param_filters=filters)
        if got != expected:
            wrong.append((filters, "expected", expected, "found", got))
    assert wrong == []
