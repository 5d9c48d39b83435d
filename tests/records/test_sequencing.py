"""Several processes appending to one database at once leave one gap-free, verifiable log."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from sqlalchemy import func, select

from audittrail.access import SCOPES, Principal
from audittrail.config import Settings
from audittrail.db.engine import Database
from audittrail.db.models import LogHead, Record
from audittrail.log import checkpointer, sources
from audittrail.log.signer import LogSigner
from audittrail.records import service as records_service
from audittrail.records.schemas import RecordCreate
from audittrail.records.writer import GroupCommitWriter

PROCESSES = 4
WRITERS = 8
RECORDS_PER_WRITER = {"postgresql": 500, "sqlite": 500}


def write_records(database_url: str, process: int, per_writer: int) -> None:
    asyncio.run(_write_records(database_url, process, per_writer))


async def _write_records(database_url: str, process: int, per_writer: int) -> None:
    """What one server process does: validate each request, then commit through its writer."""
    database = Database.connect(database_url)
    group_commit = GroupCommitWriter(database, Settings(database_url=database_url))
    group_commit.start()
    principal = Principal(
        kind="api_key", id="load", name=f"process-{process}", scopes=frozenset(SCOPES)
    )

    async def writer(number: int) -> None:
        for index in range(per_writer):
            body = RecordCreate(event_type="load.test", summary=f"{process}/{number}/{index}")
            new = await records_service.prepare(
                _NoApplications(), body, principal=principal, ip=None
            )
            [record] = (await group_commit.submit([new])).records
            assert record.summary == body.summary

    try:
        await asyncio.gather(*(writer(number) for number in range(WRITERS)))
    finally:
        await group_commit.stop()
        await database.dispose()


class _NoApplications:
    """The records here name no application."""

    async def by_id(self, application_id: str) -> None:
        raise AssertionError(application_id)

    by_key = definitions = by_id


async def test_concurrent_processes_leave_a_gap_free_verifiable_log(
    database_url: str, tmp_path: Path
) -> None:
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    per_writer = RECORDS_PER_WRITER[backend]
    expected = PROCESSES * WRITERS * per_writer
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=write_records, args=(database_url, process, per_writer))
        for process in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    database = Database.connect(database_url)
    try:
        async with database.read_session() as session:
            seqs = list((await session.execute(select(Record.seq).order_by(Record.seq))).scalars())
            summaries = set((await session.execute(select(Record.summary))).scalars())
            head_size = (await session.execute(select(LogHead.size))).scalar_one()
            distinct = (
                await session.execute(select(func.count(func.distinct(Record.id))))
            ).scalar()
        assert seqs == list(range(expected))
        assert head_size == expected
        assert distinct == expected
        assert summaries == {
            f"{p}/{w}/{i}"
            for p in range(PROCESSES)
            for w in range(WRITERS)
            for i in range(per_writer)
        }
        signer = LogSigner.load("test.example/log", tmp_path / "log.key")
        assert await checkpointer.checkpoint_head(database, signer) == expected
    finally:
        await database.dispose()

    audit = await sources.audit_database(database_url, signer.verifier_key, lambda _: None)
    assert audit.problems == []
    assert audit.size == expected
