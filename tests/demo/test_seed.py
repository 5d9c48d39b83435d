"""`audittrail seed`: demo data in an empty log, through the CLI, on both databases.

The history must look like a product's (every severity, category and param type, people, API
keys and the service itself as actors, working hours and quiet weekends), be a log that
`audittrail verify` accepts and search finds, follow from its seed, and never go into a log
that holds records already.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner, Result

from audittrail import cli, clock
from audittrail.applications.schemas import ParamType
from audittrail.applications.service import validate_params
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import Application, ParamDefinition, Record
from audittrail.demo.manual import CATEGORIES
from audittrail.records.schemas import Severity
from tests.log.support import running

RECORDS = 3_000
UNTIL = "2026-11-25T16:30:00+00:00"  # a Wednesday afternoon
# The failed sign-ins of password-guessing storms, which keep no hours.
STORMS = ("user.login_failed", "user.locked")
RECORD_COLUMNS = [
    column
    for column in Record.__table__.c
    if column.name not in ("id", "tree_hashes", "search_text")
]


def seed(database_url: str, *arguments: str) -> Result:
    return CliRunner().invoke(
        cli.app, ["seed", *arguments], env={"AUDITTRAIL_DATABASE_URL": database_url}
    )


def verify(database_url: str) -> Result:
    """`audittrail verify` of the database, against the log key the seed signed with."""
    return CliRunner().invoke(cli.app, ["verify", "--database", database_url])


@pytest.fixture(autouse=True)
def log_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log's signing key, which the seed creates (or uses) and verify reads: the test's."""
    path = tmp_path / "log.key"
    monkeypatch.setenv("AUDITTRAIL_LOG_KEY_FILE", str(path))
    return path


async def _rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    database = Database.connect(database_url)
    try:
        async with database.reader.connect() as connection:
            result = await connection.execute(text(sql))
            return [dict(row._mapping) for row in result]
    finally:
        await database.dispose()


def rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    return asyncio.run(_rows(database_url, sql))


async def _records(database_url: str) -> list[dict[str, Any]]:
    database = Database.connect(database_url)
    try:
        async with database.reader.connect() as connection:
            query = select(*RECORD_COLUMNS).order_by(Record.seq)
            return [dict(row._mapping) for row in await connection.execute(query)]
    finally:
        await database.dispose()


def records(database_url: str) -> list[dict[str, Any]]:
    """Every record's columns (but for its id), by seq."""
    return asyncio.run(_records(database_url))


async def _registered(database_url: str) -> list[tuple[Application, list[ParamDefinition]]]:
    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            applications = (await session.scalars(select(Application))).all()
            definitions = (await session.scalars(select(ParamDefinition))).all()
    finally:
        await database.dispose()
    return [(app, [d for d in definitions if d.application_id == app.id]) for app in applications]


def count(database_url: str, sql: str) -> int:
    return int(next(iter(rows(database_url, sql)[0].values())))


def test_seed_fills_an_empty_log_with_a_history_like_a_products(
    database_url: str, tmp_path: Path
) -> None:
    # The same seed and --until give the same records; the same seed alone, another history each
    # hour (the week's rhythm is laid from now), in which a rare severity may not come up.
    result = seed(database_url, "--records", str(RECORDS), "--seed", "7", "--until", UNTIL)
    assert result.exit_code == 0, result.output
    assert f"seeded {RECORDS:,} records of 6 applications" in result.output
    found = records(database_url)

    assert [record["seq"] for record in found] == list(range(RECORDS))
    assert {record["severity"] for record in found} == {severity.value for severity in Severity}
    assert {record["category"] for record in found} == {*CATEGORIES, "system"}
    severities = Counter(record["severity"] for record in found)
    assert 0.4 < severities["low"] / RECORDS < 0.65  # one very common, some rare
    assert severities["critical"] < RECORDS / 100

    actors = {record["actor"] for record in found}
    assert len({actor for actor in actors if "@" in actor}) >= 100
    assert any(actor.startswith("api_key:") for actor in actors)
    assert "system" in actors
    system = [record for record in found if record["source"] == "system"]
    assert 0 < len(system) < RECORDS / 10
    assert len({(r["entity_type"], r["entity_id"]) for r in found}) >= 1_000

    times = [record["created_at"] for record in found]
    assert times == sorted(times)
    until = datetime.fromisoformat(UNTIL)
    assert until - timedelta(days=90, minutes=1) <= times[0] and times[-1] <= until
    usual = [record["created_at"] for record in found if record["event_type"] not in STORMS]
    per_day = Counter(moment.date() for moment in usual)
    weekdays = [n for day, n in per_day.items() if day.weekday() < 5]
    weekends = [n for day, n in per_day.items() if day.weekday() >= 5]
    assert sum(weekdays) / len(weekdays) > 2.5 * sum(weekends) / len(weekends)
    per_hour = Counter(moment.hour for moment in usual[100:])
    assert per_hour[10] > 5 * per_hour[3]

    assert count(database_url, "SELECT count(*) FROM records WHERE search_text IS NULL") == 0
    assert count(database_url, "SELECT count(*) FROM users") == 0
    assert count(database_url, "SELECT count(*) FROM api_keys") == 0
    # Signed by the seed with the log's key: verify needs nothing more.
    assert verify(database_url).output == (
        f"OK: {RECORDS} records, 1 signed checkpoints (latest covers {RECORDS}) verified\n"
    )


