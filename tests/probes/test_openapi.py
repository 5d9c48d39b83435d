"""The OpenAPI document of the intake routes names the 200 of an idempotent replay."""

from __future__ import annotations

import httpx

from tests.helpers import RECORDS


async def test_both_intake_routes_document_the_replay(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    single = paths[RECORDS]["post"]["responses"]
    batch = paths[f"{RECORDS}/batch"]["post"]["responses"]
    for responses, model in ((single, "RecordResponse"), (batch, "BatchResponse")):
        schema = {"$ref": f"#/components/schemas/{model}"}
        assert responses["201"]["content"]["application/json"]["schema"] == schema
        assert responses["200"]["content"]["application/json"]["schema"] == schema
    assert single["200"]["description"] == (
        "An idempotent replay: the record created by the first request with this Idempotency-Key"
    )
    assert batch["200"]["description"] == (
        "An idempotent replay of every item: the records created by the first requests with "
        "their idempotency_key"
    )


async def test_the_docs_and_their_assets_are_not_in_the_document(
    anonymous: httpx.AsyncClient,
) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/static", "/redoc"))]
