"""The Merkle tree's hashes move into the records that complete them; tree_nodes goes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Node (level, index) becomes bytes [32·level, 32·level + 32) of records.tree_hashes in the
record with seq (index + 1)·2^level − 1 (integrity/store.py). Filling the new column is the
one UPDATE of records this schema ever makes: the append-only trigger is suspended for it and
restored in the same transaction.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from audittrail.db import tree_nodes
from audittrail.db.append_only import (
    SQLITE_OPERATIONS,
    postgres_triggers,
    records_updatable,
    sqlite_trigger,
)
from audittrail.integrity.hashing import HASH_SIZE
from audittrail.integrity.tree import completing_leaf

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 10_000

_records = sa.table("records", sa.column("seq"), sa.column("tree_hashes", sa.LargeBinary))
_tree_nodes = sa.table(
    "tree_nodes", sa.column("level"), sa.column("node_index"), sa.column("hash", sa.LargeBinary)
)


def upgrade() -> None:
    op.add_column("records", sa.Column("tree_hashes", sa.LargeBinary(), nullable=True))
    with records_updatable(op.execute, op.get_bind().dialect.name):
        _fill_tree_hashes()
    # Its append-only triggers go with it.
    op.drop_table("tree_nodes")


def _fill_tree_hashes() -> None:
    bind = op.get_bind()
    size = bind.execute(
        sa.select(sa.func.coalesce(sa.func.max(_tree_nodes.c.node_index) + 1, 0)).where(
            _tree_nodes.c.level == 0
        )
    ).scalar_one()
    for start in range(0, size, CHUNK):
        end = min(start + CHUNK, size)
        completed = _nodes_completed_within(start, end)
        rows = [
            {"holder": seq, "tree_hashes": _leading_levels(levels)}
            for seq, levels in completed.items()
        ]
        bind.execute(
            _records.update()
            .where(_records.c.seq == sa.bindparam("holder"))
            .values(tree_hashes=sa.bindparam("tree_hashes")),
            rows,
        )


def _nodes_completed_within(start: int, end: int) -> dict[int, dict[int, bytes]]:
    """The stored nodes completed by the leaves start..end-1, by leaf and level."""
    completed: dict[int, dict[int, bytes]] = {}
    level = 0
    while 1 << level <= end:
        # The nodes of this level whose completing leaf lies in [start, end).
        first, last = ((start + (1 << level)) >> level) - 1, (end >> level) - 1
        if first <= last:
            rows = op.get_bind().execute(
                sa.select(_tree_nodes.c.node_index, _tree_nodes.c.hash).where(
                    _tree_nodes.c.level == level,
                    _tree_nodes.c.node_index.between(first, last),
                )
            )
            for index, digest in rows:
                completed.setdefault(completing_leaf((level, index)), {})[level] = digest
        level += 1
    return completed


def _leading_levels(levels: dict[int, bytes]) -> bytes:
    """The hashes of levels 0, 1, ... up to the first the table lacks: a hash's place in the
    column is its level, so none can follow a gap."""
    hashes: list[bytes] = []
    while len(hashes) in levels:
        hashes.append(levels[len(hashes)])
    return b"".join(hashes)


def downgrade() -> None:
    tree_nodes.create_table()
    bind = op.get_bind()
    last = bind.execute(sa.select(sa.func.max(_records.c.seq))).scalar_one()
    for start in range(0, -1 if last is None else last + 1, CHUNK):
        held = bind.execute(
            sa.select(_records.c.seq, _records.c.tree_hashes).where(
                _records.c.seq.between(start, start + CHUNK - 1),
                _records.c.tree_hashes.is_not(None),
            )
        )
        nodes = [
            {"level": level, "node_index": ((seq + 1) >> level) - 1, "hash": digest}
            for seq, tree_hashes in held
            for level, digest in enumerate(_split(tree_hashes))
        ]
        if nodes:
            bind.execute(_tree_nodes.insert(), nodes)
    if bind.dialect.name == "postgresql":
        for statement in postgres_triggers("tree_nodes"):
            op.execute(statement)
    else:
        for operation in SQLITE_OPERATIONS:
            op.execute(sqlite_trigger("tree_nodes", operation))
    op.drop_column("records", "tree_hashes")


def _split(tree_hashes: bytes) -> list[bytes]:
    return [
        tree_hashes[offset : offset + HASH_SIZE]
        for offset in range(0, len(tree_hashes) - HASH_SIZE + 1, HASH_SIZE)
    ]
