"""Param definitions over HTTP: register, read, change, remove, and param_count everywhere."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import APPLICATIONS, create_application, post_record, record_total

PARAM_FIELDS = [
    "id",
    "application_id",
    "key",
    "label",
    "type",
    "required",
    "description",
    "sensitive",
    "enum_values",
    "created_at",
    "updated_at",
]
TYPES = ["string", "integer", "number", "boolean", "datetime", "enum", "json"]
PARAMS = f"{APPLICATIONS}/billing/params"


def problems(response: httpx.Response) -> list[tuple[str, str]]:
    """(field, code) of each detail of a 422."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return [(problem["field"], problem["code"]) for problem in error["details"]]


def param_not_found(key: str) -> dict[str, Any]:
    return {
        "error": {"code": "PARAM_NOT_FOUND", "message": f"Application billing has no param {key}."}
    }


async def params_of(client: httpx.AsyncClient, app: str = "billing") -> list[dict[str, Any]]:
    response = await client.get(f"{APPLICATIONS}/{app}/params")
    assert response.status_code == 200, response.text
    assert list(response.json()) == ["params"]
    params: list[dict[str, Any]] = response.json()["params"]
    return params


async def test_create_with_every_field_and_read_back(client: httpx.AsyncClient) -> None:
    app = await create_application(client, "billing")
    response = await client.post(
        f"{APPLICATIONS}/{app['id']}/params",
        json={
            "key": "currency",
            "label": "Currency",
            "type": "enum",
            "required": True,
            "description": "ISO 4217",
            "sensitive": True,
            "enum_values": ["EUR", "USD"],
        },
    )
    assert response.status_code == 201, response.text
    param = response.json()
    assert list(param) == PARAM_FIELDS
    assert param["id"][14] == "7"
    assert param["application_id"] == app["id"]
    assert {name: param[name] for name in PARAM_FIELDS[2:9]} == {
        "key": "currency",
        "label": "Currency",
        "type": "enum",
        "required": True,
        "description": "ISO 4217",
        "sensitive": True,
        "enum_values": ["EUR", "USD"],
    }
    assert param["created_at"] == param["updated_at"]
    assert param["created_at"].endswith("Z")
    assert (await client.get(f"{PARAMS}/currency")).json() == param
    assert (await client.get(f"{APPLICATIONS}/{app['id']}/params/currency")).json() == param
    assert await params_of(client) == [param]


async def test_defaults_label_is_the_key(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    response = await client.post(PARAMS, json={"key": "amount"})
    assert response.status_code == 201
    param = response.json()
    assert param["label"] == "amount"
    assert param["type"] == "string"
    assert param["required"] is False
    assert param["sensitive"] is False
    assert param["description"] is None
    assert param["enum_values"] is None


async def test_every_type_and_the_list_in_key_order(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    for param_type in reversed(TYPES):
        body: dict[str, Any] = {"key": f"p_{param_type}", "type": param_type}
        if param_type == "enum":
            body["enum_values"] = ["a"]
        response = await client.post(PARAMS, json=body)
        assert response.status_code == 201, response.text
        assert response.json()["type"] == param_type
    listed = await params_of(client)
    assert [(p["key"], p["type"]) for p in listed] == sorted(
        (f"p_{param_type}", param_type) for param_type in TYPES
    )


async def test_key_and_label_boundaries(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    for key, label in (("a", "l"), ("a" * 64, "l" * 128), ("x9_", None)):
        response = await client.post(PARAMS, json={"key": key, "label": label})
        assert response.status_code == 201, response.text
        assert response.json()["label"] == (label or key)
    long = await client.post(PARAMS, json={"key": "notes", "description": "d" * 1024})
    assert long.json()["description"] == "d" * 1024


BAD_DEFINITIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"key": ""}, "key", "STRING_TOO_SHORT"),
    ({"key": "a" * 65}, "key", "STRING_TOO_LONG"),
    ({"key": "Amount"}, "key", "STRING_PATTERN_MISMATCH"),
    ({"key": "9lives"}, "key", "STRING_PATTERN_MISMATCH"),
    ({"key": "net-amount"}, "key", "STRING_PATTERN_MISMATCH"),
    ({"label": ""}, "label", "STRING_TOO_SHORT"),
    ({"label": "l" * 129}, "label", "STRING_TOO_LONG"),
    ({"description": "d" * 1025}, "description", "STRING_TOO_LONG"),
    ({"type": "float"}, "type", "ENUM"),
    ({"type": "Integer"}, "type", "ENUM"),
    ({"required": "yes please"}, "required", "BOOL_PARSING"),
    ({"sensitive": "no idea"}, "sensitive", "BOOL_PARSING"),
    ({"type": "enum"}, "enum_values", "VALUE_ERROR"),
    ({"type": "enum", "enum_values": None}, "enum_values", "VALUE_ERROR"),
    ({"type": "enum", "enum_values": []}, "enum_values", "TOO_SHORT"),
    ({"type": "enum", "enum_values": ["a", "b", "a"]}, "enum_values", "VALUE_ERROR"),
    ({"type": "enum", "enum_values": ["a", ""]}, "enum_values.1", "STRING_TOO_SHORT"),
    ({"type": "enum", "enum_values": "a,b"}, "enum_values", "LIST_TYPE"),
    ({"enum_values": ["a"]}, "enum_values", "VALUE_ERROR"),
    ({"type": "integer", "enum_values": ["1"]}, "enum_values", "VALUE_ERROR"),
    ({"application_id": "x"}, "application_id", "EXTRA_FORBIDDEN"),
]


