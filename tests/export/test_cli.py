"""`audittrail export` on the command line: the same exports, from the database, recorded."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from audittrail import cli
from audittrail.config import Settings
from audittrail.integrity.manifest import verify_manifest
from audittrail.integrity.pack import verify_pack
from tests.export.support import read_ndjson
from tests.helpers import RECORDS, create_application, post_record


@pytest.fixture
def command_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command's settings: the app's database and log key."""
    monkeypatch.setenv("AUDITTRAIL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("AUDITTRAIL_LOG_KEY_FILE", str(settings.log_key_file))
    return CliRunner()


async def invoke(runner: CliRunner, arguments: list[str]) -> Result:
    """In a thread: the command runs its own event loop, as it does from a shell."""
    return await asyncio.to_thread(runner.invoke, cli.app, arguments)


async def some_records(client: httpx.AsyncClient) -> None:
    await create_application(client, "shop")
    for number in range(4):
        await post_record(client, application_key="shop", summary=f"Order {number}")
    await post_record(client, summary="No application")


async def test_an_ndjson_export_to_a_file_is_signed_and_recorded(
    app: FastAPI, client: httpx.AsyncClient, command_line: CliRunner, tmp_path: Path
) -> None:
    await some_records(client)
    out = tmp_path / "all.ndjson"
    result = await invoke(command_line, ["export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = read_ndjson(app, out.read_bytes())
    assert exported.manifest.exported_by == "system:command-line"
    # The command signed a checkpoint of the head: every record so far is in it.
    assert exported.manifest.records == exported.manifest.tree_size >= 5
    assert f"exported {exported.manifest.records} records to {out}" in result.output
    recorded = (await client.get(RECORDS, params={"event_types": "export.created"})).json()
    [record] = recorded["records"]
    assert record["actor"] == "system:command-line"
    assert record["params"]["records"] == exported.manifest.records


async def test_a_filtered_csv_export_has_its_manifest_beside_it(
    app: FastAPI, client: httpx.AsyncClient, command_line: CliRunner, tmp_path: Path
) -> None:
    await some_records(client)
    out = tmp_path / "shop.csv"
    arguments = ["export", "--output", str(out), "--format", "csv"]
    arguments += ["--filter", "application_key=shop", "--filter", "sort_dir=asc"]
    result = await invoke(command_line, arguments)
    assert result.exit_code == 0, result.output
    manifest = verify_manifest(
        (tmp_path / "shop.csv.manifest.txt").read_text(), app.state.signer.verifier_key
    )
    assert manifest.records == 4
    assert manifest.filters == {"application_key": "shop", "sort_dir": "asc"}
    assert manifest.data_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_text().count("Order ") == 4


async def test_a_pack_from_the_command_line_verifies(
    app: FastAPI, client: httpx.AsyncClient, command_line: CliRunner, tmp_path: Path
) -> None:
    await some_records(client)
    pack = tmp_path / "pack.zip"
    result = await invoke(command_line, ["export", "--pack", str(pack)])
    assert result.exit_code == 0, result.output
    report = verify_pack(pack, app.state.signer.verifier_key)
    assert report.ok, report.problems
    assert report.manifest is not None and report.manifest.range is not None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--filter", "seq_from=many"], "bad --filter: seq_from:"),
        (["--filter", "severities=loud"], "'loud' is not one of"),
        (["--filter", "nothing"], "--filter takes NAME=VALUE"),
        (["--filter", "aplication_key=shop"], "No export takes aplication_key."),
        (["--filter", "tree_size=999"], "No signed checkpoint of tree size 999"),
    ],
)
async def test_bad_filters_export_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    command_line: CliRunner,
    tmp_path: Path,
    arguments: list[str],
    message: str,
) -> None:
    out = tmp_path / "out.ndjson"
    result = await invoke(command_line, ["export", "--output", str(out), *arguments])
    assert result.exit_code != 0
    assert message in result.output
    assert not out.exists()
    recorded = (await client.get(RECORDS, params={"event_types": "export.created"})).json()
    assert recorded["records"] == []


async def test_verify_export_checks_a_file_and_its_manifest(
    app: FastAPI, client: httpx.AsyncClient, command_line: CliRunner, tmp_path: Path
) -> None:
    await some_records(client)
    key = tmp_path / "verifier.key"
    key.write_text(app.state.signer.verifier_key)
    ndjson, csv = tmp_path / "all.ndjson", tmp_path / "all.csv"
    assert (await invoke(command_line, ["export", "--output", str(ndjson)])).exit_code == 0
    arguments = ["export", "--output", str(csv), "--format", "csv"]
    assert (await invoke(command_line, arguments)).exit_code == 0
    manifest = tmp_path / "all.csv.manifest.txt"
    checks = [
        ["verify", "--export", str(ndjson), "--key", str(key)],
        ["verify", "--export", str(csv), "--manifest", str(manifest), "--key", str(key)],
    ]
    for check in checks:
        result = await invoke(command_line, check)
        assert result.exit_code == 0, result.output
        assert "OK: " in result.output
    csv.write_bytes(csv.read_bytes().replace(b"Order 1", b"Order 7"))
    result = await invoke(command_line, checks[1])
    assert result.exit_code == 1
    assert "the data are not what was exported" in result.output
