"""Rollups: record counts by hour, day and actor, for statistics

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Seven tables the append keeps in step with the records (audittrail/log/rollups.py), filled here
from the records already in the log by the same recount `audittrail rollups rebuild` runs. On
SQLite they are WITHOUT ROWID: rows are stored in their key's order, so a range of hours or
days is read in one pass over the table itself rather than an index and the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from audittrail.db.types import UTCDateTime
from audittrail.log.rollups import recounts

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dimensions() -> list[sa.Column[str]]:
    return [
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("entity_type", sa.String(65), nullable=False),
    ]


def upgrade() -> None:
    keys = ["application_id", "event_type", "category", "severity", "entity_type"]
    for table, time in (("rollup_hours", "hour"), ("rollup_days", "day")):
        op.create_table(
            table,
            sa.Column(time, UTCDateTime(), nullable=False),
            *_dimensions(),
            sa.Column("count", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint(time, *keys, name=f"pk_{table}"),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "rollup_application_hours",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "application_id", name="pk_rollup_application_hours"),
        sqlite_with_rowid=False,
    )
    for prefix, keys_of_actor in (
        ("rollup_actor", ["application_id"]),
        ("rollup_actor_kind", keys),
    ):
        dimensions = [c for c in _dimensions() if c.name in keys_of_actor]
        op.create_table(
            f"{prefix}s",
            sa.Column("actor", sa.String(400), nullable=False),
            *dimensions,
            sa.Column("total", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("actor", *keys_of_actor, name=f"pk_{prefix}s"),
            sqlite_with_rowid=False,
        )
        op.create_table(
            f"{prefix}_days",
            sa.Column("actor", sa.String(400), nullable=False),
            *[c for c in _dimensions() if c.name in keys_of_actor],
            sa.Column("day", UTCDateTime(), nullable=False),
            sa.Column("total", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("actor", *keys_of_actor, "day", name=f"pk_{prefix}_days"),
            sqlite_with_rowid=False,
        )
    for table, query in recounts(op.get_bind().dialect.name).items():
        op.execute(f"INSERT INTO {table} {query}")


def downgrade() -> None:
    for table in (
        "rollup_actor_kind_days",
        "rollup_actor_kinds",
        "rollup_actor_days",
        "rollup_actors",
        "rollup_application_hours",
        "rollup_days",
        "rollup_hours",
    ):
        op.drop_table(table)
