"""GET /api/audit-trail/export from the outside: NDJSON and CSV with filters, sorts and the
empty result, the signed manifest, formula injection, who may export what, and every bad
input's exact answer (and that a refused export records nothing)."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from audittrail.integrity.manifest import verify_export, verify_manifest
from audittrail.integrity.verify import VerificationError
from audittrail.log import checkpointer
from audittrail.records.export import snapshot
from tests.export.support import (
    COLUMNS,
    EXPORT,
    REFUSED,
    checkpoint_now,
    export,
    export_records,
    read_ndjson,
    shop,
)
from tests.helpers import RECORDS, create_application, post_record, query_problem, record_total
from tests.search.support import key_client


async def log_entries(client: httpx.AsyncClient) -> dict[int, bytes]:
    """Every record's leaf bytes, by seq, as the log serves them."""
    response = await client.get("/api/audit-trail/log/entries")
    assert response.status_code == 200, response.text
    lines = response.content.splitlines()
    return {orjson.loads(line)["seq"]: line for line in lines}


async def test_ndjson_lines_are_the_logs_leaves_and_the_manifest_signs_them(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    response = await export(client, format="ndjson")
    assert response.headers["content-type"] == "application/x-ndjson"
    tree_size = int(response.headers["audittrail-tree-size"])
    assert response.headers["content-disposition"] == (
        f'attachment; filename="audittrail-export-{tree_size}.ndjson"'
    )
    exported = read_ndjson(app, response.content)
    # The log has grown since by the export's own record.
    entries = {seq: line for seq, line in (await log_entries(client)).items() if seq < tree_size}
    assert len(exported.lines) == tree_size == len(entries)
    # Newest first, each line byte for byte the log's leaf (the admin sees every value).
    seqs = [record["seq"] for record in exported.records]
    assert seqs == sorted(entries, reverse=True)
    assert [line.rstrip(b"\n") for line in exported.lines] == [entries[seq] for seq in seqs]
    manifest = exported.manifest
    assert (manifest.format, manifest.records) == ("ndjson", tree_size)
    assert (manifest.first_seq, manifest.last_seq) == (0, tree_size - 1)
    assert manifest.range == (0, tree_size)
    assert manifest.filters == {}
    assert manifest.exported_by == "api_key:bootstrap"
    assert manifest.origin == app.state.signer.origin


async def test_filters_and_sorts_choose_and_order_the_records(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    params = {
        "application_key": "shop",
        "severities": "high,critical,low",
        "sort_by": "severity",
        "sort_dir": "asc",
        "param_filters": '[{"key": "amount", "operator": "gte", "value": 10}]',
    }
    exported = read_ndjson(app, (await export(client, **params)).content)
    assert [r["summary"] for r in exported.records] == ["Order 1", "Order 2"]
    assert [r["severity"] for r in exported.records] == ["high", "critical"]
    manifest = exported.manifest
    assert manifest.filters == params
    assert manifest.range is None  # filtered: the manifest claims no range of the log
    assert (manifest.first_seq, manifest.last_seq) == (
        min(r["seq"] for r in exported.records),
        max(r["seq"] for r in exported.records),
    )
    listed = await client.get(RECORDS, params=params)
    assert [r["id"] for r in listed.json()["records"]] == [r["id"] for r in exported.records]


async def test_an_export_pages_through_more_records_than_one_read(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audittrail.records.export import reader

    monkeypatch.setattr(reader, "PAGE", 3)
    for number in range(8):
        await post_record(client, summary=f"n{number}", severity=["low", "high"][number % 2])
    await checkpoint_now(app)
    for sort_by in ("created_at", "severity", "actor", "event_type", "category"):
        for sort_dir in ("asc", "desc"):
            # Not the records of the exports before (export.created).
            params = {"sort_by": sort_by, "sort_dir": sort_dir, "event_types": "test.event"}
            exported = read_ndjson(app, (await export(client, **params)).content)
            listed = await client.get(RECORDS, params={**params, "page_size": 100})
            assert [r["id"] for r in exported.records] == [
                r["id"] for r in listed.json()["records"]
            ], params


async def test_an_empty_result_is_an_export_of_nothing_with_its_manifest(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await checkpoint_now(app)
    exported = read_ndjson(app, (await export(client, event_types="no.such")).content)
    assert exported.records == []
    manifest = exported.manifest
    assert (manifest.records, manifest.first_seq, manifest.last_seq) == (0, None, None)
    assert manifest.data_sha256 == hashlib.sha256(b"").hexdigest()
    response = await export(client, format="csv", event_types="no.such")
    assert response.content == (",".join(COLUMNS) + "\r\n").encode()


async def test_csv_is_rfc_4180_with_json_columns(app: FastAPI, client: httpx.AsyncClient) -> None:
    created = await post_record(
        client,
        summary='Said "hi", then\r\nleft',
        metadata={"region": "eu", "nested": {"a": [1, 2]}},
        entity_type="user",
        entity_id="u-1",
    )
    await checkpoint_now(app)
    response = await export(client, format="csv", event_types="test.event")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode()
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    assert '"Said ""hi"", then\r\nleft"' in text
    [row] = list(csv.DictReader(io.StringIO(text, newline="")))
    assert row["id"] == created["id"]
    assert row["summary"] == 'Said "hi", then\r\nleft'
    assert row["metadata"] == '{"nested":{"a":[1,2]},"region":"eu"}'
    assert row["params"] == "{}"
    assert row["application_id"] == ""  # null
    assert row["created_at"].endswith("Z") and len(row["created_at"]) == 27
    assert (row["entity_type"], row["entity_id"], row["source"]) == ("user", "u-1", "manual")


async def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await create_application(
        client,
        "calc",
        params=[{"key": "formula", "type": "string"}, {"key": "n", "type": "number"}],
    )
    attacks = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "'quoted"]
    for attack in attacks:
        await post_record(
            client,
            application_key="calc",
            summary=attack,
            event_type="calc.run",
            params={"formula": attack, "n": -5},
        )
    await checkpoint_now(app)
    response = await export(
        client, format="csv", application_key="calc", params_as_columns="true", sort_dir="asc"
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode(), newline="")))
    assert list(rows[0]) == [*COLUMNS, "param.formula", "param.n"]
    assert [row["summary"] for row in rows] == ["'" + attack for attack in attacks]
    assert [row["param.formula"] for row in rows] == ["'" + attack for attack in attacks]
    assert {row["param.n"] for row in rows} == {"-5"}  # a number is no formula
    # The JSON column starts with "{": safe as it is.
    assert orjson.loads(rows[0]["params"]) == {"formula": attacks[0], "n": -5}


async def test_csv_byte_order_mark_is_opt_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    await checkpoint_now(app)
    plain = await export(client, format="csv")
    with_bom = await export(client, format="csv", bom="true")
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    assert with_bom.content.startswith(b"\xef\xbb\xbfid,seq,")


async def test_the_csv_manifest_is_fetched_beside_it_and_fails_on_one_changed_byte(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    response = await export(client, format="csv", bom="true", application_key="shop")
    link = response.headers["link"]
    assert link.startswith(f"<{EXPORT}?") and link.endswith('>; rel="describedby"')
    url = link[1 : link.index(">")]
    await post_record(client, summary="after the export")  # the pinned manifest ignores it
    await checkpoint_now(app)
    fetched = await client.get(url)
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"].startswith("text/plain")
    manifest = verify_manifest(fetched.text, app.state.signer.verifier_key)
    assert manifest.format == "csv"
    assert manifest.records == 4
    assert manifest.tree_size == int(response.headers["audittrail-tree-size"])
    assert manifest.data_sha256 == hashlib.sha256(response.content).hexdigest()
    key = app.state.signer.verifier_key
    assert verify_export(response.content, key, fetched.text) == manifest
    changed = bytearray(response.content)
    changed[-3] ^= 1
    with pytest.raises(VerificationError, match="the data are not what was exported"):
        verify_export(bytes(changed), key, fetched.text)


async def test_a_tampered_manifest_does_not_verify(app: FastAPI, client: httpx.AsyncClient) -> None:
    from audittrail.integrity.verify import VerificationError

    await post_record(client)
    await checkpoint_now(app)
    content = (await export(client)).content
    exported = read_ndjson(app, content)
    trailer = orjson.loads(content.splitlines()[-1])
    forged = trailer["manifest"].replace(f"records {exported.manifest.records}", "records 99")
    with pytest.raises(VerificationError):
        verify_manifest(forged, app.state.signer.verifier_key)


async def test_every_export_is_recorded_with_who_what_and_how_many(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    await export(client, format="csv", application_key="shop")
    [record] = await export_records(client)
    assert record["actor"] == "api_key:bootstrap"
    assert record["category"] == "security"
    assert record["params"]["format"] == "csv"
    assert record["params"]["filters"] == {"application_key": "shop"}
    assert record["params"]["records"] == 4
    assert record["summary"] == "Exported 4 records as csv"


async def test_a_bound_key_exports_its_applications_records_only(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await create_application(client, "other")
    await post_record(client, application_key="other", summary="not yours")
    shop_id = (await client.get("/api/audit-trail/applications/shop")).json()["id"]
    await checkpoint_now(app)
    async with await key_client(app, client, "bound", ["export"], [shop_id]) as bound:
        exported = read_ndjson(app, (await export(bound)).content)
        assert {r["application_key"] for r in exported.records} == {"shop"}
        assert len(exported.records) == 4
        assert exported.manifest.range is None  # not every record of the log
        # Sensitive values are masked for a non-admin, as the list shows them; the manifest
        # says whose view it is.
        assert {r["params"]["card"] for r in exported.records} == {"[masked]"}
        assert exported.manifest.filters == {
            "reader_applications": [shop_id],
            "sensitive_params": "masked",
        }
        other = read_ndjson(app, (await export(bound, application_key="other")).content)
        assert other.records == []


async def test_who_may_export(app: FastAPI, client: httpx.AsyncClient) -> None:
    await checkpoint_now(app)
    async with await key_client(app, client, "reader", ["records:read"]) as reader:
        response = await reader.get(EXPORT)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "FORBIDDEN"
    async with await key_client(app, client, "auditor", ["export"]) as auditor:
        assert (await auditor.get(EXPORT)).status_code == 200
    anonymous = await client.get(EXPORT, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert await export_records(client) != []  # the auditor's, not the refused ones
    assert len(await export_records(client)) == 1


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        *REFUSED,
        (
            {"format": "ndjson", "params_as_columns": "true", "application_key": "x"},
            422,
            query_problem("params_as_columns", "applies to format=csv only."),
        ),
        (
            {"manifest": "true"},
            422,
            query_problem("manifest", "applies to format=csv: NDJSON and packs carry theirs."),
        ),
    ],
)
async def test_bad_inputs_are_refused_and_record_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    params: dict[str, str],
    status: int,
    body: Any,
) -> None:
    await checkpoint_now(app)
    response = await client.get(EXPORT, params=params)
    assert response.status_code == status, response.text
    assert response.json() == body
    assert await export_records(client) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "query.format"),
        ({"seq_from": "-1"}, "query.seq_from"),
        ({"seq_to": str(2**63)}, "query.seq_to"),
        ({"tree_size": "-1"}, "query.tree_size"),
        ({"bom": "perhaps"}, "query.bom"),
    ],
)
async def test_malformed_parameters_are_422(
    app: FastAPI, client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get(EXPORT, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [detail["field"] for detail in error["details"]] == [field]
    assert await export_records(client) == []


async def test_a_sensitive_filter_or_a_masked_pack_is_refused_to_a_non_admin(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await shop(client)
    await checkpoint_now(app)
    async with await key_client(app, client, "auditor", ["export"]) as auditor:
        response = await auditor.get(
            EXPORT, params={"param_filters": '[{"key": "card", "operator": "exists"}]'}
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "SENSITIVE_PARAM"
        response = await auditor.get(EXPORT, params={"format": "pack"})
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "SENSITIVE_PARAM"
        # Without the records that hold the sensitive param, the pack is theirs to take.
        response = await auditor.get(EXPORT, params={"format": "pack", "event_types": "loose.end"})
        assert response.status_code == 200, response.text
    assert [r["params"]["format"] for r in await export_records(client)] == ["pack"]


async def test_a_parameter_given_twice_is_stated_as_it_was_applied(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await post_record(client, event_type="keep.this")
    await post_record(client, event_type="other.thing")
    await checkpoint_now(app)
    response = await client.get(
        EXPORT, params=[("event_types", "keep.this"), ("event_types", "other.thing")]
    )
    assert response.status_code == 200, response.text
    exported = read_ndjson(app, response.content)
    # The last value is the one applied, as everywhere in the API; the manifest says so.
    assert [r["event_type"] for r in exported.records] == ["other.thing"]
    assert exported.manifest.filters == {"event_types": "other.thing"}


@pytest.mark.parametrize("where", [0, 100, -200])
async def test_an_ndjson_export_with_one_byte_changed_fails_its_manifest(
    app: FastAPI, client: httpx.AsyncClient, where: int
) -> None:
    await shop(client)
    await checkpoint_now(app)
    content = (await export(client)).content
    key = app.state.signer.verifier_key
    assert verify_export(content, key).records == read_ndjson(app, content).manifest.records
    *lines, last = content.splitlines(keepends=True)
    data = bytearray(b"".join(lines))
    data[where] ^= 1
    with pytest.raises(VerificationError, match="the data are not what was exported"):
        verify_export(bytes(data) + last, key)


async def test_an_export_the_checkpointer_has_not_covered_is_503_and_records_nothing(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log has grown past its latest checkpoint and the signer does not come: the export
    cannot be taken against a checkpoint, so it is refused, and says when to retry."""

    async def signs_nothing(*_args: object, **_kwargs: object) -> None:
        return None

    await checkpoint_now(app)
    monkeypatch.setattr(checkpointer, "checkpoint_head", signs_nothing)
    monkeypatch.setattr(snapshot, "WAIT_INTERVALS", 0)  # the wait: MIN_WAIT_SECONDS
    monkeypatch.setattr(snapshot, "MIN_WAIT_SECONDS", 0.2)
    await post_record(client)
    stored = await record_total(client)
    pending = {
        "error": {
            "code": "CHECKPOINT_PENDING",
            "message": "No checkpoint covers the log yet, so an export could not be taken "
            "against one; retry shortly.",
        }
    }
    for response in (
        await client.get(EXPORT, params={"format": "csv"}),
        await client.post(f"{EXPORT}s", json={"format": "ndjson"}),
    ):
        assert response.status_code == 503, response.text
        assert response.json() == pending
        assert response.headers["retry-after"] == "1"
    assert await record_total(client) == stored
    assert await export_records(client) == []
    assert (await client.get(f"{EXPORT}s")).json()["total"] == 0