async def test_bad_definition_is_422_and_stores_nothing(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    stored = await record_total(client)
    for fields, field, code in BAD_DEFINITIONS:
        response = await client.post(PARAMS, json={"key": "amount", **fields})
        assert problems(response) == [(f"body.{field}", code)], fields
    assert await params_of(client) == []
    assert await record_total(client) == stored


async def test_enum_values_messages(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"type": "enum"}, "enum_values is required when type is enum"),
        ({"type": "string", "enum_values": ["a"]}, "enum_values is only for type enum"),
        ({"type": "enum", "enum_values": ["a", "a"]}, "enum_values must not repeat a value"),
    ]
    for fields, message in cases:
        response = await client.post(PARAMS, json={"key": "kind", **fields})
        assert response.status_code == 422
        assert response.json() == {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: body.enum_values.",
                "details": [
                    {
                        "field": "body.enum_values",
                        "code": "VALUE_ERROR",
                        "message": f"Value error, {message}",
                    }
                ],
            }
        }


async def test_duplicate_key_is_409(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount", "type": "number"}])
    stored = await record_total(client)
    response = await client.post(PARAMS, json={"key": "amount", "type": "string"})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "PARAM_EXISTS",
            "message": "Application billing already has a param amount.",
        }
    }
    [param] = await params_of(client)
    assert param["type"] == "number"
    assert await record_total(client) == stored
    # Keys are per application.
    await create_application(client, "shipping")
    other = await client.post(f"{APPLICATIONS}/shipping/params", json={"key": "amount"})
    assert other.status_code == 201


