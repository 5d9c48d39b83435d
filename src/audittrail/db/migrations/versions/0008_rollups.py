"""Rollups: record counts by hour, day and actor, for statistics

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Four tables the append keeps in step with the records (audittrail/log/rollups.py), filled here
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
        "rollup_actors",
        sa.Column("actor", sa.String(400), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "application_id", name="pk_rollup_actors"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rollup_actor_days",
        sa.Column("actor", sa.String(400), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=False),
        sa.Column("day", UTCDateTime(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "application_id", "day", name="pk_rollup_actor_days"),
        sqlite_with_rowid=False,
    )
    queries = recounts(op.get_bind().dialect.name)
    columns = {
        "rollup_hours": "hour, " + ", ".join(keys) + ", count",
        "rollup_days": "day, " + ", ".join(keys) + ", count",
        "rollup_actors": "actor, application_id, total",
        "rollup_actor_days": "actor, application_id, day, total",
    }
    for table, query in queries.items():
        op.execute(f"INSERT INTO {table} ({columns[table]}) {query}")


def downgrade() -> None:
    for table in ("rollup_actor_days", "rollup_actors", "rollup_days", "rollup_hours"):
        op.drop_table(table)
