"""Inclusion and consistency proofs, entries and checkpoints from the API, checked end to end."""

from __future__ import annotations

import base64
import hashlib
import json
from itertools import pairwise

import httpx
from fastapi import FastAPI

from audittrail.config import Settings
from audittrail.integrity.tree import root_from_leaf_hashes
from audittrail.integrity.verify import verify_checkpoint, verify_consistency, verify_inclusion
from tests.helpers import record_total
from tests.log.support import (
    BOOTSTRAP_RECORDS,
    LOG,
    RECORDS,
    all_checkpoints,
    b64,
    caught_up_checkpoint,
    checkpoint_now,
    entry_lines,
    head_size,
    hourly_checkpoints,
    post_records,
    running,
)

UNAUTHENTICATED = {
    "error": {"code": "UNAUTHENTICATED", "message": "Missing, invalid or expired credentials."}
}


def leaf_hash(line: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + line).digest()


async def grow(app: FastAPI, client: httpx.AsyncClient, *sizes: int) -> None:
    """Post records until the log holds each size in turn, signing a checkpoint at each."""
    for size in sizes:
        await post_records(client, size - await head_size(client))
        await checkpoint_now(app)


def out_of_range(parameter: str, message: str) -> dict[str, object]:
    return {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": f"Invalid query parameter {parameter}: {message}",
            "details": [
                {"field": f"query.{parameter}", "code": "OUT_OF_RANGE", "message": message}
            ],
        }
    }


async def test_inclusion_proofs_verify_at_every_size(settings: Settings) -> None:
    async with running(hourly_checkpoints(settings)) as (app, client):
        await grow(app, client, 3, 5, 8, 11)
        verifier_key = (await client.get(f"{LOG}/key")).text.strip()
        lines = await entry_lines(client)
        signed = {c["tree_size"]: c["note"] for c in await all_checkpoints(client)}
        assert {3, 5, 8, 11} <= set(signed) <= {2, 3, 5, 8, 11}
        await check_inclusion_proofs(client, lines, signed, verifier_key, settings.log_origin)


