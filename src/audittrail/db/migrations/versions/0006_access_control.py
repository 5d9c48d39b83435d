"""Access control: API keys carry scopes and may be bound to applications; rotation; sessions
note their last use and where they came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from audittrail.db.types import JSONType, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The scopes each role had when keys carried roles (audittrail.access.ROLE_SCOPES, frozen here:
# a migration must keep meaning what it meant when it was written).
_ROLE_SCOPES = {
    "admin": [
        "records:write",
        "records:read",
        "stats:read",
        "export",
        "applications:read",
        "applications:write",
        "log:read",
        "admin",
    ],
    "writer": ["records:write", "applications:read"],
    "reader": ["records:read", "stats:read", "applications:read"],
}


def _scopes(roles: object) -> list[str]:
    if isinstance(roles, str):
        roles = json.loads(roles)
    assert isinstance(roles, list)
    return sorted({scope for role in roles for scope in _ROLE_SCOPES[role]})


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("scopes", JSONType, nullable=True))
        table.add_column(sa.Column("application_ids", JSONType, nullable=True))
        table.add_column(sa.Column("user_id", sa.String(36), nullable=True))
        table.add_column(sa.Column("previous_key_hash", sa.String(64), nullable=True))
        table.add_column(sa.Column("previous_valid_until", UTCDateTime(), nullable=True))
    keys = sa.table(
        "api_keys",
        sa.column("id", sa.String),
        sa.column("roles", JSONType),
        sa.column("scopes", JSONType),
        sa.column("created_by", sa.String),
        sa.column("user_id", sa.String),
    )
    users = sa.table("users", sa.column("id", sa.String), sa.column("email", sa.String))
    connection = op.get_bind()
    user_ids = dict(connection.execute(sa.select(users.c.email, users.c.id)).all())
    for key_id, roles, created_by in connection.execute(
        sa.select(keys.c.id, keys.c.roles, keys.c.created_by)
    ).all():
        connection.execute(
            keys.update()
            .where(keys.c.id == key_id)
            .values(scopes=_scopes(roles), user_id=user_ids.get(created_by))
        )
    with op.batch_alter_table("api_keys") as table:
        table.alter_column("scopes", existing_type=JSONType, nullable=False)
        table.drop_column("roles")
        table.create_foreign_key(op.f("fk_api_keys_user_id_users"), "users", ["user_id"], ["id"])
        table.create_index(op.f("ix_api_keys_user_id"), ["user_id"])
        table.create_unique_constraint(op.f("uq_api_keys_previous_key_hash"), ["previous_key_hash"])
    with op.batch_alter_table("auth_sessions") as table:
        table.add_column(sa.Column("last_seen_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("ip_address", sa.String(45), nullable=True))
        table.add_column(sa.Column("user_agent", sa.String(256), nullable=True))


def _roles(scopes: set[str]) -> list[str] | None:
    """The roles whose scopes make up exactly these, or None if no set of roles does."""
    if set(_ROLE_SCOPES["admin"]) <= scopes:
        return ["admin"]
    roles = [role for role, granted in _ROLE_SCOPES.items() if set(granted) <= scopes]
    covered = {scope for role in roles for scope in _ROLE_SCOPES[role]}
    return roles if roles and covered == scopes else None


def downgrade() -> None:
    """Back to roles. A key no set of roles matches exactly (a bound key, a key of log:read or
    export alone, ...) is revoked rather than widened or narrowed: 0005 cannot express it."""
    with op.batch_alter_table("auth_sessions") as table:
        table.drop_column("user_agent")
        table.drop_column("ip_address")
        table.drop_column("last_seen_at")
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("roles", JSONType, nullable=True))
    keys = sa.table(
        "api_keys",
        sa.column("id", sa.String),
        sa.column("scopes", JSONType),
        sa.column("application_ids", JSONType),
        sa.column("roles", JSONType),
        sa.column("revoked_at", UTCDateTime()),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(sa.select(keys.c.id, keys.c.scopes, keys.c.application_ids))
    for key_id, scopes, application_ids in rows.all():
        scopes = json.loads(scopes) if isinstance(scopes, str) else scopes
        roles = None if application_ids is not None else _roles(set(scopes))
        values: dict[str, object] = {"roles": roles or ["reader"]}
        if roles is None:
            values["revoked_at"] = sa.func.coalesce(keys.c.revoked_at, now)
        connection.execute(keys.update().where(keys.c.id == key_id).values(**values))
    with op.batch_alter_table("api_keys") as table:
        table.alter_column("roles", existing_type=JSONType, nullable=False)
        table.drop_constraint(op.f("uq_api_keys_previous_key_hash"), type_="unique")
        table.drop_index(op.f("ix_api_keys_user_id"))
        table.drop_constraint(op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        table.drop_column("previous_valid_until")
        table.drop_column("previous_key_hash")
        table.drop_column("user_id")
        table.drop_column("application_ids")
        table.drop_column("scopes")
