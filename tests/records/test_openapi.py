"""The intake routes read their requests themselves; their documentation still says it all."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import RECORDS

SECURITY = [{"HTTPBearer": []}, {"APIKeyHeader": []}, {"APIKeyCookie": []}]


async def operation(anonymous: httpx.AsyncClient, path: str) -> dict[str, Any]:
    schema = (await anonymous.get("/openapi.json")).json()
    post: dict[str, Any] = schema["paths"][path]["post"]
    return post


async def test_create_record_documents_body_header_security_and_answer(
    anonymous: httpx.AsyncClient,
) -> None:
    post = await operation(anonymous, RECORDS)
    assert post["summary"] == "Create Manual Audit Record"
    assert post["security"] == SECURITY
    [header] = post["parameters"]
    assert (header["name"], header["in"]) == ("idempotency-key", "header")
    assert header["required"] is False
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["event_type", "summary"]
    assert body["additionalProperties"] is False
    assert set(body["properties"]) == {
        "event_type",
        "summary",
        "category",
        "application_id",
        "application_key",
        "entity_type",
        "entity_id",
        "severity",
        "params",
        "metadata",
    }
    assert body["properties"]["summary"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 1024,
        "title": "Summary",
    }
    answer = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/RecordResponse"}
    assert {"400", "401", "403", "409", "413", "422"} <= set(post["responses"])


async def test_create_batch_documents_json_and_ndjson(anonymous: httpx.AsyncClient) -> None:
    post = await operation(anonymous, f"{RECORDS}/batch")
    assert post["security"] == SECURITY
    content = post["requestBody"]["content"]
    assert content["application/json"]["schema"]["maxItems"] == 1000
    assert "idempotency_key" in content["application/json"]["schema"]["items"]["properties"]
    assert set(content) == {"application/json", "application/x-ndjson"}
    answer = post["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/BatchResponse"}
