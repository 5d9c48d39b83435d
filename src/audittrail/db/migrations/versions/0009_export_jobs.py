"""Export jobs: big exports written to files in the background

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

One table of state (not of the log: rows change as jobs run, no append-only triggers), read and
written by records/export/job_repository.py.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from audittrail.db.types import JSONType, UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner", sa.String(400), nullable=False),
        sa.Column("application_ids", JSONType, nullable=True),
        sa.Column("sees_sensitive", sa.Boolean(), nullable=False),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filters", JSONType, nullable=False),
        sa.Column("parameters", JSONType, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("estimated_total", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("records_written", sa.BigInteger(), nullable=False),
        sa.Column("runner", sa.String(36), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("file_name", sa.String(64), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    op.create_index(
        op.f("ix_export_jobs_status_created_at"), "export_jobs", ["status", "created_at"]
    )
    op.create_index(op.f("ix_export_jobs_owner_created_at"), "export_jobs", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_export_jobs_owner_created_at"), table_name="export_jobs")
    op.drop_index(op.f("ix_export_jobs_status_created_at"), table_name="export_jobs")
    op.drop_table("export_jobs")
