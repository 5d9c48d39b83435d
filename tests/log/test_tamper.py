"""`audittrail verify --database` finds every kind of tampering and names the first bad seq.

Each case builds a log through the API, stops the app, changes the database past its
append-only triggers (as someone with direct database access could) and runs the command.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audittrail.config import Settings
from audittrail.integrity import canonical, checkpoint
from audittrail.integrity.hashing import HASH_SIZE, leaf_hash
from audittrail.integrity.tree import Frontier
from audittrail.log import leaf_reader
from tests.log.support import (
    BOOTSTRAP_RECORDS,
    LOG,
    all_checkpoints,
    checkpoint_now,
    entry_lines,
    hourly_checkpoints,
    post_records,
    running,
    tamper,
    verify,
)

POSTED = 8
SIZE = BOOTSTRAP_RECORDS + POSTED
TARGET = 5
COLUMNS = (
    "created_at, event_type, category, summary, severity, actor, application_id, "
    "application_key, entity_type, entity_id, params, metadata, ip_address, source"
)
Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Log:
    """What the API showed of the log before the app stopped."""

    lines: list[bytes]
    notes: dict[int, str]
    origin: str


def changed_summary(log: Log, seq: int) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(log.lines[seq])
    entry["summary"] = "rewritten after the fact"
    return entry


def change_field(log: Log) -> list[Statement]:
    summary = changed_summary(log, TARGET)["summary"]
    return [("UPDATE records SET summary = :s WHERE seq = :seq", {"s": summary, "seq": TARGET})]


def delete_record(log: Log) -> list[Statement]:
    return [("DELETE FROM records WHERE seq = :seq", {"seq": TARGET})]


def cut_the_tail(log: Log) -> list[Statement]:
    """The last record removed and the head wound back: only the last checkpoint remembers it."""
    return [
        ("DELETE FROM records WHERE seq = :seq", {"seq": SIZE - 1}),
        ("UPDATE log_head SET size = :size", {"size": SIZE - 1}),
    ]


def swap_pair(log: Log) -> list[Statement]:
    """Exchange the records at TARGET and TARGET + 2: each seq now holds the other's content."""
    move = "UPDATE records SET seq = :to WHERE seq = :from"
    return [
        (move, {"from": TARGET, "to": -1}),
        (move, {"from": TARGET + 2, "to": TARGET}),
        (move, {"from": -1, "to": TARGET + 2}),
    ]


def insert_record(log: Log) -> list[Statement]:
    """A copy of the last record under a new id at seq SIZE; the head is left as it was."""
    insert = (
        f"INSERT INTO records (id, seq, {COLUMNS}) "
        f"SELECT :id, :seq, {COLUMNS} FROM records WHERE seq = :copied"
    )
    return [(insert, {"id": str(uuid.uuid4()), "seq": SIZE, "copied": SIZE - 1})]


def rewrite_record_and_leaf(log: Log) -> list[Statement]:
    """The record changed and its stored leaf hash made to fit: only the checkpoints can tell."""
    forged = canonical.record_leaf_hash(changed_summary(log, TARGET))
    # What the record stores of the tree: its leaf hash first, then the nodes it completes.
    stored = Frontier().append_completed(leaf_hash(line.rstrip(b"\n")) for line in log.lines)
    return [
        *change_field(log),
        (
            "UPDATE records SET tree_hashes = :hashes WHERE seq = :seq",
            {"hashes": forged + stored[TARGET][HASH_SIZE:], "seq": TARGET},
        ),
    ]


def alter_note(log: Log) -> list[Statement]:
    note = log.notes[SIZE]
    altered = note.replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n", 1)
    assert altered != note
    return [
        (
            "UPDATE checkpoints SET note = :note WHERE tree_size = :size",
            {"note": altered, "size": SIZE},
        )
    ]


def sign_with_another_key(log: Log) -> list[Statement]:
    """The latest checkpoint re-signed, same name and content, by a key the log never had."""
    body = log.notes[SIZE].split("\n\n")[0] + "\n"
    note = checkpoint.sign_checkpoint(body, log.origin, Ed25519PrivateKey.generate())
    return [
        (
            "UPDATE checkpoints SET note = :note WHERE tree_size = :size",
            {"note": note, "size": SIZE},
        )
    ]


def other_verifier_key() -> str:
    public = checkpoint.public_key_bytes(Ed25519PrivateKey.generate().public_key())
    return checkpoint.verifier_key("localhost/audittrail", public)


@dataclass(frozen=True)
class Case:
    change: Callable[[Log], list[Statement]]
    failure: str
    checkpoint_every_record: bool = False
    verifier_key: Callable[[], str] | None = None
    also: list[str] = field(default_factory=list)


