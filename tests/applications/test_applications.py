"""Applications over HTTP: register, read by id or key, change, page, archive, delete."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.helpers import (
    APPLICATION_FIELDS,
    APPLICATIONS,
    RECORDS,
    create_application,
    post_record,
    record_total,
)

RESPONSE_FIELDS = [*APPLICATION_FIELDS, "allow_unknown_params", "archived_at"]
ADMIN_ONLY = {"error": {"code": "FORBIDDEN", "message": "This needs the scope applications:write."}}


def not_found(ref: str) -> dict[str, Any]:
    return {"error": {"code": "APPLICATION_NOT_FOUND", "message": f"No application {ref}."}}


def problems(response: httpx.Response) -> list[tuple[str, str]]:
    """(field, code) of each detail of a 422."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return [(problem["field"], problem["code"]) for problem in error["details"]]


async def application_total(client: httpx.AsyncClient, include_archived: bool = True) -> int:
    response = await client.get(
        APPLICATIONS, params={"include_archived": include_archived, "page_size": 1}
    )
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def test_create_returns_every_field_and_reads_back_by_id_and_key(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        APPLICATIONS,
        json={
            "key": "billing",
            "name": "Billing",
            "description": "Invoices and payments",
            "accent_color": "#1a2b3c",
            "allow_unknown_params": False,
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert list(created) == RESPONSE_FIELDS
    assert created["id"][14] == "7"  # UUIDv7
    assert created["key"] == "billing"
    assert created["name"] == "Billing"
    assert created["description"] == "Invoices and payments"
    assert created["accent_color"] == "#1a2b3c"
    assert created["param_count"] == 0
    assert created["allow_unknown_params"] is False
    assert created["archived_at"] is None
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith("Z")
    for ref in (created["id"], "billing"):
        fetched = await client.get(f"{APPLICATIONS}/{ref}")
        assert fetched.status_code == 200
        assert fetched.json() == created


async def test_defaults(client: httpx.AsyncClient) -> None:
    created = await create_application(client, "billing")
    assert created["description"] is None
    assert created["allow_unknown_params"] is True
    assert re.fullmatch(r"#[0-9a-f]{6}", created["accent_color"])


async def test_unknown_application_is_404_on_every_route(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    calls = [
        client.get(f"{APPLICATIONS}/nope"),
        client.patch(f"{APPLICATIONS}/nope", json={"name": "x"}),
        client.delete(f"{APPLICATIONS}/nope"),
        client.get(f"{APPLICATIONS}/nope/params"),
        client.post(f"{APPLICATIONS}/nope/params", json={"key": "amount"}),
        client.get(f"{APPLICATIONS}/nope/params/amount"),
        client.patch(f"{APPLICATIONS}/nope/params/amount", json={"label": "x"}),
        client.delete(f"{APPLICATIONS}/nope/params/amount"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 404, response.request
        assert response.json() == not_found("nope")
    assert await application_total(client) == 1


async def test_key_is_unique(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    stored = await record_total(client)
    response = await client.post(APPLICATIONS, json={"key": "billing", "name": "Other"})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "APPLICATION_EXISTS",
            "message": "An application with key billing exists.",
        }
    }
    assert await application_total(client) == 1
    assert (await client.get(f"{APPLICATIONS}/billing")).json()["name"] == "Billing"
    assert await record_total(client) == stored


async def test_key_boundaries_accepted(client: httpx.AsyncClient) -> None:
    for key in ("a", "a" * 64, "x9_", "billing_v2"):
        created = await create_application(client, key)
        assert created["key"] == key


BAD_CREATES: list[tuple[dict[str, Any], str, str]] = [
    ({"key": ""}, "body.key", "STRING_TOO_SHORT"),
    ({"key": "a" * 65}, "body.key", "STRING_TOO_LONG"),
    ({"key": "Billing"}, "body.key", "STRING_PATTERN_MISMATCH"),
    ({"key": "1billing"}, "body.key", "STRING_PATTERN_MISMATCH"),
    ({"key": "_billing"}, "body.key", "STRING_PATTERN_MISMATCH"),
    ({"key": "bill-ing"}, "body.key", "STRING_PATTERN_MISMATCH"),
    ({"key": "billing\n"}, "body.key", "STRING_PATTERN_MISMATCH"),
    ({"key": None}, "body.key", "STRING_TYPE"),
    ({"name": ""}, "body.name", "STRING_TOO_SHORT"),
    ({"name": "n" * 129}, "body.name", "STRING_TOO_LONG"),
    ({"name": None}, "body.name", "STRING_TYPE"),
    ({"description": "d" * 1025}, "body.description", "STRING_TOO_LONG"),
    ({"accent_color": "#fff"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "red"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "#12345g"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "1a2b3c"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "#1a2b3c4d"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"allow_unknown_params": "maybe"}, "body.allow_unknown_params", "BOOL_PARSING"),
    ({"params": {"amount": "number"}}, "body.params", "LIST_TYPE"),
    ({"archived_at": None}, "body.archived_at", "EXTRA_FORBIDDEN"),
    ({"param_count": 3}, "body.param_count", "EXTRA_FORBIDDEN"),
]


async def test_bad_create_is_422_and_stores_nothing(client: httpx.AsyncClient) -> None:
    stored = await record_total(client)
    for fields, field, code in BAD_CREATES:
        response = await client.post(APPLICATIONS, json={"key": "billing", "name": "B", **fields})
        assert problems(response) == [(field, code)], fields
        assert response.json()["error"]["message"] == f"Invalid request: {field}."
    assert await application_total(client) == 0
    assert await record_total(client) == stored


async def test_missing_key_and_name_are_both_listed(client: httpx.AsyncClient) -> None:
    response = await client.post(APPLICATIONS, json={})
    assert problems(response) == [("body.key", "MISSING"), ("body.name", "MISSING")]
    assert await application_total(client) == 0


async def test_name_and_description_boundaries_accepted(client: httpx.AsyncClient) -> None:
    short = await create_application(client, "short", name="n", description="")
    assert (short["name"], short["description"]) == ("n", "")
    long = await create_application(client, "long", name="n" * 128, description="d" * 1024)
    assert (long["name"], long["description"]) == ("n" * 128, "d" * 1024)


async def test_accent_color_is_lowercased(client: httpx.AsyncClient) -> None:
    created = await create_application(client, "billing", accent_color="#A1B2C3")
    assert created["accent_color"] == "#a1b2c3"
    changed = await client.patch(f"{APPLICATIONS}/billing", json={"accent_color": "#FFEEDD"})
    assert changed.json()["accent_color"] == "#ffeedd"
    assert (await client.get(f"{APPLICATIONS}/billing")).json()["accent_color"] == "#ffeedd"


async def test_default_accent_color_is_stable_per_key(client: httpx.AsyncClient) -> None:
    first = await create_application(client, "billing")
    assert (await client.delete(f"{APPLICATIONS}/billing")).status_code == 204
    again = await create_application(client, "billing")
    assert again["id"] != first["id"]
    assert again["accent_color"] == first["accent_color"]
    keys = ["shipping", "crm", "payroll", "inventory", "auth"]
    colors = {first["accent_color"]}
    for key in keys:
        color = (await create_application(client, key))["accent_color"]
        assert re.fullmatch(r"#[0-9a-f]{6}", color), color
        colors.add(color)
    assert len(colors) == len(keys) + 1


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient) -> None:
    created = await create_application(
        client, "billing", description="Invoices", accent_color="#101010"
    )
    response = await client.patch(
        f"{APPLICATIONS}/{created['id']}",
        json={"name": "Billing v2", "allow_unknown_params": False},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert list(changed) == RESPONSE_FIELDS
    assert changed["name"] == "Billing v2"
    assert changed["allow_unknown_params"] is False
    assert changed["description"] == "Invoices"
    assert changed["accent_color"] == "#101010"
    assert changed["created_at"] == created["created_at"]
    assert changed["updated_at"] > created["updated_at"]
    assert (await client.get(f"{APPLICATIONS}/billing")).json() == changed

    cleared = await client.patch(f"{APPLICATIONS}/billing", json={"description": None})
    assert cleared.status_code == 200
    assert cleared.json()["description"] is None
    assert (await client.get(f"{APPLICATIONS}/billing")).json()["description"] is None


async def test_patch_without_changes_keeps_updated_at(client: httpx.AsyncClient) -> None:
    created = await create_application(client, "billing")
    for body in ({}, {"name": "Billing"}, {"archived": False}):
        response = await client.patch(f"{APPLICATIONS}/billing", json=body)
        assert response.status_code == 200
        assert response.json() == created


BAD_PATCHES: list[tuple[dict[str, Any], str, str]] = [
    ({"key": "other"}, "body.key", "EXTRA_FORBIDDEN"),
    ({"key": "billing"}, "body.key", "EXTRA_FORBIDDEN"),
    ({"name": ""}, "body.name", "STRING_TOO_SHORT"),
    ({"name": "n" * 129}, "body.name", "STRING_TOO_LONG"),
    ({"description": "d" * 1025}, "body.description", "STRING_TOO_LONG"),
    ({"accent_color": "#fff"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "red"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"accent_color": "#12345g"}, "body.accent_color", "STRING_PATTERN_MISMATCH"),
    ({"archived": "soon"}, "body.archived", "BOOL_PARSING"),
    ({"params": []}, "body.params", "EXTRA_FORBIDDEN"),
]


async def test_bad_patch_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    created = await create_application(client, "billing")
    stored = await record_total(client)
    for body, field, code in BAD_PATCHES:
        response = await client.patch(f"{APPLICATIONS}/billing", json=body)
        assert problems(response) == [(field, code)], body
    assert (await client.get(f"{APPLICATIONS}/{created['id']}")).json() == created
    assert await record_total(client) == stored


async def test_patch_null_is_422_for_fields_that_cannot_be_null(
    client: httpx.AsyncClient,
) -> None:
    created = await create_application(client, "billing")
    stored = await record_total(client)
    for field in ("name", "accent_color", "allow_unknown_params", "archived"):
        response = await client.patch(f"{APPLICATIONS}/billing", json={field: None})
        assert response.status_code == 422
        assert response.json() == {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": f"Invalid request: body.{field}.",
                "details": [
                    {
                        "field": f"body.{field}",
                        "code": "VALUE_ERROR",
                        "message": "Value error, cannot be null; leave the field out to keep "
                        "its value",
                    }
                ],
            }
        }
    assert (await client.get(f"{APPLICATIONS}/billing")).json() == created
    assert await record_total(client) == stored


async def test_list_pages_in_key_order(client: httpx.AsyncClient) -> None:
    for key in ("echo", "alpha", "delta", "charlie", "bravo"):
        await create_application(client, key)
    seen: list[str] = []
    for page, expected in ((1, 2), (2, 2), (3, 1), (4, 0)):
        response = await client.get(APPLICATIONS, params={"page": page, "page_size": 2})
        assert response.status_code == 200
        body = response.json()
        assert list(body) == ["total", "page", "page_size", "total_pages", "applications"]
        assert (body["total"], body["page"], body["page_size"], body["total_pages"]) == (
            5,
            page,
            2,
            3,
        )
        assert len(body["applications"]) == expected
        assert all(list(app) == RESPONSE_FIELDS for app in body["applications"])
        seen += [app["key"] for app in body["applications"]]
    assert seen == ["alpha", "bravo", "charlie", "delta", "echo"]
    default = (await client.get(APPLICATIONS)).json()
    assert (default["page"], default["page_size"], default["total_pages"]) == (1, 50, 1)
    assert len(default["applications"]) == 5


async def test_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get(APPLICATIONS)
    assert response.json() == {
        "total": 0,
        "page": 1,
        "page_size": 50,
        "total_pages": 0,
        "applications": [],
    }


async def test_bad_list_query_is_422(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, str | int], str, str]] = [
        ({"page": 0}, "query.page", "GREATER_THAN_EQUAL"),
        ({"page": "x"}, "query.page", "INT_PARSING"),
        ({"page_size": 0}, "query.page_size", "GREATER_THAN_EQUAL"),
        ({"page_size": 201}, "query.page_size", "LESS_THAN_EQUAL"),
        ({"include_archived": "perhaps"}, "query.include_archived", "BOOL_PARSING"),
    ]
    for query, field, code in cases:
        response = await client.get(APPLICATIONS, params=query)
        assert problems(response) == [(field, code)], query


async def test_application_with_records_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    created = await create_application(client, "billing")
    await post_record(client, application_key="billing")
    stored = await record_total(client)
    for ref in ("billing", created["id"]):
        response = await client.delete(f"{APPLICATIONS}/{ref}")
        assert response.status_code == 409
        assert response.json() == {
            "error": {
                "code": "APPLICATION_HAS_RECORDS",
                "message": "Application billing has records and cannot be deleted; "
                "archive it instead.",
            }
        }
    assert (await client.get(f"{APPLICATIONS}/billing")).json() == created
    assert await record_total(client) == stored


async def test_application_without_records_is_deleted_by_id_or_key(
    client: httpx.AsyncClient,
) -> None:
    billing = await create_application(client, "billing", params=[{"key": "amount"}])
    shipping = await create_application(client, "shipping")
    by_key = await client.delete(f"{APPLICATIONS}/billing")
    assert by_key.status_code == 204
    assert by_key.content == b""
    by_id = await client.delete(f"{APPLICATIONS}/{shipping['id']}")
    assert by_id.status_code == 204
    for ref in ("billing", billing["id"], "shipping", shipping["id"]):
        response = await client.get(f"{APPLICATIONS}/{ref}")
        assert response.status_code == 404
        assert response.json() == not_found(ref)
    again = await client.delete(f"{APPLICATIONS}/billing")
    assert again.status_code == 404
    assert await application_total(client) == 0
    # Its params went with it: the same key starts afresh.
    assert (await create_application(client, "billing"))["param_count"] == 0


async def test_archive_keeps_records_hides_from_list_and_refuses_new_ones(
    client: httpx.AsyncClient,
) -> None:
    await create_application(client, "active")
    created = await create_application(client, "legacy")
    record = await post_record(client, application_key="legacy")

    response = await client.patch(f"{APPLICATIONS}/legacy", json={"archived": True})
    assert response.status_code == 200
    archived = response.json()
    assert archived["archived_at"] is not None and archived["archived_at"].endswith("Z")
    assert archived["updated_at"] > created["updated_at"]
    assert (await client.get(f"{APPLICATIONS}/legacy")).json() == archived

    listed = (await client.get(APPLICATIONS)).json()
    assert [app["key"] for app in listed["applications"]] == ["active"]
    assert listed["total"] == 1
    everything = (await client.get(APPLICATIONS, params={"include_archived": True})).json()
    assert [app["key"] for app in everything["applications"]] == ["active", "legacy"]
    assert everything["total"] == 2

    kept = await client.get(f"{RECORDS}/{record['id']}")
    assert kept.status_code == 200
    assert kept.json()["application_key"] == "legacy"

    stored = await record_total(client)
    for ref in ({"application_key": "legacy"}, {"application_id": created["id"]}):
        refused = await client.post(RECORDS, json={"event_type": "x", "summary": "y", **ref})
        assert refused.status_code == 422
        [field] = ref
        assert refused.json() == {
            "error": {
                "code": "APPLICATION_ARCHIVED",
                "message": "Application legacy is archived and takes no new records.",
                "details": [
                    {
                        "field": f"body.{field}",
                        "code": "APPLICATION_ARCHIVED",
                        "message": "application legacy is archived.",
                    }
                ],
            }
        }
    assert await record_total(client) == stored
    assert (await client.delete(f"{APPLICATIONS}/legacy")).status_code == 409

    restored = await client.patch(f"{APPLICATIONS}/{created['id']}", json={"archived": False})
    assert restored.status_code == 200
    assert restored.json()["archived_at"] is None
    assert await application_total(client, include_archived=False) == 2
    await post_record(client, application_key="legacy")


async def test_archived_application_without_records_can_be_deleted(
    client: httpx.AsyncClient,
) -> None:
    await create_application(client, "legacy")
    await client.patch(f"{APPLICATIONS}/legacy", json={"archived": True})
    assert (await client.delete(f"{APPLICATIONS}/legacy")).status_code == 204
    assert await application_total(client) == 0


async def test_writer_reads_but_cannot_change(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    created = await create_application(
        client, "billing", params=[{"key": "amount", "type": "number"}]
    )
    assert (await writer.get(APPLICATIONS)).json()["applications"] == [created]
    assert (await writer.get(f"{APPLICATIONS}/billing")).json() == created
    assert (await writer.get(f"{APPLICATIONS}/billing/params")).status_code == 200
    assert (await writer.get(f"{APPLICATIONS}/billing/params/amount")).status_code == 200
    param = (await client.get(f"{APPLICATIONS}/billing/params/amount")).json()
    stored = await record_total(client)
    calls = [
        writer.post(APPLICATIONS, json={"key": "other", "name": "Other"}),
        writer.patch(f"{APPLICATIONS}/billing", json={"name": "Mine"}),
        writer.patch(f"{APPLICATIONS}/billing", json={"archived": True}),
        writer.delete(f"{APPLICATIONS}/billing"),
        writer.post(f"{APPLICATIONS}/billing/params", json={"key": "currency"}),
        writer.patch(f"{APPLICATIONS}/billing/params/amount", json={"required": True}),
        writer.delete(f"{APPLICATIONS}/billing/params/amount"),
        # Forbidden before anything is looked up: no hint whether it exists.
        writer.delete(f"{APPLICATIONS}/nope"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 403, response.request
        assert response.json() == ADMIN_ONLY
    assert (await client.get(APPLICATIONS)).json()["applications"] == [created]
    assert (await client.get(f"{APPLICATIONS}/billing/params/amount")).json() == param
    assert await record_total(client) == stored


async def test_anonymous_is_401(anonymous: httpx.AsyncClient) -> None:
    for call in (
        anonymous.get(APPLICATIONS),
        anonymous.post(APPLICATIONS, json={"key": "billing", "name": "Billing"}),
        anonymous.get(f"{APPLICATIONS}/billing/params"),
    ):
        response = await call
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_concurrent_creates_of_one_key(client: httpx.AsyncClient) -> None:
    """One wins; the others get the same 409 a later request would, never a 500."""
    stored = await record_total(client)
    responses = await asyncio.gather(
        *(client.post(APPLICATIONS, json={"key": "race", "name": "Race"}) for _ in range(5))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409, 409]
    await create_application(client, "billing")
    responses = await asyncio.gather(
        *(client.post(f"{APPLICATIONS}/billing/params", json={"key": "p"}) for _ in range(5))
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409, 409]
    assert [r.json()["error"]["code"] for r in responses if r.status_code == 409] == [
        "PARAM_EXISTS"
    ] * 4
    assert await application_total(client) == 2
    assert await record_total(client) == stored + 3
