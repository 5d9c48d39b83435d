"""An export streams: the server's memory stays flat while it sends 100,000 records.

Measured on a real server process (`audittrail serve`), whose resident set is sampled while a
client reads the export chunk by chunk: in-process, the test client would hold the whole
response (httpx's ASGI transport buffers it) and measure itself.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import httpx
import orjson

from audittrail.integrity.manifest import verify_manifest
from tests.conftest import ADMIN_KEY
from tests.crash.support import Server

RECORDS = 100_000
RECORDS_PATH = "/api/audit-trail/records"
BATCH = 1000
MAX_GROWTH_BYTES = 50 * 1024 * 1024


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakSampler(threading.Thread):
    """The process's largest resident set while running, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, resident_bytes(self.pid))
            time.sleep(0.02)


def post_records(client: httpx.Client, count: int = RECORDS) -> None:
    for start in range(0, count, BATCH):
        lines = (
            orjson.dumps(
                {
                    "event_type": "load.test",
                    "summary": f"Record {number} of the memory test, with some words in it",
                    "entity_type": "item",
                    "entity_id": f"item-{number}",
                    # About 1 KB a line: 100 MB of NDJSON, which a server that held the
                    # answer in memory could not send within the bound.
                    "params": {"n": number, "text": "x" * 700},
                    "metadata": {"batch": start // BATCH},
                }
            )
            for number in range(start, start + BATCH)
        )
        response = client.post(
            "/api/audit-trail/records/batch",
            content=b"\n".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert response.status_code == 201, response.text


def stream_export(client: httpx.Client, **params: str) -> tuple[int, bytes, hashlib._Hash]:
    """Lines and the last line of an NDJSON export, read chunk by chunk; the data's hash."""
    lines, digest, tail = 0, hashlib.sha256(), b""
    with client.stream("GET", "/api/audit-trail/export", params=params) as response:
        assert response.status_code == 200, response.read()
        for chunk in response.iter_bytes():
            data = tail + chunk
            *complete, tail = data.split(b"\n")
            for line in complete:
                if line.startswith(b'{"checkpoint"'):
                    return lines, line, digest
                lines += 1
                digest.update(line + b"\n")
    raise AssertionError("no manifest line")


def test_server_memory_stays_flat_while_it_streams_100000_records(server: Server) -> None:
    assert server.process is not None
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        post_records(client)
        stream_export(client, event_types="no.such")  # warm: every module and statement used
        baseline = resident_bytes(server.process.pid)
        sampler = PeakSampler(server.process.pid)
        sampler.start()
        try:
            lines, last, digest = stream_export(client, format="ndjson")
        finally:
            sampler.done.set()
            sampler.join()
        key = client.get("/api/audit-trail/log/key").text.strip()
    assert lines >= RECORDS
    manifest = verify_manifest(orjson.loads(last)["manifest"], key)
    assert manifest.records == lines
    assert manifest.data_sha256 == digest.hexdigest()
    growth = sampler.peak - baseline
    print(f"export of {lines} records: the server grew by {growth / 2**20:.1f} MiB")
    assert growth < MAX_GROWTH_BYTES, f"grew by {growth / 2**20:.1f} MiB"


def test_an_export_its_client_leaves_half_way_is_recorded_as_such(server: Server) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        post_records(client, 20_000)
        with client.stream("GET", "/api/audit-trail/export", params={"format": "csv"}) as response:
            assert response.status_code == 200
            next(response.iter_bytes())  # the first chunk, then the client goes away
        deadline = time.monotonic() + 30
        while True:
            listed = client.get(
                "/api/audit-trail/records", params={"event_types": "export.created"}
            )
            records = listed.json()["records"]
            if records or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    [record] = records
    assert record["params"]["complete"] is False
    assert record["params"]["records"] < 20_000
    assert record["summary"].startswith("Export as csv stopped after ")
