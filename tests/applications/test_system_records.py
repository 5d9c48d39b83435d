"""Every change to an application or a param leaves one system record; failures leave none."""

from __future__ import annotations

from typing import Any

import httpx

from tests.applications.conftest import system_records
from tests.conftest import CLIENT_ADDRESS
from tests.helpers import APPLICATIONS, create_application, post_record, record_total

PARAMS = f"{APPLICATIONS}/billing/params"
ACTOR = "api_key:bootstrap"


async def trail(client: httpx.AsyncClient) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(event_type, entity_type, entity_id, params) of each application and param record."""
    records = [
        record
        for record in await system_records(client)
        if record["entity_type"] in ("application", "param")
    ]
    for record in records:
        assert record["actor"] == ACTOR
        assert record["category"] == "system"
        assert record["ip_address"] == CLIENT_ADDRESS[0]
        assert record["application"] is None
    return [
        (record["event_type"], record["entity_type"], record["entity_id"], record["params"])
        for record in records
    ]


def created(**fields: Any) -> dict[str, Any]:
    return {name: {"old": None, "new": value} for name, value in fields.items()}


def deleted(**fields: Any) -> dict[str, Any]:
    return {name: {"old": value, "new": None} for name, value in fields.items()}


async def test_application_lifecycle(client: httpx.AsyncClient) -> None:
    app = await create_application(client, "billing", accent_color="#102030")
    app_id = app["id"]
    await client.patch(f"{APPLICATIONS}/billing", json={"name": "Billing v2", "description": "D"})
    await client.patch(f"{APPLICATIONS}/billing", json={"archived": True})
    await client.patch(f"{APPLICATIONS}/billing", json={"archived": False})
    assert (await client.delete(f"{APPLICATIONS}/billing")).status_code == 204
    assert await trail(client) == [
        (
            "application.created",
            "application",
            app_id,
            created(
                key="billing",
                name="Billing",
                accent_color="#102030",
                allow_unknown_params=True,
                archived=False,
            ),
        ),
        (
            "application.updated",
            "application",
            app_id,
            {
                "name": {"old": "Billing", "new": "Billing v2"},
                "description": {"old": None, "new": "D"},
            },
        ),
        ("application.archived", "application", app_id, {"archived": {"old": False, "new": True}}),
        ("application.restored", "application", app_id, {"archived": {"old": True, "new": False}}),
        (
            "application.deleted",
            "application",
            app_id,
            deleted(
                key="billing",
                name="Billing v2",
                description="D",
                accent_color="#102030",
                allow_unknown_params=True,
                archived=False,
            ),
        ),
    ]
    severities = [r["severity"] for r in await system_records(client, entity_type="application")]
    assert severities == ["low", "low", "low", "low", "medium"]


async def test_param_lifecycle(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing")
    await client.post(
        PARAMS, json={"key": "kind", "type": "enum", "enum_values": ["a"], "required": True}
    )
    await client.patch(f"{PARAMS}/kind", json={"label": "Kind", "enum_values": ["a", "b"]})
    assert (await client.delete(f"{PARAMS}/kind")).status_code == 204
    assert (await trail(client))[1:] == [
        (
            "param.created",
            "param",
            "billing.kind",
            created(
                key="kind",
                label="kind",
                type="enum",
                required=True,
                sensitive=False,
                enum_values=["a"],
            ),
        ),
        (
            "param.updated",
            "param",
            "billing.kind",
            {
                "label": {"old": "kind", "new": "Kind"},
                "enum_values": {"old": ["a"], "new": ["a", "b"]},
            },
        ),
        (
            "param.deleted",
            "param",
            "billing.kind",
            deleted(
                key="kind",
                label="Kind",
                type="enum",
                required=True,
                sensitive=False,
                enum_values=["a", "b"],
            ),
        ),
    ]


async def test_inline_params_and_their_deletion_are_recorded(client: httpx.AsyncClient) -> None:
    app = await create_application(
        client,
        "billing",
        params=[{"key": "amount", "type": "number"}, {"key": "note", "description": "Free"}],
    )
    assert (await client.delete(f"{APPLICATIONS}/billing")).status_code == 204
    events = [(event, entity_id) for event, _, entity_id, _ in await trail(client)]
    assert events == [
        ("application.created", app["id"]),
        ("param.created", "billing.amount"),
        ("param.created", "billing.note"),
        ("param.deleted", "billing.amount"),
        ("param.deleted", "billing.note"),
        ("application.deleted", app["id"]),
    ]
    params = [params for _, entity_type, _, params in await trail(client) if entity_type == "param"]
    flags = {"required": False, "sensitive": False}
    assert params[0] == created(key="amount", label="amount", type="number", **flags)
    assert params[1] == created(
        key="note", label="note", type="string", description="Free", **flags
    )
    assert params[2] == deleted(key="amount", label="amount", type="number", **flags)


async def test_changes_that_change_nothing_write_nothing(client: httpx.AsyncClient) -> None:
    await create_application(
        client, "billing", description="D", params=[{"key": "amount", "label": "Amount"}]
    )
    stored = await record_total(client)
    for path, body in [
        (f"{APPLICATIONS}/billing", {}),
        (f"{APPLICATIONS}/billing", {"name": "Billing", "description": "D"}),
        (f"{APPLICATIONS}/billing", {"archived": False}),
        (f"{APPLICATIONS}/billing", {"allow_unknown_params": True}),
        (f"{PARAMS}/amount", {}),
        (f"{PARAMS}/amount", {"label": "Amount", "required": False}),
    ]:
        assert (await client.patch(path, json=body)).status_code == 200, body
    await client.patch(f"{APPLICATIONS}/billing", json={"archived": True})
    stored += 1
    assert (
        await client.patch(f"{APPLICATIONS}/billing", json={"archived": True})
    ).status_code == 200
    assert await record_total(client) == stored


async def test_refused_changes_write_nothing(client: httpx.AsyncClient) -> None:
    await create_application(client, "billing", params=[{"key": "amount", "type": "number"}])
    await post_record(client, application_key="billing")
    stored = await record_total(client)
    refused = [
        (client.post(APPLICATIONS, json={"key": "billing", "name": "B"}), 409),
        (client.post(APPLICATIONS, json={"key": "Bad", "name": "B"}), 422),
        (client.patch(f"{APPLICATIONS}/billing", json={"key": "other"}), 422),
        (client.delete(f"{APPLICATIONS}/billing"), 409),
        (client.post(PARAMS, json={"key": "amount"}), 409),
        (client.patch(f"{PARAMS}/amount", json={"enum_values": ["1"]}), 422),
        (client.delete(f"{PARAMS}/nope"), 404),
    ]
    for call, status in refused:
        assert (await call).status_code == status
    assert await record_total(client) == stored
