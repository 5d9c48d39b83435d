"""Evidence packs from the server, checked offline: a pack verifies with nothing but its own
files and the published key, and `verify --pack` names the record that was removed, changed,
added or reordered, and a checkpoint signed by another key."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from typer.testing import CliRunner

from audittrail import cli
from audittrail.integrity import checkpoint as signed_notes
from audittrail.integrity.audit import Kind
from audittrail.integrity.pack import PackReport, verify_pack
from audittrail.integrity.verify import parse_checkpoint_body
from tests.export.support import checkpoint_now, export
from tests.helpers import create_application, post_record

FILES = {"README.txt", "records.ndjson", "manifest.txt", "checkpoint.txt", "verifier-key.txt"}


async def some_records(client: httpx.AsyncClient) -> None:
    await create_application(client, "shop")
    for number in range(6):
        await post_record(
            client,
            application_key="shop" if number % 2 else None,
            summary=f"Record {number}",
            severity=["low", "high"][number % 2],
        )


async def pack_of(client: httpx.AsyncClient, **params: str) -> bytes:
    response = await export(client, format="pack", **params)
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith('.zip"')
    return response.content


def members(pack: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezipped(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def checked(app: FastAPI, pack: bytes) -> PackReport:
    return verify_pack(io.BytesIO(pack), app.state.signer.verifier_key)


def lines_of(files: dict[str, bytes]) -> list[bytes]:
    return files["records.ndjson"].splitlines(keepends=True)


def seq_of(line: bytes) -> int:
    seq: int = orjson.loads(line)["seq"]
    return seq


async def test_an_unfiltered_pack_is_the_whole_log_with_one_range_proof(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await some_records(client)
    await checkpoint_now(app)
    pack = await pack_of(client)
    files = members(pack)
    assert set(files) == FILES | {"range-proof.json"}
    report = checked(app, pack)
    assert report.ok, report.problems
    assert report.manifest is not None and report.checkpoint is not None
    size = report.checkpoint.size
    assert report.manifest.range == (0, size)
    assert [seq_of(line) for line in lines_of(files)] == list(range(size))  # log order
    assert files["verifier-key.txt"].decode().strip() == app.state.signer.verifier_key
    assert b"audittrail verify --pack" in files["README.txt"]


async def test_a_seq_range_pack_proves_every_record_of_the_range(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await some_records(client)
    await checkpoint_now(app)
    pack = await pack_of(client, seq_from="3", seq_to="6")
    report = checked(app, pack)
    assert report.ok, report.problems
    assert report.manifest is not None
    assert report.manifest.range == (3, 7)
    assert [seq_of(line) for line in lines_of(members(pack))] == [3, 4, 5, 6]
    # Taking a record out of the range's middle is named, however the rest is re-signed.
    files = members(pack)
    lines = lines_of(files)
    files["records.ndjson"] = b"".join(lines[:1] + lines[2:])
    report = checked(app, rezipped(files))
    assert (Kind.MISSING, 4) in {(problem.kind, problem.seq) for problem in report.problems}


async def test_a_filtered_pack_carries_an_inclusion_proof_per_record(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await some_records(client)
    await checkpoint_now(app)
    pack = await pack_of(client, application_key="shop", sort_by="severity", sort_dir="desc")
    files = members(pack)
    assert set(files) == FILES | {"proofs.ndjson"}
    report = checked(app, pack)
    assert report.ok, report.problems
    seqs = [seq_of(line) for line in lines_of(files)]
    assert seqs == sorted(seqs) and len(seqs) == 3  # in log order, whatever the sort
    proofs = [orjson.loads(line) for line in files["proofs.ndjson"].splitlines()]
    assert [proof["seq"] for proof in proofs] == seqs
    assert report.manifest is not None and report.manifest.range is None


async def test_an_empty_pack_verifies(app: FastAPI, client: httpx.AsyncClient) -> None:
    await checkpoint_now(app)
    report = checked(app, await pack_of(client, event_types="no.such"))
    assert report.ok, report.problems
    assert report.manifest is not None and report.manifest.records == 0


def problems_of(app: FastAPI, files: dict[str, bytes]) -> set[tuple[Kind, int | None]]:
    return {(problem.kind, problem.seq) for problem in checked(app, rezipped(files)).problems}


async def test_tampering_names_the_record(app: FastAPI, client: httpx.AsyncClient) -> None:
    await some_records(client)
    await checkpoint_now(app)
    files = members(await pack_of(client, severities="low", event_types="test.event"))
    lines = lines_of(files)
    seqs = [seq_of(line) for line in lines]
    assert len(seqs) == 3

    removed = dict(files, **{"records.ndjson": b"".join([lines[0], lines[2]])})
    assert (Kind.MISSING, seqs[1]) in problems_of(app, removed)

    changed_line = lines[1].replace(b"Record", b"Recorc")
    changed = dict(files, **{"records.ndjson": b"".join([lines[0], changed_line, lines[2]])})
    assert (Kind.CHANGED, seqs[1]) in problems_of(app, changed)

    reordered = dict(files, **{"records.ndjson": b"".join([lines[1], lines[0], lines[2]])})
    assert Kind.REORDERED in {kind for kind, _ in problems_of(app, reordered)}

    forged = orjson.loads(lines[2])
    forged["seq"] = seqs[2] + 1
    forged["summary"] = "never happened"
    added = dict(files, **{"records.ndjson": b"".join([*lines, orjson.dumps(forged) + b"\n"])})
    assert (Kind.EXTRA, seqs[2] + 1) in problems_of(app, added)


async def test_a_checkpoint_signed_by_another_key_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await post_record(client)
    await checkpoint_now(app)
    files = members(await pack_of(client))
    note = files["checkpoint.txt"].decode()
    stated = parse_checkpoint_body(note[: note.index("\n\n") + 1])
    body = signed_notes.checkpoint_body(stated.origin, stated.size, stated.root_hash)
    other = Ed25519PrivateKey.generate()
    files["checkpoint.txt"] = signed_notes.sign_checkpoint(
        body, app.state.signer.key_name, other
    ).encode()
    assert Kind.BAD_SIGNATURE in {kind for kind, _ in problems_of(app, files)}


async def test_verify_pack_on_the_command_line(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await some_records(client)
    await checkpoint_now(app)
    pack = tmp_path / "pack.zip"
    pack.write_bytes(await pack_of(client, severities="high"))
    key = tmp_path / "log.pub"
    key.write_text(app.state.signer.verifier_key + "\n")
    runner = CliRunner()
    result = runner.invoke(cli.app, ["verify", "--pack", str(pack), "--key", str(key)])
    assert result.exit_code == 0, result.output
    files = members(pack.read_bytes())
    lines = lines_of(files)
    seq = seq_of(lines[0])
    files["records.ndjson"] = b"".join([lines[0].replace(b"high", b"low"), *lines[1:]])
    pack.write_bytes(rezipped(files))
    result = runner.invoke(cli.app, ["verify", "--pack", str(pack), "--key", str(key)])
    assert result.exit_code == 1, result.output
    assert f"seq {seq}" in result.output


async def test_a_date_range_pack_proves_its_range_complete(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await some_records(client)
    listed = (await client.get("/api/audit-trail/records", params={"sort_dir": "asc"})).json()
    middle = listed["records"][3]["created_at"]
    await checkpoint_now(app)
    pack = await pack_of(client, date_from=middle)
    report = checked(app, pack)
    assert report.ok, report.problems
    assert report.manifest is not None
    seqs = [seq_of(line) for line in lines_of(members(pack))]
    assert report.manifest.range == (seqs[0], seqs[-1] + 1)
