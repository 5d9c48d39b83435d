"""POST /api/audit-trail/imports: an export's NDJSON or CSV back into the log, on both databases.

What is kept and where (the actor and IP address the importer's, the file's in metadata, which
no file can forge), the same file twice, bad lines and repeated ids named by number with nothing
stored, the dry run, masked values, media types and sizes, and who may import.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audittrail import clock
from audittrail.app import create_app
from audittrail.config import Settings
from audittrail.log.append import AppendedRecord
from audittrail.records import imports
from tests.conftest import ADMIN_KEY, CLIENT_ADDRESS, make_client
from tests.helpers import APPLICATIONS, create_application, record_total
from tests.imports.support import (
    CSV,
    NDJSON,
    csv_file,
    exported,
    imported,
    ndjson_file,
    post_import,
    stored,
)

NOTHING_STORED = "nothing was stored, so the file can be corrected and imported again."
AMOUNT = {"key": "amount", "type": "number"}
CURRENCY = {"key": "currency", "type": "string"}
CARD = {"key": "card", "type": "string", "sensitive": True}


def answer(body: bytes, records: int, stored: int, replayed: int = 0, **more: Any) -> Any:
    return {
        "file_sha256": hashlib.sha256(body).hexdigest(),
        "records": records,
        "stored": stored,
        "replayed": replayed,
        "dry_run": False,
        **more,
    }


def invalid(refused: int, lines: int, *details: tuple[str, str, str]) -> Any:
    return {
        "error": {
            "code": "IMPORT_VALIDATION_FAILED",
            "message": f"{refused} of {lines} lines do not fit; {NOTHING_STORED}",
            "details": [
                {"field": field, "code": code, "message": message}
                for field, code, message in details
            ],
        }
    }


def the_records() -> list[dict[str, Any]]:
    """Three records of different shapes; the second names billing by key and by the id it had
    in the database it was exported from."""
    return [
        exported(1, metadata={"request_id": "req_1"}),
        exported(
            2,
            application_id="0190aaaa-0000-7000-8000-000000000000",
            application_key="billing",
            params={"amount": 12.5, "currency": "EUR"},
            actor="api_key:billing-service",
            severity="high",
        ),
        exported(3, actor=None, ip_address=None, entity_type=None, entity_id=None),
    ]


def provenance(original: dict[str, Any], importer: str = "api_key:bootstrap") -> dict[str, Any]:
    """What the import adds to a record's metadata: the file's id, time, actor and IP address
    (those it holds), and the importer."""
    kept = {
        "original_id": original.get("id"),
        "original_created_at": original.get("created_at"),
        "original_actor": original.get("actor"),
        "original_ip_address": original.get("ip_address"),
    }
    return {**{k: v for k, v in kept.items() if v is not None}, "imported_by": importer}


def check_kept(record: AppendedRecord, original: dict[str, Any], before: datetime) -> None:
    """The file's record as it was, but for what the log and the credential give it (its id,
    time, actor and IP address, and the source "import"); the file's in the metadata, the
    importer named."""
    assert record.id != original["id"]
    assert record.created_at >= before
    assert record.source == "import"
    assert (record.actor, record.ip_address) == ("api_key:bootstrap", CLIENT_ADDRESS[0])
    assert record.metadata == {**original["metadata"], **provenance(original)}
    for name in (
        "event_type",
        "category",
        "summary",
        "severity",
        "application_key",
        "entity_type",
        "entity_id",
        "params",
    ):
        assert getattr(record, name) == original[name], name


@pytest.fixture
async def billing(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_application(client, "billing", params=[AMOUNT, CURRENCY, CARD])


async def test_ndjson_lines_are_imported_as_they_were_exported(
    client: httpx.AsyncClient, database_url: str, billing: dict[str, Any]
) -> None:
    records = the_records()
    body = ndjson_file(records)
    before = clock.now()
    response = await post_import(client, body)

    assert response.status_code == 201, response.text
    assert response.json() == answer(body, records=3, stored=3)
    *rows, note = (await stored(database_url))[-4:]
    for row, original in zip(rows, records, strict=True):
        check_kept(row, original, before)
    assert rows[1].application_id == billing["id"]
    assert (note.event_type, note.source, note.actor) == (
        "records.imported",
        "system",
        "api_key:bootstrap",
    )
    assert (note.entity_type, note.entity_id) == ("import", hashlib.sha256(body).hexdigest())
    assert note.params == {"format": "ndjson", "records": 3, "stored": 3, "replayed": 0}
    assert note.ip_address == CLIENT_ADDRESS[0]


async def test_csv_rows_are_imported_as_they_were_exported(
    client: httpx.AsyncClient, database_url: str, billing: dict[str, Any]
) -> None:
    records = [
        *the_records(),
        # Cells a spreadsheet would run, neutralised by the export; a number left as it is.
        exported(4, summary='=HYPERLINK("x")', entity_id="-5", actor="@ops"),
        exported(5, summary="'quoted', with a comma\r\nand a line", entity_type="\ttab"),
        exported(6, metadata={"note": "=1+1", "nested": {"list": [1, "two", None]}}),
    ]
    # The param.<key> columns are the export's view of params: params decides.
    body = csv_file(records, bom=True, param_columns=["amount", "currency"])
    body = body.replace(b",12.5,EUR", b",99,USD")
    assert b"'=HYPERLINK" in body and b"''quoted" in body and b",-5," in body
    before = clock.now()
    response = await post_import(client, body, "text/csv; charset=utf-8")

    assert response.status_code == 201, response.text
    assert response.json() == answer(body, records=6, stored=6)
    rows = (await stored(database_url))[-7:-1]
    for row, original in zip(rows, records, strict=True):
        check_kept(row, original, before)


async def test_the_same_file_again_stores_nothing_twice(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Over several batches of 1,000; replays come back whoever imports, in any format's run."""
    records = [exported(number) for number in range(2345)]
    body = ndjson_file(records)
    first = await post_import(client, body)
    assert first.status_code == 201, first.text
    assert first.json() == answer(body, records=2345, stored=2345)
    total = await record_total(client)

    again = await post_import(client, body)
    assert again.status_code == 200, again.text
    assert again.json() == answer(body, records=2345, stored=0, replayed=2345)
    assert await record_total(client) == total  # not even a system record: nothing changed

    rows = await imported(database_url)
    assert [row.metadata["original_id"] for row in rows] == [r["id"] for r in records]