async def check_inclusion_proofs(
    client: httpx.AsyncClient, lines: list[bytes], signed: dict[int, str], key: str, origin: str
) -> None:
    """Proofs of the first, middle and last record at every size against recomputed roots."""
    leaves = [leaf_hash(line) for line in lines]
    ids = [json.loads(line)["id"] for line in lines]

    for size in range(1, len(lines) + 1):
        root = root_from_leaf_hashes(leaves[:size])
        if size in signed:
            checkpoint = verify_checkpoint(signed[size], key, origin=origin)
            assert (checkpoint.size, checkpoint.root_hash) == (size, root)
        for seq in sorted({0, size // 2, size - 1}):
            response = await client.get(f"{RECORDS}/{ids[seq]}/proof", params={"tree_size": size})
            assert response.status_code == 200, response.text
            proof = response.json()
            assert proof["record_id"] == ids[seq]
            assert proof["leaf_index"] == seq
            assert proof["leaf_hash"] == b64(leaves[seq])
            assert proof["tree_size"] == size
            assert proof["root_hash"] == b64(root)
            assert proof["checkpoint"] == signed.get(size)
            path = [base64.b64decode(element) for element in proof["inclusion_path"]]
            verify_inclusion(seq, size, leaves[seq], path, root)


async def test_proof_defaults_to_the_latest_checkpoint(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    [first, second] = await post_records(client, 2)
    await checkpoint_now(app)
    latest = (await client.get(f"{LOG}/checkpoint")).text
    for seq, record_id in enumerate((first, second), start=BOOTSTRAP_RECORDS):
        response = await client.get(f"{RECORDS}/{record_id}/proof")
        assert response.status_code == 200, response.text
        proof = response.json()
        assert (proof["leaf_index"], proof["tree_size"]) == (seq, BOOTSTRAP_RECORDS + 2)
        assert proof["checkpoint"] == latest


async def test_proof_waits_for_a_checkpoint_with_409(settings: Settings) -> None:
    async with running(hourly_checkpoints(settings)) as (app, client):
        # The checkpointer's first round, at start, signs the bootstrap records; the next one
        # is an hour away.
        await caught_up_checkpoint(client)
        [record_id] = await post_records(client, 1)
        response = await client.get(f"{RECORDS}/{record_id}/proof")
        assert response.status_code == 409
        assert response.headers["retry-after"] == "3600"
        assert response.json() == {
            "error": {
                "code": "NOT_YET_CHECKPOINTED",
                "message": "No checkpoint covers this record yet; ask again shortly.",
            }
        }
        unsigned = await client.get(f"{RECORDS}/{record_id}/proof", params={"tree_size": 3})
        assert unsigned.status_code == 200 and unsigned.json()["checkpoint"] is None
        await checkpoint_now(app)
        signed = await client.get(f"{RECORDS}/{record_id}/proof")
        assert signed.status_code == 200
        assert signed.json()["checkpoint"] == (await client.get(f"{LOG}/checkpoint")).text


async def test_proof_refusals(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    [record_id] = await post_records(client, 1)
    await checkpoint_now(app)
    proof = f"{RECORDS}/{record_id}/proof"
    size = BOOTSTRAP_RECORDS + 1
    stored = await record_total(client)

    too_far = f"must be above the record's index {BOOTSTRAP_RECORDS} and at most {size}."
    # Past BIGINT too: the answer is the same.
    for tree_size in (BOOTSTRAP_RECORDS, size + 1, 2**63 - 1, 2**63, 2**70):
        response = await client.get(proof, params={"tree_size": tree_size})
        assert response.status_code == 422
        assert response.json() == out_of_range("tree_size", too_far)

    for bad, code in (("0", "GREATER_THAN_EQUAL"), ("two", "INT_PARSING")):
        response = await client.get(proof, params={"tree_size": bad})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [(d["field"], d["code"]) for d in error["details"]] == [("query.tree_size", code)]

    unknown = await client.get(f"{RECORDS}/01900000-0000-7000-8000-000000000000/proof")
    assert unknown.status_code == 404
    assert unknown.json() == {
        "error": {
            "code": "RECORD_NOT_FOUND",
            "message": "No record 01900000-0000-7000-8000-000000000000.",
        }
    }

    response = await anonymous.get(proof)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert await record_total(client) == stored


async def test_proofs_at_every_size_and_index_verify(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """Every record at every size, and every pair of sizes, up to 13 records (8 + 4 + 1)."""
    await post_records(client, 13 - BOOTSTRAP_RECORDS)
    lines = await entry_lines(client)
    leaves = [leaf_hash(line) for line in lines]
    ids = [json.loads(line)["id"] for line in lines]
    roots = {size: root_from_leaf_hashes(leaves[:size]) for size in range(1, len(lines) + 1)}
    for size, root in roots.items():
        for seq in range(size):
            response = await client.get(f"{RECORDS}/{ids[seq]}/proof", params={"tree_size": size})
            assert response.status_code == 200, response.text
            proof = response.json()
            assert (proof["leaf_hash"], proof["root_hash"]) == (b64(leaves[seq]), b64(root))
            path = [base64.b64decode(element) for element in proof["inclusion_path"]]
            verify_inclusion(seq, size, leaves[seq], path, root)
        for first in range(1, size + 1):
            response = await anonymous.get(
                f"{LOG}/consistency", params={"first": first, "second": size}
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["first_root"] == b64(roots[first])
            assert answer["second_root"] == b64(root)
            proof = [base64.b64decode(element) for element in answer["proof"]]
            verify_consistency(first, size, proof, roots[first], root)


async def test_consistency_proofs_between_stored_checkpoints_verify(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient, settings: Settings
) -> None:
    await grow(app, client, 3, 4, 7, 8, 13)
    verifier_key = (await client.get(f"{LOG}/key")).text.strip()
    checkpoints = [
        verify_checkpoint(c["note"], verifier_key, origin=settings.log_origin)
        for c in reversed(await all_checkpoints(anonymous))
    ]
    pairs = [*pairwise(checkpoints), (checkpoints[0], checkpoints[-1])]
    pairs += [(checkpoint, checkpoint) for checkpoint in checkpoints]
    for older, newer in pairs:
        response = await anonymous.get(
            f"{LOG}/consistency", params={"first": older.size, "second": newer.size}
        )
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["first"] == older.size and answer["second"] == newer.size
        assert answer["first_root"] == b64(older.root_hash)
        assert answer["second_root"] == b64(newer.root_hash)
        proof = [base64.b64decode(element) for element in answer["proof"]]
        verify_consistency(older.size, newer.size, proof, older.root_hash, newer.root_hash)


async def test_consistency_refusals(client: httpx.AsyncClient) -> None:
    await post_records(client, 2)
    size = BOOTSTRAP_RECORDS + 2
    for first, second, parameter, message in (
        (3, 2, "first", "must be at least 1 and at most second (2)."),
        (1, size + 1, "second", f"must be at most the log's size ({size})."),
        (2**63, 2**70, "second", f"must be at most the log's size ({size})."),
        (2**70, 2**63, "first", f"must be at least 1 and at most second ({2**63})."),
    ):
        response = await client.get(f"{LOG}/consistency", params={"first": first, "second": second})
        assert response.status_code == 422
        assert response.json() == out_of_range(parameter, message)
    response = await client.get(f"{LOG}/consistency", params={"first": 0, "second": 2})
    assert response.status_code == 422
    [detail] = response.json()["error"]["details"]
    assert (detail["field"], detail["code"]) == ("query.first", "GREATER_THAN_EQUAL")
    response = await client.get(f"{LOG}/consistency", params={"first": 1})
    assert response.status_code == 422
    [detail] = response.json()["error"]["details"]
    assert (detail["field"], detail["code"]) == ("query.second", "MISSING")


async def test_entries_are_the_leaves_in_seq_order(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    ids = await post_records(client, 5)
    await checkpoint_now(app)
    lines = await entry_lines(client)
    entries = [json.loads(line) for line in lines]
    assert [entry["seq"] for entry in entries] == list(range(BOOTSTRAP_RECORDS + 5))
    assert [entry["id"] for entry in entries[BOOTSTRAP_RECORDS:]] == ids
    for seq, record_id in enumerate(ids, start=BOOTSTRAP_RECORDS):
        proof = (await client.get(f"{RECORDS}/{record_id}/proof")).json()
        assert proof["leaf_hash"] == b64(leaf_hash(lines[seq]))
        record = (await client.get(f"{RECORDS}/{record_id}")).json()
        assert entries[seq]["summary"] == record["summary"]
        assert entries[seq]["metadata"] == record["metadata"]

    assert await entry_lines(client, start=3, end=5) == lines[3:5]
    assert await entry_lines(client, start=4) == lines[4:]
    assert await entry_lines(client, end=2) == lines[:2]
    assert await entry_lines(client, start=7, end=7) == []

    size = len(lines)
    for params, parameter, message in (
        ({"start": 5, "end": 4}, "start", "must be between 0 and end (4)."),
        ({"start": size + 1}, "start", f"must be between 0 and end ({size})."),
        ({"end": size + 1}, "end", f"must be at most the log's size ({size})."),
    ):
        response = await client.get(f"{LOG}/entries", params=params)
        assert response.status_code == 422
        assert response.json() == out_of_range(parameter, message)

    response = await anonymous.get(f"{LOG}/entries")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