async def test_unknown_param_is_404(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount"}])
    await create_application(client, "shipping", params=[{"key": "weight"}])
    stored = await record_total(client)
    for call in (
        client.get(f"{PARAMS}/weight"),
        client.patch(f"{PARAMS}/weight", json={"label": "x"}),
        client.delete(f"{PARAMS}/weight"),
    ):
        response = await call
        assert response.status_code == 404
        assert response.json() == param_not_found("weight")
    assert await record_total(client) == stored


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    await create_application(
        client,
        "billing",
        params=[
            {"key": "amount", "type": "number", "description": "Net"},
            {"key": "currency", "type": "enum", "enum_values": ["EUR"]},
        ],
    )
    before = (await client.get(f"{PARAMS}/amount")).json()
    response = await client.patch(
        f"{PARAMS}/amount", json={"label": "Amount", "required": True, "sensitive": True}
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert list(changed) == PARAM_FIELDS
    assert (changed["label"], changed["required"], changed["sensitive"]) == ("Amount", True, True)
    assert changed["description"] == "Net"
    assert changed["type"] == "number"
    assert changed["created_at"] == before["created_at"]
    assert changed["updated_at"] > before["updated_at"]
    assert (await client.get(f"{PARAMS}/amount")).json() == changed

    cleared = await client.patch(f"{PARAMS}/amount", json={"description": None})
    assert cleared.json()["description"] is None

    values = await client.patch(f"{PARAMS}/currency", json={"enum_values": ["EUR", "USD"]})
    assert values.status_code == 200
    assert values.json()["enum_values"] == ["EUR", "USD"]
    assert (await client.get(f"{PARAMS}/currency")).json()["enum_values"] == ["EUR", "USD"]


async def test_patch_without_changes_keeps_updated_at(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount", "label": "Amount"}])
    before = (await client.get(f"{PARAMS}/amount")).json()
    for body in ({}, {"label": "Amount"}, {"required": False}):
        response = await client.patch(f"{PARAMS}/amount", json=body)
        assert response.status_code == 200
        assert response.json() == before


BAD_PATCHES: list[tuple[str, dict[str, Any], str, str]] = [
    ("amount", {"key": "total"}, "body.key", "EXTRA_FORBIDDEN"),
    ("amount", {"type": "string"}, "body.type", "EXTRA_FORBIDDEN"),
    ("amount", {"label": ""}, "body.label", "STRING_TOO_SHORT"),
    ("amount", {"label": "l" * 129}, "body.label", "STRING_TOO_LONG"),
    ("amount", {"description": "d" * 1025}, "body.description", "STRING_TOO_LONG"),
    ("amount", {"required": "sometimes"}, "body.required", "BOOL_PARSING"),
    ("currency", {"enum_values": []}, "body.enum_values", "TOO_SHORT"),
    ("currency", {"enum_values": ["EUR", "EUR"]}, "body.enum_values", "VALUE_ERROR"),
    ("currency", {"enum_values": ["EUR", ""]}, "body.enum_values.1", "STRING_TOO_SHORT"),
    ("amount", {"enum_values": ["1"]}, "body.enum_values", "NOT_AN_ENUM"),
]


async def test_bad_patch_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    await create_application(
        client,
        "billing",
        params=[
            {"key": "amount", "type": "number"},
            {"key": "currency", "type": "enum", "enum_values": ["EUR"]},
        ],
    )
    before = await params_of(client)
    stored = await record_total(client)
    for key, body, field, code in BAD_PATCHES:
        response = await client.patch(f"{PARAMS}/{key}", json=body)
        assert response.status_code == 422, body
        details = response.json()["error"]["details"]
        assert [(d["field"], d["code"]) for d in details] == [(field, code)], body
    for key, field in (("amount", "label"), ("currency", "enum_values"), ("amount", "required")):
        response = await client.patch(f"{PARAMS}/{key}", json={field: None})
        assert problems(response) == [(f"body.{field}", "VALUE_ERROR")]
    assert await params_of(client) == before
    assert await record_total(client) == stored


async def test_enum_values_on_a_non_enum_param(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount", "type": "number"}])
    response = await client.patch(f"{PARAMS}/amount", json={"enum_values": ["1", "2"]})
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Param amount is of type number.",
            "details": [
                {
                    "field": "body.enum_values",
                    "code": "NOT_AN_ENUM",
                    "message": "only enum params have values.",
                }
            ],
        }
    }


async def test_delete_then_redefine(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount", "type": "number"}])
    response = await client.delete(f"{PARAMS}/amount")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{PARAMS}/amount")).json() == param_not_found("amount")
    assert (await client.delete(f"{PARAMS}/amount")).status_code == 404
    assert await params_of(client) == []
    again = await client.post(PARAMS, json={"key": "amount", "type": "string"})
    assert again.status_code == 201
    assert again.json()["type"] == "string"


async def test_inline_params_are_created(client: httpx.AsyncClient) -> None:
    app = await create_application(
        client,
        "billing",
        params=[
            {"key": "amount", "type": "number", "required": True},
            {"key": "currency", "type": "enum", "enum_values": ["EUR", "USD"], "label": "Cur"},
        ],
    )
    assert app["param_count"] == 2
    listed = await params_of(client)
    assert [(p["key"], p["type"], p["label"], p["required"]) for p in listed] == [
        ("amount", "number", "amount", True),
        ("currency", "enum", "Cur", False),
    ]
    assert all(p["application_id"] == app["id"] for p in listed)
    assert listed[1]["enum_values"] == ["EUR", "USD"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            [{"key": "amount"}, {"key": "currency"}, {"key": "amount", "type": "number"}],
            {
                "code": "VALIDATION_ERROR",
                "message": "Param amount is defined twice.",
                "details": [
                    {
                        "field": "body.params.2.key",
                        "code": "DUPLICATE_KEY",
                        "message": "repeats a key.",
                    }
                ],
            },
        ),
        (
            [{"key": "amount"}, {"key": "kind", "type": "enum"}],
            {
                "code": "VALIDATION_ERROR",
                "message": "Invalid request: body.params.1.enum_values.",
                "details": [
                    {
                        "field": "body.params.1.enum_values",
                        "code": "VALUE_ERROR",
                        "message": "Value error, enum_values is required when type is enum",
                    }
                ],
            },
        ),
    ],
)
async def test_bad_inline_params_store_nothing(
    client: httpx.AsyncClient, params: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    stored = await record_total(client)
    response = await client.post(
        APPLICATIONS, json={"key": "billing", "name": "B", "params": params}
    )
    assert response.status_code == 422
    assert response.json() == {"error": expected}
    assert (await client.get(f"{APPLICATIONS}/billing")).status_code == 404
    assert await record_total(client) == stored


async def test_param_count_follows_creates_and_deletes(client: httpx.AsyncClient) -> None:
    app = await create_application(client, "billing", params=[{"key": "a"}, {"key": "b"}])
    assert app["param_count"] == 2

    async def counts() -> list[int]:
        """param_count as seen by get (id and key), list, a no-op patch and a new record."""
        got = [(await client.get(f"{APPLICATIONS}/{ref}")).json() for ref in ("billing", app["id"])]
        listed = (await client.get(APPLICATIONS)).json()["applications"]
        patched = (await client.patch(f"{APPLICATIONS}/billing", json={})).json()
        record = await post_record(client, application_key="billing")
        fetched = (await client.get(f"/api/audit-trail/records/{record['id']}")).json()
        return [
            *(body["param_count"] for body in got),
            listed[0]["param_count"],
            patched["param_count"],
            record["application"]["param_count"],
            fetched["application"]["param_count"],
        ]

    assert await counts() == [2] * 6
    assert (await client.post(PARAMS, json={"key": "c"})).status_code == 201
    assert await counts() == [3] * 6
    assert (await client.delete(f"{PARAMS}/a")).status_code == 204
    assert (await client.delete(f"{PARAMS}/b")).status_code == 204
    assert await counts() == [1] * 6
    renamed = await client.patch(f"{APPLICATIONS}/billing", json={"name": "Renamed"})
    assert renamed.json()["param_count"] == 1
