"""The log head follows every commit; checkpoints follow the head while it grows, and are kept."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import stat
from datetime import datetime

import httpx

from audittrail.config import Settings
from audittrail.integrity.tree import root_from_leaf_hashes
from audittrail.integrity.verify import verify_checkpoint
from tests.helpers import post_record
from tests.log.support import (
    BOOTSTRAP_RECORDS,
    LOG,
    all_checkpoints,
    b64,
    caught_up_checkpoint,
    entry_lines,
    head_size,
    note_size,
    post_records,
    running,
)


def leaf_hashes(lines: list[bytes]) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + line).digest() for line in lines]


async def test_head_advances_with_each_committed_record(client: httpx.AsyncClient) -> None:
    roots = set()
    for count in range(BOOTSTRAP_RECORDS + 1, BOOTSTRAP_RECORDS + 5):
        await post_record(client)
        head = (await client.get(f"{LOG}/head")).json()
        assert head["tree_size"] == count
        leaves = leaf_hashes(await entry_lines(client))
        assert head["root_hash"] == b64(root_from_leaf_hashes(leaves))
        roots.add(head["root_hash"])
    assert len(roots) == 4


async def test_concurrent_records_get_gap_free_seqs_in_commit_order(
    client: httpx.AsyncClient,
) -> None:
    posted = await asyncio.gather(*(post_record(client, summary=f"r{n}") for n in range(12)))
    entries = [json.loads(line) for line in await entry_lines(client)]
    assert [entry["seq"] for entry in entries] == list(range(BOOTSTRAP_RECORDS + 12))
    assert {entry["id"] for entry in entries[BOOTSTRAP_RECORDS:]} == {r["id"] for r in posted}
    created = [entry["created_at"] for entry in entries]
    assert created == sorted(created)
    assert await head_size(client) == len(entries)


async def test_checkpoints_follow_growth_are_all_kept_and_stop_when_idle(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    seen = [note_size(await caught_up_checkpoint(client))]
    for _ in range(5):
        await post_records(client, 2)
        seen.append(note_size(await caught_up_checkpoint(client)))
    assert seen == list(range(BOOTSTRAP_RECORDS, BOOTSTRAP_RECORDS + 11, 2))

    history = await all_checkpoints(client)
    sizes = [checkpoint["tree_size"] for checkpoint in reversed(history)]
    assert set(seen) <= set(sizes)
    assert sizes == sorted(set(sizes))
    times = [datetime.fromisoformat(c["created_at"]) for c in reversed(history)]
    assert times == sorted(times)
    verifier_key = (await client.get(f"{LOG}/key")).text.strip()
    leaves = leaf_hashes(await entry_lines(client))
    for checkpoint in history:
        signed = verify_checkpoint(checkpoint["note"], verifier_key, origin=settings.log_origin)
        assert signed.size == checkpoint["tree_size"]
        assert signed.root_hash == root_from_leaf_hashes(leaves[: signed.size])
        assert base64.b64decode(checkpoint["root_hash"]) == signed.root_hash

    pages = []
    for page in (1, 2, 3):
        response = await client.get(f"{LOG}/checkpoints", params={"page": page, "page_size": 3})
        body = response.json()
        assert (body["total"], body["page_size"]) == (len(history), 3)
        assert body["total_pages"] == -(-len(history) // 3)
        pages += body["checkpoints"]
    assert pages == history[:9]

    await asyncio.sleep(10 * settings.checkpoint_interval)
    assert await all_checkpoints(client) == history


async def test_signing_key_is_created_private_and_kept_across_restarts(
    settings: Settings,
) -> None:
    key_file = settings.log_key_file
    assert not key_file.exists()
    async with running(settings) as (_, client):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        pem = key_file.read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
        verifier_key = (await client.get(f"{LOG}/key")).text.strip()
        await post_records(client, 1)
        first = await caught_up_checkpoint(client)

    async with running(settings) as (_, client):
        assert (await client.get(f"{LOG}/key")).text.strip() == verifier_key
        await post_records(client, 1)
        second = await caught_up_checkpoint(client)
    assert key_file.read_bytes() == pem
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sizes = [verify_checkpoint(note, verifier_key).size for note in (first, second)]
    assert sizes == [BOOTSTRAP_RECORDS + 1, BOOTSTRAP_RECORDS + 2]
