"""Batch ingest: a JSON array or NDJSON body, checked item by item, taken whole or not at all."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from audittrail.access import Principal
from audittrail.errors import (
    AppError,
    BadRequest,
    FieldProblem,
    Forbidden,
    PayloadTooLarge,
    Unprocessable,
    validation_problems,
)
from audittrail.log.append import NewRecord
from audittrail.records import idempotency, limits
from audittrail.records.idempotency import Claim
from audittrail.records.schemas import BatchItem
from audittrail.records.service import ApplicationLookup, prepare
from audittrail.strict_json import json_value

MAX_BATCH = 1000
NDJSON = "application/x-ndjson"


def parse(body: bytes, content_type: str) -> list[Any]:
    """The raw items of a body: one JSON value per line for NDJSON, else a JSON array."""
    if content_type.split(";")[0].strip().lower() == NDJSON:
        items: list[Any] = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                where = f"line {number} of the NDJSON body"
                items.append(json_value(line, where, f"body[{len(items)}]"))
    else:
        items = json_value(body, "The request body")
        if not isinstance(items, list):
            raise BadRequest("A batch is a JSON array of records.", code="INVALID_BATCH")
    if not items:
        raise Unprocessable("A batch needs at least one record.", code="EMPTY_BATCH")
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge(
            f"A batch holds at most {MAX_BATCH} records; this one has {len(items)}.",
            code="BATCH_TOO_LARGE",
        )
    return items


async def prepare_all(
    lookup: ApplicationLookup, items: list[Any], *, principal: Principal, ip: str | None
) -> tuple[list[NewRecord], list[Claim | None]]:
    """Every item checked; one 422 naming each bad item's index and problems if any is bad."""
    records: list[NewRecord] = []
    claims: list[Claim | None] = []
    problems: list[FieldProblem] = []
    refused: list[FieldProblem] = []
    for index, raw in enumerate(items):
        where = f"body[{index}]"
        try:
            item = BatchItem.model_validate(raw)
            new = await prepare(lookup, item, principal=principal, ip=ip)
            # Stored as text too: a NUL would fail the commit of everyone's batch on PostgreSQL.
            limits.check_text("idempotency_key", item.idempotency_key)
        except Forbidden as error:
            refused.append(FieldProblem(where, error.error_code, error.message))
            continue
        except (ValidationError, AppError) as error:
            problems += problems_of(error, where)
            continue
        records.append(new)
        claims.append(
            idempotency.claim(
                item.idempotency_key, new, item, principal, f"{where}.idempotency_key"
            )
        )
    if refused:
        raise Forbidden(
            f"{len(refused)} of {len(items)} records name applications this API key is not "
            "bound to; nothing was stored.",
            code=refused[0].code,
            details=refused,
        )
    if problems:
        indexes = sorted({problem.field.split("]")[0] + "]" for problem in problems})
        raise Unprocessable(
            f"{len(indexes)} of {len(items)} records do not fit; nothing was stored.",
            code="BATCH_VALIDATION_FAILED",
            details=problems,
        )
    return records, claims


def problems_of(error: ValidationError | AppError, where: str) -> list[FieldProblem]:
    """One item's refusal as problems at its place (``where``: "body[3]", or an import's
    "line 7"), each field path of the item (body.summary) under it."""
    if isinstance(error, ValidationError):
        return _relocated(validation_problems(error.errors()), where)
    return _relocated(error.details, where) or [
        FieldProblem(where, error.error_code, error.message)
    ]


def _relocated(problems: list[FieldProblem], where: str) -> list[FieldProblem]:
    """Field paths of one item ("body.summary", "summary") as paths in the batch."""
    relocated = []
    for problem in problems:
        path = problem.field.removeprefix("body").lstrip(".")
        field = f"{where}.{path}" if path else where
        relocated.append(FieldProblem(field, problem.code, problem.message))
    return relocated
