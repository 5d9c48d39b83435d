"""`audittrail verify --url` against `audittrail serve` running in its own process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audittrail.config import Settings
from tests.conftest import ADMIN_EMAIL, ADMIN_KEY, ADMIN_PASSWORD
from tests.log.support import (
    LOG,
    all_checkpoints,
    caught_up_checkpoint,
    post_records,
    tamper,
    verify,
)

START_SECONDS = 15.0
AUDITTRAIL = Path(sys.executable).with_name("audittrail")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "AUDITTRAIL_DATABASE_URL": settings.database_url,
        "AUDITTRAIL_AUTO_MIGRATE": "false",
        "AUDITTRAIL_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "AUDITTRAIL_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "AUDITTRAIL_BOOTSTRAP_API_KEY": ADMIN_KEY,
        "AUDITTRAIL_SECRET_KEY": "test-secret-" + "s" * 40,
        "AUDITTRAIL_LOG_KEY_FILE": str(settings.log_key_file),
        "AUDITTRAIL_CHECKPOINT_INTERVAL": str(settings.checkpoint_interval),
    }


def wait_until_serving(url: str, process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    with httpx.Client(base_url=url) as client:
        while True:
            assert process.poll() is None, f"the server exited: {output.read_text()}"
            assert time.monotonic() < deadline, f"no answer in time: {output.read_text()}"
            try:
                if client.get(f"{LOG}/head").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The base URL of `audittrail serve` on a free port, over this test's database."""
    port = free_port()
    output = tmp_path / "server.log"
    with output.open("wb") as log_file:
        process = subprocess.Popen(
            [str(AUDITTRAIL), "serve", "--port", str(port)],
            env=server_environment(settings),
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, output)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_verify_a_running_server(server: str, settings: Settings, tmp_path: Path) -> None:
    async with httpx.AsyncClient(
        base_url=server, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        await post_records(client, 5)
        await caught_up_checkpoint(client)
        signed = len(await all_checkpoints(client))
        key_file = tmp_path / "verifier.key"
        key_file.write_text((await client.get(f"{LOG}/key")).text)
    arguments = ("--url", server, "--key", str(key_file))

    result = await verify(*arguments, "--api-key", ADMIN_KEY)
    assert result.exit_code == 0, result.output
    assert (
        result.output == f"OK: 7 records, {signed} signed checkpoints (latest covers 7) verified\n"
    )

    await tamper(
        settings.database_url,
        ("UPDATE records SET summary = 'rewritten' WHERE seq = 4", {}),
    )
    result = await verify(*arguments, env={"AUDITTRAIL_API_KEY": ADMIN_KEY})
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        "FAILED at seq 4: changed content: the record no longer hashes to its stored leaf hash\n"
    )

    result = await verify(*arguments)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"error: {server}{LOG}/entries?end=7 answered 401 (the entries need a reader's --api-key)\n"
    )


async def test_verify_an_unreachable_server(tmp_path: Path) -> None:
    key_file = tmp_path / "verifier.key"
    key_file.write_text("localhost/audittrail+00000000+AQ==\n")
    url = f"http://127.0.0.1:{free_port()}"
    result = await verify("--url", url, "--key", str(key_file))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: cannot reach {url}: ")