async def test_bad_lines_are_named_by_number_and_nothing_is_stored(
    client: httpx.AsyncClient, database_url: str, billing: dict[str, Any]
) -> None:
    lines = ndjson_file([exported(1), exported(2)], manifest=False)
    lines += b"\n"  # line 3: blank, skipped but counted
    lines += b'{"event_type": "a", "summary": \n'  # 4
    lines += ndjson_file(
        [
            {**exported(5), "summary": None},
            {**exported(6), "colour": "red"},
            exported(7, application_key="billing", params={"amount": "lots"}),
            exported(8, application_key="nowhere"),
            exported(9, created_at="2024-05-01T10:00:00"),
            [1, 2],
            exported(11, actor="x" * 401),
        ],
        manifest=True,
    )
    before = await record_total(client)
    response = await post_import(client, lines)

    assert response.status_code == 422, response.text
    assert response.json() == invalid(
        8,
        10,
        ("line 4", "INVALID_JSON", "The line is not valid JSON."),
        ("line 5.summary", "STRING_TYPE", "Input should be a valid string"),
        ("line 6.colour", "EXTRA_FORBIDDEN", "Extra inputs are not permitted"),
        ("line 7.params.amount", "INVALID_PARAM", "must be of type number."),
        ("line 8.application_key", "APPLICATION_NOT_FOUND", "no application nowhere."),
        ("line 9.created_at", "TIMEZONE_AWARE", "needs a UTC offset (Z or +hh:mm)."),
        ("line 10", "MODEL_TYPE", "Input should be a valid dictionary or instance of ImportLine"),
        ("line 11.actor", "STRING_TOO_LONG", "String should have at most 400 characters"),
    )
    assert await record_total(client) == before
    assert await imported(database_url) == []


async def test_csv_lines_are_named_by_their_first_physical_line(
    client: httpx.AsyncClient,
) -> None:
    body = csv_file(
        [
            exported(1, summary="two\r\nlines"),  # lines 2 and 3
            exported(2, summary=""),  # line 4: an empty cell is no value
            exported(3, severity="grave"),  # 5
        ]
    )
    body += b'x,1,"unterminated\r\n'  # line 6
    response = await post_import(client, body, CSV)

    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert [(d["field"], d["code"]) for d in details] == [
        ("line 4.summary", "MISSING"),
        ("line 5.severity", "ENUM"),
        ("line 6", "INVALID_CSV"),
    ]
    assert response.json()["error"]["message"] == f"3 of 4 lines do not fit; {NOTHING_STORED}"


@pytest.mark.parametrize(
    ("header", "details"),
    [
        (
            b"id,event_type,colour,summary,summary,param.amount",
            [
                ("line 1.colour", "UNKNOWN_COLUMN", "is no column of an export."),
                ("line 1.summary", "DUPLICATE_COLUMN", "appears more than once."),
            ],
        ),
        (b"id,event_type", [("line 1", "MISSING_COLUMN", "has no column summary.")]),
    ],
)
async def test_a_csv_header_that_is_not_the_exports_reads_nothing(
    client: httpx.AsyncClient, header: bytes, details: list[tuple[str, str, str]]
) -> None:
    body = header + b"\r\n1,a,b,c,d,e\r\n"
    response = await post_import(client, body, CSV)
    assert response.status_code == 422, response.text
    assert response.json() == invalid(1, 1, *details)


