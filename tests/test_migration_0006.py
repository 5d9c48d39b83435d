"""Migration 0006: API keys that carried roles carry those roles' scopes and know their
creator, and back; the schema every migration leaves is the models' own, on both databases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from audittrail.db import migrate
from audittrail.db.engine import Database
from audittrail.db.models import Base
from tests.conftest import new_postgres_database, skip_without_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with new_postgres_database() as url:
        if url is None:
            skip_without_postgres()
        yield url


async def _execute(url: str, sql: str, values: dict[str, Any] | None = None) -> list[Any]:
    database = Database.connect(url)
    try:
        async with database.writer.begin() as connection:
            result = await connection.execute(text(sql), values or {})
            return list(result.all()) if result.returns_rows else []
    finally:
        await database.dispose()


def execute(url: str, sql: str, values: dict[str, Any] | None = None) -> list[Any]:
    return asyncio.run(_execute(url, sql, values))


def as_list(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_the_migrated_schema_is_the_models(empty_database: str) -> None:
    migrate.upgrade(empty_database)

    async def differences() -> list[Any]:
        database = Database.connect(empty_database)
        try:
            async with database.writer.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(
                            sync,
                            opts={
                                "compare_type": True,
                                "include_object": described_by_models(sync),
                            },
                        ),
                        Base.metadata,
                    )
                )
        finally:
            await database.dispose()

    assert asyncio.run(differences()) == []


def described_by_models(connection: Any) -> Callable[..., bool]:
    """What the models describe on this database: on SQLite, not the FTS5 table and its shadow
    tables (migration 0007; SQLAlchemy has no virtual tables), nor the indexes only PostgreSQL
    has (the models say so with ddl_if, which the comparison does not read); and nowhere the
    indexes over expressions (full text, actor and severity rank), which alembic cannot compare."""
    sqlite = connection.dialect.name == "sqlite"

    def described(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        if name in EXPRESSION_INDEXES:
            return False
        if not sqlite or name is None:
            return True
        if kind == "table":
            return not name.startswith("records_search")
        return not (kind == "index" and name in POSTGRES_ONLY_INDEXES)

    return described


EXPRESSION_INDEXES = {
    "ix_records_search",
    "ix_records_actor_created_at_seq",
    "ix_records_severity_rank_created_at_seq",
}
POSTGRES_ONLY_INDEXES = {"ix_records_search", "ix_records_params", "ix_records_metadata"}


def test_keys_with_roles_get_their_scopes_and_back(empty_database: str) -> None:
    migrate.upgrade(empty_database, "0005")
    execute(
        empty_database,
        "INSERT INTO users (id, email, password_hash, roles, is_active, created_at, updated_at) "
        "VALUES ('u1', 'ops@example.com', 'x', '[\"admin\"]', true, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    for key_id, roles, created_by in (
        ("k1", ["writer"], "ops@example.com"),
        ("k2", ["reader"], "system"),
        ("k3", ["admin"], "ops@example.com"),
        ("k4", ["reader", "writer"], None),
    ):
        execute(
            empty_database,
            "INSERT INTO api_keys (id, name, prefix, key_hash, roles, created_by, created_at) "
            "VALUES (:id, :id, 'atk_', :id, :roles, :by, CURRENT_TIMESTAMP)",
            {"id": key_id, "roles": json.dumps(roles), "by": created_by},
        )
    migrate.upgrade(empty_database)
    rows = execute(empty_database, "SELECT id, scopes, user_id FROM api_keys ORDER BY id")
    assert [(row[0], sorted(as_list(row[1])), row[2]) for row in rows] == [
        ("k1", ["applications:read", "records:write"], "u1"),
        ("k2", ["applications:read", "records:read", "stats:read"], None),
        (
            "k3",
            sorted(
                [
                    "records:write",
                    "records:read",
                    "stats:read",
                    "export",
                    "applications:read",
                    "applications:write",
                    "log:read",
                    "admin",
                ]
            ),
            "u1",
        ),
        (
            "k4",
            ["applications:read", "records:read", "records:write", "stats:read"],
            None,
        ),
    ]
    # Keys of 0.2.0 that roles cannot express: a bound one, one of log:read alone.
    for key_id, scopes, bound in (
        ("k5", ["records:write", "applications:read"], '["app-1"]'),
        ("k6", ["log:read"], None),
    ):
        execute(
            empty_database,
            "INSERT INTO api_keys (id, name, prefix, key_hash, scopes, application_ids, "
            "created_at) VALUES (:id, :id, 'atk_', :id, :scopes, :bound, CURRENT_TIMESTAMP)",
            {"id": key_id, "scopes": json.dumps(scopes), "bound": bound},
        )
    command.downgrade(migrate.alembic_config(empty_database), "0005")
    rows = execute(empty_database, "SELECT id, roles, revoked_at FROM api_keys ORDER BY id")
    assert [(row[0], as_list(row[1]), row[2] is not None) for row in rows] == [
        ("k1", ["writer"], False),
        ("k2", ["reader"], False),
        ("k3", ["admin"], False),
        ("k4", ["writer", "reader"], False),
        # Revoked, not widened to a role (nor narrowed): 0005 cannot express either.
        ("k5", ["reader"], True),
        ("k6", ["reader"], True),
    ]