CASES = {
    "changed field": Case(change_field, f"FAILED at seq {TARGET}: changed content"),
    "deleted record": Case(delete_record, f"FAILED at seq {TARGET}: missing record"),
    "cut tail": Case(
        cut_the_tail,
        f"FAILED at seq {SIZE - 1}: missing record: a signed checkpoint covers {SIZE} records",
    ),
    "swapped pair": Case(
        swap_pair,
        f"FAILED at seq {TARGET}: changed content",
        also=[f"also seq {TARGET + 2}: changed content"],
    ),
    "inserted record": Case(insert_record, f"FAILED at seq {SIZE}: extra record"),
    "rewritten record and leaf hash": Case(
        rewrite_record_and_leaf,
        f"FAILED at seq {TARGET}: root mismatch",
        checkpoint_every_record=True,
        also=[f"the signed checkpoint of size {TARGET + 1} does not match the records"],
    ),
    "altered checkpoint note": Case(
        alter_note,
        f"FAILED at the log: bad signature: checkpoint of size {SIZE + 1}: "
        "signature by localhost/audittrail does not verify",
    ),
    "checkpoint signed by another key": Case(
        sign_with_another_key,
        f"FAILED at the log: bad signature: checkpoint of size {SIZE}: "
        "note carries no signature by localhost/audittrail",
    ),
    "verified with another key": Case(
        lambda log: [],
        "FAILED at the log: bad signature: checkpoint of size",
        verifier_key=other_verifier_key,
    ),
}


async def build_log(settings: Settings, *, checkpoint_every_record: bool) -> tuple[Log, str]:
    """POSTED records through the API; the log as served, and the verifier key. Stops the app."""
    async with running(hourly_checkpoints(settings)) as (app, client):
        # The bootstrap head, signed before the first post rather than by the checkpointer's
        # first round, which a fast first post can beat.
        if checkpoint_every_record:
            await checkpoint_now(app)
        for _ in range(POSTED):
            await post_records(client, 1)
            if checkpoint_every_record:
                await checkpoint_now(app)
        await checkpoint_now(app)  # covers the head: stopping will sign nothing more
        verifier_key = (await client.get(f"{LOG}/key")).text.strip()
        lines = await entry_lines(client)
        notes = {c["tree_size"]: c["note"] for c in await all_checkpoints(client)}
    assert len(lines) == SIZE and max(notes) == SIZE
    if checkpoint_every_record:
        assert set(range(BOOTSTRAP_RECORDS, SIZE + 1)) <= set(notes)
    return Log(lines, notes, settings.log_origin), verifier_key


async def test_an_untouched_log_verifies(settings: Settings, tmp_path: Path) -> None:
    log, verifier_key = await build_log(settings, checkpoint_every_record=True)
    key_file = tmp_path / "verifier.key"
    key_file.write_text(verifier_key + "\n")
    result = await verify("--database", settings.database_url, "--key", str(key_file))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"OK: {SIZE} records, {len(log.notes)} signed checkpoints (latest covers {SIZE}) verified\n"
    )


async def test_without_key_verify_uses_the_servers_key_file_and_never_makes_one(
    settings: Settings, tmp_path: Path
) -> None:
    log, _ = await build_log(settings, checkpoint_every_record=False)
    own_key = {"AUDITTRAIL_LOG_KEY_FILE": str(settings.log_key_file)}
    result = await verify("--database", settings.database_url, env=own_key)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK: {SIZE} records, {len(log.notes)} signed checkpoints")

    missing = tmp_path / "elsewhere" / "log.key"
    result = await verify(
        "--database", settings.database_url, env={"AUDITTRAIL_LOG_KEY_FILE": str(missing)}
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: no log signing key at {missing}; pass the published one with --key\n"
    )
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_tampering_is_found(settings: Settings, tmp_path: Path, case: Case) -> None:
    log, verifier_key = await build_log(
        settings, checkpoint_every_record=case.checkpoint_every_record
    )
    await tamper(settings.database_url, *case.change(log))
    key_file = tmp_path / "verifier.key"
    key_file.write_text((case.verifier_key() if case.verifier_key else verifier_key) + "\n")
    result = await verify("--database", settings.database_url, "--key", str(key_file))
    assert result.exit_code == 1, result.output
    assert result.output.startswith(case.failure), result.output
    for expected in case.also:
        assert expected in result.output


# The cases where what is wrong is in the records, which a large log has hashed in workers.
IN_THE_RECORDS = (
    "changed field",
    "deleted record",
    "cut tail",
    "swapped pair",
    "inserted record",
    "rewritten record and leaf hash",
)


@pytest.mark.parametrize(
    "case",
    [Case(lambda log: [], "OK"), *(CASES[name] for name in IN_THE_RECORDS)],
    ids=["untouched", *IN_THE_RECORDS],
)
async def test_worker_processes_find_the_same(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    """Read as a large log is, by worker processes, three records a chunk, so that every
    change spans chunks and workers: the same verdict, word for word."""
    log, verifier_key = await build_log(
        settings, checkpoint_every_record=case.checkpoint_every_record
    )
    await tamper(settings.database_url, *case.change(log))
    key_file = tmp_path / "verifier.key"
    key_file.write_text(verifier_key + "\n")
    in_process = await verify("--database", settings.database_url, "--key", str(key_file))
    monkeypatch.setattr(leaf_reader, "PARALLEL_FROM", 0)
    monkeypatch.setattr(leaf_reader, "CHUNK", 3)
    in_workers = await verify("--database", settings.database_url, "--key", str(key_file))
    assert in_process.output.startswith(case.failure), in_process.output
    assert (in_workers.exit_code, in_workers.output) == (in_process.exit_code, in_process.output)