async def test_a_dry_run_checks_and_stores_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    body = ndjson_file([exported(number) for number in range(3)])
    before = await record_total(client)

    response = await post_import(client, body, dry_run="true")
    assert response.status_code == 200, response.text
    assert response.json() == answer(body, records=3, stored=0, dry_run=True)

    bad = ndjson_file([exported(1), {**exported(2), "severity": "grave"}])
    response = await post_import(client, bad, dry_run="true")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "line 2.severity"
    assert await record_total(client) == before

    # The dry run claimed nothing: the real run stores the file.
    response = await post_import(client, body)
    assert response.json() == answer(body, records=3, stored=3)


async def test_masked_sensitive_values_are_refused(
    client: httpx.AsyncClient, database_url: str, billing: dict[str, Any]
) -> None:
    """What a reader's export holds of a sensitive param is the mask, never the value."""
    body = ndjson_file(
        [
            exported(1, application_key="billing", params={"card": "[masked]"}),
            exported(2, application_key="billing", params={"currency": "[masked]"}),
        ]
    )
    response = await post_import(client, body)
    assert response.status_code == 422, response.text
    message = (
        'is "[masked]": the export this file comes from did not hold the sensitive value. '
        "Import an admin's export."
    )
    assert response.json() == invalid(1, 2, ("line 1.params.card", "MASKED_VALUE", message))
    assert await imported(database_url) == []


async def test_an_empty_file_imports_nothing(client: httpx.AsyncClient) -> None:
    for body, content_type in ((b"", NDJSON), (ndjson_file([]), NDJSON), (csv_file([]), CSV)):
        response = await post_import(client, body, content_type)
        assert response.status_code == 200, response.text
        assert response.json() == answer(body, records=0, stored=0)


async def test_other_media_types_are_refused(client: httpx.AsyncClient) -> None:
    body = ndjson_file([exported(1)])
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        response = await post_import(client, body, content_type)
        assert response.status_code == 415, response.text
        assert response.json() == {
            "error": {
                "code": "UNSUPPORTED_MEDIA_TYPE",
                "message": "The request body must be application/x-ndjson or text/csv.",
            }
        }


