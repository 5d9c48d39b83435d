"""Several processes, one log: `audittrail serve --workers 2` and a second server on the same
database, under one concurrent ingest, append to one gap-free log, sign at most one checkpoint
per interval between them, and serve the same latest checkpoint; a process with another key
does not join them."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from audittrail.config import Settings
from audittrail.integrity.verify import verify_checkpoint
from audittrail.log.checkpointer import ForeignSigner
from tests.crash.support import (
    LOG,
    WORKERS,
    Ingest,
    Server,
    caught_up_checkpoint,
    check_log,
    create_application,
    verify_database,
)
from tests.helpers import post_record
from tests.log.support import checkpoint_now, running

INTERVAL = 0.3
LOAD_SECONDS = 2.5


def servers(database_url: str, directory: Path) -> tuple[Server, Server]:
    """Two deployments of one service: the same log key and secret, their own directories."""
    shared = {
        "AUDITTRAIL_LOG_KEY_FILE": str(directory / "log.key"),
        "AUDITTRAIL_SECRET_KEY_FILE": str(directory / "secret"),
        "AUDITTRAIL_CHECKPOINT_INTERVAL": str(INTERVAL),
    }
    (directory / "a").mkdir()
    (directory / "b").mkdir()
    return (
        Server(database_url, directory / "a", shared, arguments=("--workers", "2")),
        Server(database_url, directory / "b", shared),
    )


async def all_checkpoints(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(f"{LOG}/checkpoints", params={"page": page, "page_size": 200})
        assert response.status_code == 200, response.text
        found += response.json()["checkpoints"]
        if len(found) >= response.json()["total"]:
            return sorted(found, key=lambda checkpoint: checkpoint["tree_size"])
        page += 1


async def test_several_processes_append_to_one_log(database_url: str, tmp_path: Path) -> None:
    first, second = servers(database_url, tmp_path)
    first.start()
    second.start()
    ingest = Ingest()
    try:
        async with first.client() as one, second.client() as other:
            await create_application(one)
            async with ingest.running(one), ingest.running(other, first=WORKERS):
                await asyncio.sleep(LOAD_SECONDS)
            assert ingest.refusals == [], [r.text for r in ingest.refusals]
            assert ingest.unanswered == []
            entries = await check_log(one, ingest)
            assert len(ingest.acknowledged) > 100, "the load never got going"
            await caught_up_checkpoint(one, len(entries))
            latest = [(await c.get(f"{LOG}/checkpoint")).text for c in (one, other)]
            assert latest[0] == latest[1]
            checkpoints = await all_checkpoints(other)
            output = await verify_database(database_url, one, tmp_path)
    finally:
        first.stop()
        second.stop()
    assert output.startswith(f"OK: {len(entries)} records, "), output
    assert len(checkpoints) >= 4, checkpoints
    signed = [datetime.fromisoformat(checkpoint["created_at"]) for checkpoint in checkpoints]
    assert signed == sorted(signed)
    gaps = [later - earlier for earlier, later in itertools.pairwise(signed)]
    assert min(gaps) >= timedelta(seconds=INTERVAL), gaps


async def test_a_process_with_another_key_refuses_to_start(
    settings: Settings, tmp_path: Path
) -> None:
    """A host started without the deployment's key file would make a key of its own and sign
    the shared log with it; it does not start instead (nor does one of another origin)."""
    async with running(settings) as (app, client):
        await post_record(client, summary="signed with the deployment's key")
        await checkpoint_now(app)
    for changed in (
        {"log_key_file": tmp_path / "another.key"},
        {"log_origin": "elsewhere.example/audittrail"},
    ):
        with pytest.raises(ForeignSigner) as refused:
            async with running(settings.model_copy(update=changed)):
                pass
        assert str(refused.value).startswith(
            "The log's checkpoints were not signed with this key and origin "
            "(AUDITTRAIL_LOG_KEY_FILE, AUDITTRAIL_LOG_ORIGIN): "
        )
    async with running(settings) as (app, client):  # the deployment's own key still serves
        assert (await client.get(f"{LOG}/checkpoint")).status_code == 200
    # A replacement on purpose: the new key starts, and signs what comes next.
    replacing = {"log_key_file": tmp_path / "another.key", "log_key_replaced": True}
    async with running(settings.model_copy(update=replacing)) as (app, client):
        await post_record(client, summary="signed with the new key")
        await checkpoint_now(app)
        latest = (await client.get(f"{LOG}/checkpoint")).text
    verify_checkpoint(latest, app.state.signer.verifier_key)
