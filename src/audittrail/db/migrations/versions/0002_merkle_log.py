"""Merkle log: tree nodes, signed checkpoints, the head's root, append-only triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from audittrail.db import tree_nodes
from audittrail.db.append_only import (
    POSTGRES_REJECT,
    SQLITE_OPERATIONS,
    postgres_triggers,
    sqlite_trigger,
)
from audittrail.db.types import JSONType, UTCDateTime
from audittrail.integrity.canonical import record_leaf_hash
from audittrail.integrity.hashing import EMPTY_ROOT
from audittrail.integrity.tree import Frontier

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("records", "tree_nodes", "checkpoints")


def upgrade() -> None:
    tree_nodes.create_table()
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_checkpoints")),
    )
    op.add_column("log_head", sa.Column("root_hash", sa.LargeBinary(length=32), nullable=True))
    _build_tree_of_existing_records()
    with op.batch_alter_table("log_head") as batch_op:
        batch_op.alter_column("root_hash", existing_type=sa.LargeBinary(length=32), nullable=False)
    _create_append_only_triggers()


def _build_tree_of_existing_records() -> None:
    """Records written before this revision become the first leaves, in seq order."""
    bind = op.get_bind()
    records = sa.table(
        "records",
        *(sa.column(name) for name in ("id", "seq", "event_type", "category", "summary")),
        *(sa.column(name) for name in ("severity", "actor", "application_id", "application_key")),
        *(sa.column(name) for name in ("entity_type", "entity_id", "ip_address", "source")),
        sa.column("created_at", UTCDateTime()),
        sa.column("params", JSONType),
        sa.column("metadata", JSONType),
    )
    query = sa.select(records).order_by(records.c.seq)
    frontier = Frontier()
    tree_nodes = sa.table(
        "tree_nodes", sa.column("level"), sa.column("node_index"), sa.column("hash")
    )
    for row in bind.execute(query):
        created = frontier.append([record_leaf_hash(row._asdict())])
        bind.execute(
            tree_nodes.insert(),
            [
                {"level": level, "node_index": index, "hash": digest}
                for level, index, digest in created
            ],
        )
    root = frontier.root() if frontier.size else EMPTY_ROOT
    log_head = sa.table("log_head", sa.column("id"), sa.column("root_hash"))
    bind.execute(log_head.update().where(log_head.c.id == 1).values(root_hash=root))


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_REJECT)
        for table in APPEND_ONLY_TABLES:
            for statement in postgres_triggers(table):
                op.execute(statement)
        return
    for table in APPEND_ONLY_TABLES:
        for operation in SQLITE_OPERATIONS:
            op.execute(sqlite_trigger(table, operation))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION audittrail_append_only()")
    else:
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")
    with op.batch_alter_table("log_head") as batch_op:
        batch_op.drop_column("root_hash")
    op.drop_table("checkpoints")
    op.drop_table("tree_nodes")
