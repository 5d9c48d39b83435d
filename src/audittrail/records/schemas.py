"""Wire shapes of records, exactly as the seed contract gives them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audittrail.applications.service import KEY_PATTERN, ApplicationSummary
from audittrail.pagination import PageMeta
from audittrail.schemas import StrictModel


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


SEVERITY_RANK = {severity.value: rank for rank, severity in enumerate(reversed(Severity))}

EXAMPLE_RECORD: dict[str, Any] = {
    "event_type": "invoice.refunded",
    "summary": "Refunded invoice INV-1042 to the customer",
    "category": "billing",
    "application_key": "billing",
    "entity_type": "invoice",
    "entity_id": "INV-1042",
    "severity": "medium",
    "params": {"amount": 129.5, "currency": "EUR"},
    "metadata": {"request_id": "req_8f2c"},
}


class RecordCreate(StrictModel):
    """Create Manual Audit Record."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_RECORD]})

    event_type: str = Field(min_length=1, max_length=128)
    summary: str = Field(min_length=1, max_length=1024)
    category: str = Field(default="general", max_length=64)
    application_id: str | None = None
    application_key: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=KEY_PATTERN
    )
    entity_type: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=128)
    severity: Severity = Severity.LOW
    params: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class RecordResponse(BaseModel):
    id: str
    event_type: str
    category: str
    summary: str
    created_at: datetime
    actor: str | None
    application_id: str | None
    application_key: str | None
    application: ApplicationSummary | None
    entity_type: str | None
    entity_id: str | None
    severity: Severity = Severity.LOW
    params: dict[str, Any]
    metadata: dict[str, Any]
    ip_address: str | None


class RecordPage(PageMeta):
    records: list[RecordResponse]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last one."
    )


class BatchItem(RecordCreate):
    """One record of a batch: the single-record shape, and optionally its idempotency key."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class BatchResponse(BaseModel):
    records: list[RecordResponse] = Field(description="The records, in the order sent.")
