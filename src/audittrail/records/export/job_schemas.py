"""Wire shapes of export jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from audittrail.pagination import PageMeta
from audittrail.records.export.formats import Format


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"


class ExportJobResponse(BaseModel):
    id: str
    status: ExportStatus = Field(
        description="queued, running, done (its file can be downloaded), failed (error says "
        "why) or expired (its file was removed)."
    )
    format: Format
    owner: str = Field(description="Who made it, as records name actors.")
    filters: dict[str, Any] = Field(description="The filters and sort as given.")
    records_written: int
    estimated_total: int = Field(
        description="How many records the export holds: those matching its filters in the "
        "tree of tree_size, counted when the job was made."
    )
    tree_size: int = Field(description="The signed checkpoint the export is taken against.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="When its file is removed.")
    error: str | None = Field(description="Why it failed.")


class ExportJobPage(PageMeta):
    exports: list[ExportJobResponse]