async def test_only_an_admin_imports(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    body = ndjson_file([exported(1)])
    for role in ("writer", "auditor"):
        created = await client.post("/api/api-keys", json={"name": role, "roles": [role]})
        key = created.json()["key"]
        async with make_client(app, {"Authorization": f"Bearer {key}"}) as caller:
            response = await post_import(caller, body)
        assert response.status_code == 403, response.text
        assert response.json() == {
            "error": {"code": "FORBIDDEN", "message": "This needs the scope admin."}
        }
    async with make_client(app) as anonymous:
        assert (await post_import(anonymous, body)).status_code == 401
    assert await imported(database_url) == []


async def test_a_body_over_the_request_size_is_413(settings: Settings) -> None:
    small = create_app(settings.model_copy(update={"max_request_bytes": 4096}))
    records = [exported(number) for number in range(20)]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with small.router.lifespan_context(small), make_client(small, admin) as http:
        response = await post_import(http, ndjson_file(records))
    assert response.status_code == 413, response.text


async def test_past_a_hundred_problems_the_first_hundred_are_named(
    client: httpx.AsyncClient,
) -> None:
    body = ndjson_file([{**exported(number), "severity": "grave"} for number in range(150)])
    response = await post_import(client, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] == (
        f"150 of 150 lines do not fit (the first 100 problems are named); {NOTHING_STORED}"
    )
    assert [problem["field"] for problem in error["details"]] == [
        f"line {number}.severity" for number in range(1, 101)
    ]


async def test_a_line_that_stops_fitting_after_the_check_stops_the_import_there(
    client: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Billing archived between the two passes: the batches before its line are stored, and the
    answer says where the import stopped."""
    await create_application(client, "billing")
    checked = imports._check

    async def check_then_archive(*args: Any) -> int:
        lines: int = await checked(*args)
        assert (await client.delete(f"{APPLICATIONS}/billing")).status_code == 204
        return lines

    monkeypatch.setattr(imports, "_check", check_then_archive)
    records = [exported(number) for number in range(1000)]
    body = ndjson_file([*records, exported(1000, application_key="billing")])
    response = await post_import(client, body)

    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": {
            "code": "IMPORT_VALIDATION_FAILED",
            "message": "1 of 1 lines do not fit; the import stopped at line 1001, after storing "
            "the batches before it. Make the line fit again (its application, its params' "
            "definitions), then import the same, unchanged file to finish: its records are "
            "keyed by the file's SHA-256, so the stored ones are replayed, while an edited file "
            "is another file and would store them twice.",
            "details": [
                {
                    "field": "line 1001.application_key",
                    "code": "APPLICATION_NOT_FOUND",
                    "message": "no application billing.",
                }
            ],
        }
    }
    assert len(await imported(database_url)) == 1000

    # As the answer says: billing back, the same file again stores the rest, nothing twice.
    monkeypatch.undo()
    await create_application(client, "billing")
    response = await post_import(client, body)
    assert response.status_code == 201, response.text
    assert response.json() == answer(body, records=1001, stored=1, replayed=1000)
    originals = [row.metadata["original_id"] for row in await imported(database_url)]
    assert sorted(originals) == sorted(r["id"] for r in [*records, exported(1000)])


FORGED = {
    "original_id": "forged-id",
    "original_created_at": "1999-01-01T00:00:00.000000Z",
    "original_actor": "ceo@example.com",
    "original_ip_address": "192.0.2.66",
    "imported_by": "auditor@example.com",
}


async def test_provenance_in_the_files_metadata_is_never_kept(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Whether or not the line has the fields they come from, the import's keys in a file's
    metadata are removed before the import sets its own."""
    bare = {"event_type": "invoice.paid", "summary": "No id, time, actor or address"}
    records = [
        exported(1, metadata={**FORGED, "request_id": "req_1"}),
        {**bare, "metadata": {**FORGED, "note": "kept"}},
    ]
    body = ndjson_file(records)
    response = await post_import(client, body)
    assert response.status_code == 201, response.text

    full, partial = await imported(database_url)
    assert full.metadata == {"request_id": "req_1", **provenance(records[0])}
    assert partial.metadata == {"note": "kept", "imported_by": "api_key:bootstrap"}
    for row in (full, partial):
        assert (row.source, row.actor, row.ip_address) == (
            "import",
            "api_key:bootstrap",
            CLIENT_ADDRESS[0],
        )


async def test_an_ordinary_writer_cannot_pass_a_record_off_as_imported(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    """Provenance keys in a posted record's metadata are its writer's words: its source says
    "manual", and only records whose source is "import" carry the import's provenance."""
    created = await client.post("/api/api-keys", json={"name": "writer", "roles": ["writer"]})
    key = created.json()["key"]
    async with make_client(app, {"Authorization": f"Bearer {key}"}) as writer:
        one = {"event_type": "invoice.paid", "summary": "Looks imported", "metadata": FORGED}
        assert (await writer.post("/api/audit-trail/records", json=one)).status_code == 201
        batch = [{**one, "summary": "So does this"}]
        assert (await writer.post("/api/audit-trail/records/batch", json=batch)).status_code == 201
    rows = [row for row in await stored(database_url) if row.metadata == FORGED]
    assert [(row.source, row.actor) for row in rows] == [("manual", "api_key:writer")] * 2
    assert await imported(database_url) == []


async def test_an_id_on_two_lines_is_refused_naming_both(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """It would import one record twice: within a batch, and across batches of 1,000."""
    records = [exported(number) for number in range(1, 1501)]
    records[4] = exported(2, summary="Line 5, with line 2's id")
    records[1399] = exported(7, summary="Line 1400, with line 7's id")
    body = ndjson_file(records)
    before = await record_total(client)
    for dry_run in ("true", "false"):
        response = await post_import(client, body, dry_run=dry_run)
        assert response.status_code == 422, response.text
        assert response.json() == invalid(
            2,
            1500,
            (
                "line 5.id",
                "DUPLICATE_ID",
                "is also the id of line 2: the file would import one record twice.",
            ),
            (
                "line 1400.id",
                "DUPLICATE_ID",
                "is also the id of line 7: the file would import one record twice.",
            ),
        )
    assert await record_total(client) == before

    # Corrected, the file is imported: refused by the check, the first stored nothing.
    records[4], records[1399] = exported(5), exported(1400)
    response = await post_import(client, ndjson_file(records))
    assert response.status_code == 201, response.text
    assert (response.json()["stored"], response.json()["replayed"]) == (1500, 0)


async def test_a_header_of_many_bad_columns_names_the_first_hundred(
    client: httpx.AsyncClient,
) -> None:
    """Fifty thousand columns, read in linear time; their problems capped as a file's are."""
    columns = ["event_type", "summary", *["x"] * 50_000, *(f"c{n}" for n in range(200))]
    body = ",".join(columns).encode() + b"\r\n"
    response = await post_import(client, body, CSV)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] == (
        f"1 of 1 lines do not fit (the first 100 problems are named); {NOTHING_STORED}"
    )
    assert [(p["field"], p["code"]) for p in error["details"]] == [
        ("line 1.x", "UNKNOWN_COLUMN"),
        *((f"line 1.c{n}", "UNKNOWN_COLUMN") for n in range(99)),
    ]
