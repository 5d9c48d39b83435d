"""A record's params are checked against its application's param definitions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import APPLICATIONS, RECORDS, create_application, post_record, record_total

ENUM_VALUES = ["eur", "usd"]

# type: (accepted values, rejected values with the message of their problem)
CASES: dict[str, tuple[list[Any], list[Any], str]] = {
    "string": (["", "x", "é" * 300], [1, True, ["x"], {"a": "b"}], "must be of type string."),
    "integer": ([0, -7, 10**15], [1.5, True, "1", [1]], "must be of type integer."),
    "number": ([1, 1.5, -0.25, 0], [True, "1.5", [1]], "must be of type number."),
    "boolean": ([True, False], [1, 0, "true"], "must be of type boolean."),
    "enum": (["eur", "usd"], ["gbp", "EUR", 1, ["eur"]], "must be one of: eur, usd."),
    "datetime": (
        [],  # accepted ones are checked with their normal form below
        [
            "2024-05-01T10:30:00",
            "2024-05-01",
            "yesterday",
            "",
            1714559400,
            True,
            "2024-05-01T10:30:00+24:00",
            "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
            "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        ],
        "must be an ISO 8601 date-time with a time zone.",
    ),
}
DATETIMES = [
    ("2024-05-01T10:30:00Z", "2024-05-01T10:30:00.000000Z"),
    ("2024-05-01T12:30:00+02:00", "2024-05-01T10:30:00.000000Z"),
    ("2024-05-01T10:30:00.123456-05:00", "2024-05-01T15:30:00.123456Z"),
    ("2024-12-31T23:30:00.5-01:00", "2025-01-01T00:30:00.500000Z"),
    ("0001-01-01T05:00:00+01:00", "0001-01-01T04:00:00.000000Z"),  # four year digits
]


def body(app: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "x", "summary": "y", "application_key": app, "params": params}


def failed(app: str, *details: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "error": {
            "code": "PARAM_VALIDATION_FAILED",
            "message": f"params do not fit application {app}.",
            "details": [
                {"field": f"body.params.{key}", "code": code, "message": message}
                for key, code, message in details
            ],
        }
    }


async def define(client: httpx.AsyncClient, param_type: str, **fields: Any) -> None:
    definition: dict[str, Any] = {"key": "value", "type": param_type, **fields}
    if param_type == "enum":
        definition["enum_values"] = ENUM_VALUES
    await create_application(client, "typed", params=[definition])


@pytest.mark.parametrize("param_type", list(CASES))
async def test_each_type_accepts_and_rejects(client: httpx.AsyncClient, param_type: str) -> None:
    await define(client, param_type)
    accepted, rejected, message = CASES[param_type]
    for value in accepted:
        record = await post_record(client, **body("typed", {"value": value}))
        assert record["params"] == {"value": value}
        assert type(record["params"]["value"]) is type(value)
    stored = await record_total(client)
    for value in rejected:
        response = await client.post(RECORDS, json=body("typed", {"value": value}))
        assert response.status_code == 422, value
        assert response.json() == failed("typed", ("value", "INVALID_PARAM", message)), value
    assert await record_total(client) == stored


async def test_datetime_is_stored_in_utc_with_microseconds(client: httpx.AsyncClient) -> None:
    await define(client, "datetime")
    for given, stored in DATETIMES:
        record = await post_record(client, **body("typed", {"value": given}))
        assert record["params"] == {"value": stored}
        fetched = await client.get(f"{RECORDS}/{record['id']}")
        assert fetched.json()["params"] == {"value": stored}


async def test_json_accepts_anything(client: httpx.AsyncClient) -> None:
    await define(client, "json")
    for value in ({"a": [1, {"b": None}]}, [1, "x"], "text", 3.5, False, None):
        record = await post_record(client, **body("typed", {"value": value}))
        assert record["params"] == {"value": value}


async def test_optional_param_may_be_absent_or_null(client: httpx.AsyncClient) -> None:
    await define(client, "integer")
    assert (await post_record(client, **body("typed", {})))["params"] == {}
    assert (await post_record(client, **body("typed", {"value": None})))["params"] == {
        "value": None
    }


async def test_required_param_missing_or_null(client: httpx.AsyncClient) -> None:
    await define(client, "integer", required=True)
    stored = await record_total(client)
    for params in ({}, {"value": None}, {"other": 1}):
        response = await client.post(RECORDS, json=body("typed", params))
        assert response.status_code == 422
        assert response.json() == failed(
            "typed", ("value", "MISSING_PARAM", "value is required by this application.")
        )
    assert await record_total(client) == stored
    record = await post_record(client, **body("typed", {"value": 0}))
    assert record["params"] == {"value": 0}


async def test_unknown_params_kept_when_allowed(client: httpx.AsyncClient) -> None:
    await create_application(client, "open", params=[{"key": "amount", "type": "number"}])
    params = {"amount": 2, "note": "free text", "nested": {"x": [1]}, "nothing": None}
    record = await post_record(client, **body("open", params))
    assert record["params"] == params
    assert (await client.get(f"{RECORDS}/{record['id']}")).json()["params"] == params


async def test_unknown_params_rejected_when_not_allowed(client: httpx.AsyncClient) -> None:
    await create_application(
        client,
        "strict",
        allow_unknown_params=False,
        params=[{"key": "amount", "type": "number"}],
    )
    stored = await record_total(client)
    response = await client.post(
        RECORDS, json=body("strict", {"note": "x", "amount": 2, "extra": None})
    )
    assert response.status_code == 422
    assert response.json() == failed(
        "strict",
        ("note", "UNKNOWN_PARAM", "note is not a registered param."),
        ("extra", "UNKNOWN_PARAM", "extra is not a registered param."),
    )
    assert await record_total(client) == stored
    assert (await post_record(client, **body("strict", {"amount": 2})))["params"] == {"amount": 2}


async def test_allow_unknown_params_can_be_switched(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    await post_record(client, **body("billing", {"note": "x"}))
    await client.patch(f"{APPLICATIONS}/billing", json={"allow_unknown_params": False})
    stored = await record_total(client)
    response = await client.post(RECORDS, json=body("billing", {"note": "x"}))
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["code"] == "UNKNOWN_PARAM"
    assert await record_total(client) == stored


async def test_every_problem_is_listed(client: httpx.AsyncClient) -> None:
    await create_application(
        client,
        "billing",
        allow_unknown_params=False,
        params=[
            {"key": "amount", "type": "number", "required": True},
            {"key": "currency", "type": "enum", "enum_values": ["EUR"], "required": True},
            {"key": "count", "type": "integer"},
            {"key": "due", "type": "datetime"},
        ],
    )
    stored = await record_total(client)
    response = await client.post(
        RECORDS,
        json={
            "event_type": "x",
            "summary": "y",
            "application_key": "billing",
            "params": {"count": "2", "mystery": 1, "due": "2024-01-01", "currency": None},
        },
    )
    assert response.status_code == 422
    assert response.json() == failed(
        "billing",
        ("count", "INVALID_PARAM", "must be of type integer."),
        ("mystery", "UNKNOWN_PARAM", "mystery is not a registered param."),
        ("due", "INVALID_PARAM", "must be an ISO 8601 date-time with a time zone."),
        ("amount", "MISSING_PARAM", "amount is required by this application."),
        ("currency", "MISSING_PARAM", "currency is required by this application."),
    )
    assert await record_total(client) == stored


async def test_application_named_by_id_is_checked_too(client: httpx.AsyncClient) -> None:
    app = await create_application(client, "billing", params=[{"key": "n", "type": "integer"}])
    stored = await record_total(client)
    response = await client.post(
        RECORDS,
        json={"event_type": "x", "summary": "y", "application_id": app["id"], "params": {"n": "1"}},
    )
    assert response.status_code == 422
    assert response.json() == failed("billing", ("n", "INVALID_PARAM", "must be of type integer."))
    assert await record_total(client) == stored


async def test_records_without_application_take_any_params(client: httpx.AsyncClient) -> None:
    await create_application(
        client, "strict", allow_unknown_params=False, params=[{"key": "n", "type": "integer"}]
    )
    params = {"n": "not a number", "due": "2024-01-01", "anything": [1, {"b": True}]}
    record = await post_record(client, params=params)
    assert record["application"] is None
    assert record["params"] == params


async def test_definition_changes_apply_to_the_next_record(client: httpx.AsyncClient) -> None:
    await create_application(
        client, "billing", params=[{"key": "kind", "type": "enum", "enum_values": ["a"]}]
    )
    stored = await record_total(client)
    response = await client.post(RECORDS, json=body("billing", {"kind": "b"}))
    assert response.json() == failed("billing", ("kind", "INVALID_PARAM", "must be one of: a."))
    assert await record_total(client) == stored
    await client.patch(f"{APPLICATIONS}/billing/params/kind", json={"enum_values": ["a", "b"]})
    assert (await post_record(client, **body("billing", {"kind": "b"})))["params"] == {"kind": "b"}
    await client.patch(f"{APPLICATIONS}/billing/params/kind", json={"required": True})
    response = await client.post(RECORDS, json=body("billing", {}))
    assert response.json()["error"]["details"][0]["code"] == "MISSING_PARAM"
    await client.delete(f"{APPLICATIONS}/billing/params/kind")
    assert (await post_record(client, **body("billing", {"kind": 5})))["params"] == {"kind": 5}
