"""Idempotency keys, kept for good with their records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from audittrail.db.types import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name=op.f("fk_idempotency_keys_record_id_records")
        ),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER idempotency_keys_append_only BEFORE UPDATE OR DELETE "
            "ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION audittrail_append_only()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER idempotency_keys_no_{operation.lower()} BEFORE {operation} "
            f"ON idempotency_keys BEGIN SELECT RAISE(ABORT, 'audittrail: {operation} on "
            "idempotency_keys is refused: keys are kept for good'); END"
        )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