def test_seeded_applications_have_every_param_type_and_their_records_fit_them(
    database_url: str,
) -> None:
    before = clock.now()
    assert seed(database_url, "--records", str(RECORDS), "--seed", "7").exit_code == 0
    registered = asyncio.run(_registered(database_url))
    found = records(database_url)
    # Without --until, the history ends now.
    assert before - timedelta(days=90, minutes=1) <= found[0]["created_at"]
    assert found[-1]["created_at"] <= clock.now()

    assert len({app.accent_color for app, _ in registered}) == len(registered) == 6
    assert {d.type for _, definitions in registered for d in definitions} == set(ParamType)
    assert any(d.sensitive for _, definitions in registered for d in definitions)
    by_id = {app.id: (app, definitions) for app, definitions in registered}
    announced = {r["entity_id"] for r in found if r["event_type"] == "application.created"}
    assert announced == set(by_id)
    params_announced = {r["entity_id"] for r in found if r["event_type"] == "param.created"}
    assert params_announced == {
        f"{app.key}.{d.key}" for app, definitions in registered for d in definitions
    }
    manual = [record for record in found if record["source"] == "manual"]
    assert any(record["application_id"] is None for record in manual)
    for record in manual:
        if record["application_id"] is None:
            continue
        app, definitions = by_id[record["application_id"]]
        assert record["application_key"] == app.key
        checked, problems = validate_params(
            definitions, record["params"], allow_unknown=app.allow_unknown_params
        )
        assert problems == [], (record, problems)
        assert checked == record["params"]


def test_a_log_that_holds_records_is_refused_and_left_as_it_was(database_url: str) -> None:
    assert seed(database_url, "--records", "1000", "--seed", "1").exit_code == 0
    head = rows(database_url, "SELECT size, root_hash FROM log_head")

    result = seed(database_url, "--records", "1000", "--seed", "2")

    assert result.exit_code == 1
    assert "holds 1,000 records already" in result.output
    assert rows(database_url, "SELECT size, root_hash FROM log_head") == head
    assert count(database_url, "SELECT count(*) FROM records") == 1000
    assert count(database_url, "SELECT count(*) FROM applications") == 6


def test_the_same_seed_gives_the_same_history(database_url: str, tmp_path: Path) -> None:
    """The same seed and end, on another database even: only the ids differ."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    third = f"sqlite:///{tmp_path / 'third.db'}"
    until = ("--until", "2026-03-04T15:16:17")
    for url, number in ((database_url, "11"), (other, "11"), (third, "12")):
        assert seed(url, "--records", "1500", "--seed", number, *until).exit_code == 0

    first, again, different = (_content(url) for url in (database_url, other, third))

    assert first == again
    assert first != different
    assert first[0]["created_at"] == datetime(2025, 12, 4, 15, 16, tzinfo=UTC)


def _content(database_url: str) -> list[dict[str, Any]]:
    """The records but for their ids, the applications' ids put as their keys."""
    keys = {app.id: app.key for app, _ in asyncio.run(_registered(database_url))}
    content = []
    for record in records(database_url):
        record["application_id"] = keys.get(record["application_id"])
        if record["event_type"] == "application.created":
            record["entity_id"] = keys[record["entity_id"]]
        applications = record["params"].get("applications")
        if isinstance(applications, dict) and applications["new"]:
            applications["new"] = [keys[id_] for id_ in applications["new"]]
        content.append(record)
    return content


async def test_the_first_start_after_a_seed_bootstraps_the_admin_and_signs_the_log(
    settings: Settings,
) -> None:
    url = settings.database_url
    result = await asyncio.to_thread(seed, url, "--records", "1000", "--seed", "5")
    assert result.exit_code == 0, result.output

    async with running(settings) as (_app, client):
        me = await client.get("/api/auth/me")
        assert me.status_code == 200, me.text

    assert await asyncio.to_thread(count, url, "SELECT count(*) FROM users") == 1
    checked = await asyncio.to_thread(verify, url)
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("OK: 1002 records")
