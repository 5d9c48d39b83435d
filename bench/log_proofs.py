"""Benchmark: inclusion and consistency proofs from a log of 1,000,000 records (issue 3).

Target: proof generation p50 below 2 ms, on PostgreSQL and on SQLite. Each proof is timed as a
request pays for it: a read session opened, `integrity.service` called, the session closed.
Baseline, interleaved with the proofs in the same run: fetching one record by id in the same
kind of session (what GET /records/{id} costs), so the ratio shows what the proof adds.

    .venv/bin/python -m bench.log_proofs [--records N] [--databases postgresql,sqlite]
"""

from __future__ import annotations

import asyncio
import base64
import time
from random import Random
from typing import Any

from audittrail.access import Visibility
from audittrail.db.engine import Database
from audittrail.integrity.verify import verify_consistency, verify_inclusion
from audittrail.log import service
from audittrail.records import repository as records_repo
from bench import common

TARGET_P50_MS = 2.0
WARM_UP = 100
CHECKED = 50


async def _timed(database: Database, call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    async with database.read_session() as session:
        answer = await call(session)
    return (time.perf_counter() - started) * 1000, answer


def _summary(milliseconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(common.median(milliseconds), 3),
        "p99_ms": round(common.percentile(milliseconds, 0.99), 3),
        "samples": len(milliseconds),
    }


EVERY_RECORD = Visibility(application_ids=None, sees_sensitive=True)


async def _inclusion(
    database: Database, seeded: common.SeededLog, samples: int, rng: Random
) -> tuple[list[float], list[float]]:
    """Proofs of random records, each paired with a by-id fetch of another random record."""
    proofs: list[float] = []
    fetches: list[float] = []
    for number in range(WARM_UP + samples):
        proof_id = seeded.ids[rng.randrange(seeded.size)]
        fetch_id = seeded.ids[rng.randrange(seeded.size)]

        async def proof(session: Any, record_id: str = proof_id) -> Any:
            return await service.inclusion_proof(
                session, record_id, None, EVERY_RECORD, retry_after=1
            )

        async def fetch(session: Any, record_id: str = fetch_id) -> Any:
            return await records_repo.by_id(session, record_id)

        # Alternate which goes first, so neither always finds the other's pages cached.
        if number % 2:
            fetch_ms, _ = await _timed(database, fetch)
            proof_ms, answer = await _timed(database, proof)
        else:
            proof_ms, answer = await _timed(database, proof)
            fetch_ms, _ = await _timed(database, fetch)
        if number < CHECKED:
            _check_inclusion(answer, seeded)
        if number >= WARM_UP:
            proofs.append(proof_ms)
            fetches.append(fetch_ms)
    return proofs, fetches


def _check_inclusion(answer: Any, seeded: common.SeededLog) -> None:
    root = service.b64(seeded.root)
    if answer.tree_size != seeded.size or answer.root_hash != root:
        raise RuntimeError("an inclusion proof is not against the seeded checkpoint")
    verify_inclusion(
        answer.leaf_index,
        answer.tree_size,
        _unb64(answer.leaf_hash),
        [_unb64(element) for element in answer.inclusion_path],
        seeded.root,
    )


async def _consistency(
    database: Database, seeded: common.SeededLog, samples: int, rng: Random
) -> list[float]:
    timings: list[float] = []
    for number in range(WARM_UP + samples):
        first = rng.randint(1, seeded.size - 1)
        second = rng.randint(first + 1, seeded.size)

        async def proof(session: Any, first: int = first, second: int = second) -> Any:
            return await service.consistency_proof(session, first, second)

        elapsed, answer = await _timed(database, proof)
        if number < CHECKED:
            verify_consistency(
                first,
                second,
                [_unb64(element) for element in answer.proof],
                _unb64(answer.first_root),
                _unb64(answer.second_root),
            )
        if number >= WARM_UP:
            timings.append(elapsed)
    return timings


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


async def _measure(url: str, size: int, inclusions: int, consistencies: int) -> dict[str, Any]:
    seeded = await common.seed_log(url, size)
    database = Database.connect(url)
    rng = Random(size)
    try:
        common.log(f"timing {inclusions:,} inclusion proofs and as many by-id fetches")
        proofs, fetches = await _inclusion(database, seeded, inclusions, rng)
        common.log(f"timing {consistencies:,} consistency proofs")
        consistency = await _consistency(database, seeded, consistencies, rng)
    finally:
        await database.dispose()
    inclusion = _summary(proofs)
    baseline = _summary(fetches)
    return {
        "records": size,
        "seeding_seconds": seeded.seconds,
        "inclusion_proof": inclusion,
        "consistency_proof": _summary(consistency),
        "baseline_record_by_id": baseline,
        "inclusion_p50_over_baseline_p50": round(inclusion["p50_ms"] / baseline["p50_ms"], 2),
    }


def main() -> None:
    arguments = common.parser(__doc__.splitlines()[0], records=1_000_000)
    arguments.add_argument("--inclusion-samples", type=int, default=2000)
    arguments.add_argument("--consistency-samples", type=int, default=500)
    options = arguments.parse_args()

    def body() -> tuple[dict[str, Any], dict[str, Any]]:
        results: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for kind in options.databases:
            with common.scratch_database(kind) as url:
                measured = asyncio.run(
                    _measure(
                        url,
                        options.records,
                        options.inclusion_samples,
                        options.consistency_samples,
                    )
                )
            results[kind] = measured
            for proof in ("inclusion_proof", "consistency_proof"):
                targets[f"{proof}_p50_ms_{kind}"] = common.below(
                    measured[proof]["p50_ms"], TARGET_P50_MS
                )
        return results, targets

    common.run("log_proofs", body)


if __name__ == "__main__":
    main()
