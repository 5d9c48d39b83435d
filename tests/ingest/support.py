"""Helpers of the write-path tests: a stand-in for the writer's append, and readers of the log."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from audittrail.db.models import Record
from audittrail.integrity.hashing import EMPTY_ROOT, leaf_hash, node_hash
from audittrail.log import append as log_append
from audittrail.log.append import NewRecord

BATCH = "/api/audit-trail/records/batch"
LOG = "/api/audit-trail/log"
METRICS = "/metrics"

KeyedClient = Callable[[list[str]], Awaitable[httpx.AsyncClient]]


def commit_failure() -> OperationalError:
    """What the driver raises when the disk or the connection gives out during a commit."""
    return OperationalError("COMMIT", {}, Exception("disk I/O error"))


@dataclass
class AppendHook:
    """Stands in for the writer's append: holds one batch until released, or fails some.

    `sizes` lists the record count of every batch that reached append, so a test knows which
    batch its requests shared.
    """

    sizes: list[int] = field(default_factory=list)
    failures: int = 0
    holding: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, session: AsyncSession, records: Sequence[NewRecord], **options: Any
    ) -> list[Record]:
        self.sizes.append(len(records))
        if self.holding:
            self.holding = False
            self.entered.set()
            await self.released.wait()
        elif self.failures:
            self.failures -= 1
            raise commit_failure()
        return await log_append.append(session, records, **options)

    def hold(self) -> None:
        """Hold the next batch in its transaction, with the log locked, until release()."""
        self.released.clear()
        self.entered.clear()
        self.holding = True

    async def wait_held(self) -> None:
        """Until a batch is held; fail, never hang."""
        await asyncio.wait_for(self.entered.wait(), 5)

    def release(self) -> None:
        self.released.set()


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait up to ``seconds`` for condition() to hold (the writer's queue to fill); fail, never
    hang."""
    for _ in range(round(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"the condition did not come true within {seconds} s")


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over these leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


async def intact_log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The log's entries, after checking they are seq 0..n-1 under the head's Merkle root."""
    response = await client.get(f"{LOG}/entries")
    assert response.status_code == 200, response.text
    lines = response.content.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [entry["seq"] for entry in entries] == list(range(len(entries)))
    head = (await client.get(f"{LOG}/head")).json()
    assert head["tree_size"] == len(entries)
    assert base64.b64decode(head["root_hash"]) == merkle_root([leaf_hash(x) for x in lines])
    return entries


async def metrics(client: httpx.AsyncClient) -> dict[str, float]:
    """GET /metrics as {sample: value}: a sample with labels as `name{label="value",...}`, its
    labels sorted by name."""
    response = await client.get(METRICS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def samples(text: str) -> dict[str, float]:
    """The Prometheus text format as {sample: value} (`metrics`)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found
