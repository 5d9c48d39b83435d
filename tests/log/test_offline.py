"""`audittrail verify --entries --checkpoint --key`: files fetched from the API, checked offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.log.support import LOG, caught_up_checkpoint, entry_lines, post_records, verify

POSTED = 8
SIZE = 2 + POSTED
TARGET = 5
Lines = list[bytes]


def reorder(lines: Lines) -> Lines:
    swapped = list(lines)
    swapped[TARGET], swapped[TARGET + 2] = lines[TARGET + 2], lines[TARGET]
    return swapped


def remove(lines: Lines) -> Lines:
    return lines[:TARGET] + lines[TARGET + 1 :]


def add_one(lines: Lines) -> Lines:
    """A record slipped in after the checkpoint's last one, numbered to follow it."""
    extra = json.loads(lines[-1])
    extra.update(seq=SIZE, id="01900000-0000-7000-8000-000000000000")
    return [*lines, json.dumps(extra, sort_keys=True, separators=(",", ":")).encode()]


def change(lines: Lines) -> Lines:
    changed = list(lines)
    changed[TARGET] = lines[TARGET].replace(b'"record 3"', b'"record 4"')
    assert changed[TARGET] != lines[TARGET]
    return changed


CASES: dict[str, tuple[Callable[[Lines], Lines], str]] = {
    "reordered pair": (
        reorder,
        f"FAILED at seq {TARGET}: reordered records: seq {TARGET + 2} comes before seq {TARGET}",
    ),
    "removed line": (
        remove,
        f"FAILED at seq {TARGET}: missing record: the next entry after it is seq {TARGET + 1}",
    ),
    "extra line": (
        add_one,
        f"FAILED at seq {SIZE}: extra record: the log holds {SIZE} records; {SIZE + 1} were found",
    ),
    "changed line": (
        change,
        f"FAILED at seq 0: root mismatch: the signed checkpoint of size {SIZE} does not match",
    ),
}


@pytest.fixture
async def fetched(client: httpx.AsyncClient, tmp_path: Path) -> tuple[Lines, Path, Path]:
    """The entries lines, and the checkpoint and verifier key files, as an auditor saves them."""
    await post_records(client, POSTED)
    checkpoint_file = tmp_path / "checkpoint"
    checkpoint_file.write_text(await caught_up_checkpoint(client))
    key_file = tmp_path / "verifier.key"
    key_file.write_text((await client.get(f"{LOG}/key")).text)
    lines = await entry_lines(client, end=SIZE)
    assert len(lines) == SIZE
    return lines, checkpoint_file, key_file


async def verify_lines(lines: Lines, checkpoint_file: Path, key_file: Path) -> tuple[int, str]:
    entries_file = checkpoint_file.with_name("entries.ndjson")
    entries_file.write_bytes(b"".join(line + b"\n" for line in lines))
    result = await verify(
        "--entries", str(entries_file), "--checkpoint", str(checkpoint_file), "--key", str(key_file)
    )
    return result.exit_code, result.output


async def test_fetched_files_verify(fetched: tuple[Lines, Path, Path]) -> None:
    lines, checkpoint_file, key_file = fetched
    code, output = await verify_lines(lines, checkpoint_file, key_file)
    assert (code, output) == (
        0,
        f"OK: {SIZE} records, 1 signed checkpoints (latest covers {SIZE}) verified\n",
    )


@pytest.mark.parametrize("case", CASES, ids=CASES)
async def test_altered_files_fail(fetched: tuple[Lines, Path, Path], case: str) -> None:
    lines, checkpoint_file, key_file = fetched
    alter, failure = CASES[case]
    code, output = await verify_lines(alter(lines), checkpoint_file, key_file)
    assert code == 1, output
    assert output.startswith(failure), output


@pytest.mark.parametrize(
    "reformat",
    [
        lambda line: json.dumps(json.loads(line), indent=None).encode(),  # ", " and ": "
        lambda line: json.dumps(json.loads(line), sort_keys=False, ensure_ascii=True).encode(),
        lambda line: line + b"\r",  # CRLF line endings
    ],
    ids=["spaced", "ascii-escaped", "crlf"],
)
async def test_reformatted_honest_files_verify(
    fetched: tuple[Lines, Path, Path], reformat: Callable[[bytes], bytes]
) -> None:
    """Only content counts: a file re-serialised by some tool is checked by re-encoding it."""
    lines, checkpoint_file, key_file = fetched
    code, output = await verify_lines([reformat(line) for line in lines], checkpoint_file, key_file)
    assert (code, output) == (
        0,
        f"OK: {SIZE} records, 1 signed checkpoints (latest covers {SIZE}) verified\n",
    )
