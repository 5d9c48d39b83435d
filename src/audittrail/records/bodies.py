"""The bodies and headers of record intake, read by the routes themselves.

The intake routes take the request alone rather than FastAPI's body and header parameters: its
per-request dependency resolution cost more than everything else a single POST does. That also
puts authentication before the body, so a caller without credentials learns nothing of the
body's shape. A body is read only if declared JSON (the routes check: deps.check_media_type),
and strictly (strict_json: no key twice); errors are the envelope FastAPI's validation produces
everywhere else (handlers.request_validation_error).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from audittrail.errors import request_validation_error
from audittrail.records.schemas import RecordCreate
from audittrail.strict_json import json_value

IDEMPOTENCY_KEY_HEADER = "idempotency-key"
_idempotency_key = TypeAdapter(Annotated[str, Field(min_length=1, max_length=255)])


def single_record(raw: bytes, idempotency_key: str | None) -> tuple[RecordCreate, str | None]:
    """The record of a single POST and its Idempotency-Key header, checked together: one 422
    names every problem of both."""
    errors: list[Any] = []
    if idempotency_key is not None:
        try:
            _idempotency_key.validate_python(idempotency_key)
        except ValidationError as error:
            errors += _located(error, ("header", IDEMPOTENCY_KEY_HEADER))
    try:
        record = RecordCreate.model_validate(json_value(raw, "The request body"))
    except ValidationError as error:
        errors += _located(error, ("body",))
    if errors:
        raise request_validation_error(errors)
    return record, idempotency_key


def _located(error: ValidationError, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{**problem, "loc": (*prefix, *problem["loc"])} for problem in error.errors()]
