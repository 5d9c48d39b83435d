"""The tree_nodes table of migrations 0002 to 0004: created by 0002, and again by 0005's
downgrade, which moves the tree back out of the records (its hashes live in records since)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_table() -> None:
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("node_index", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_tree_nodes")),
    )
