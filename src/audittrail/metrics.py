"""GET /metrics: the write path's counters in the Prometheus text format (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from audittrail.access import Admin
from audittrail.records.writer import GroupCommitWriter

router = APIRouter(tags=["operations"])

COUNTERS = (
    ("audittrail_commit_batches_total", "counter", "Group commits that succeeded.", "batches"),
    (
        "audittrail_committed_records_total",
        "counter",
        "Records committed by group commit.",
        "records",
    ),
    (
        "audittrail_failed_batches_total",
        "counter",
        "Group commits that failed (503).",
        "failed_batches",
    ),
    (
        "audittrail_largest_batch_records",
        "gauge",
        "Most records in one group commit.",
        "largest_batch",
    ),
)


@router.get("/metrics", response_class=PlainTextResponse, summary="Write-path counters")
async def metrics(_: Admin, request: Request) -> PlainTextResponse:
    writer: GroupCommitWriter = request.app.state.writer
    lines = []
    for name, kind, description, attribute in COUNTERS:
        lines += [
            f"# HELP {name} {description}",
            f"# TYPE {name} {kind}",
            f"{name} {getattr(writer.stats, attribute)}",
        ]
    lines += [
        "# HELP audittrail_write_queue_requests Requests waiting for a group commit.",
        "# TYPE audittrail_write_queue_requests gauge",
        f"audittrail_write_queue_requests {writer.queued}",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
