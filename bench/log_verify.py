"""Benchmark: `audittrail verify` over a log of 1,000,000 records, in records/s (issue 3).

Target: at least 100,000 records/s, in database mode (`sources.audit_database`, on PostgreSQL
and on SQLite) and offline (`sources.audit_files` over the NDJSON export of the same log).
Baseline, interleaved in the same run: only reading the same entries (the rows and stored leaf
hashes in the same chunks; the file's lines), so the ratio shows what the recomputation itself
costs on top of reading.

    .venv/bin/python -m bench.log_verify [--records N] [--databases postgresql,sqlite] [--runs 3]
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audittrail.integrity.audit import LogAudit
from audittrail.log import leaf_reader, sources
from bench import common

TARGET_RECORDS_PER_S = 100_000


def _ignore(_records: int) -> None:
    """The progress callback: the CLI draws a bar with it; here it must cost nothing."""


def _check(audit: LogAudit, size: int) -> None:
    if not audit.ok or audit.size != size:
        raise RuntimeError(f"the seeded log did not verify: {audit.first_problem()}")


Timing = tuple[float, float]
"""(wall seconds, CPU seconds)"""


class _Clock:
    """Wall time, and the CPU time of this process and its finished workers: the database
    server's work is not in the latter, nor is time spent waiting for a core, so on a busy
    machine it shows the Python side's cost.
    """

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = _cpu_seconds()

    def read(self) -> Timing:
        return time.perf_counter() - self.wall, _cpu_seconds() - self.cpu


def _cpu_seconds() -> float:
    spent = os.times()
    return spent.user + spent.system + spent.children_user + spent.children_system


async def _audit_database(seeded: common.SeededLog) -> Timing:
    clock = _Clock()
    audit = await sources.audit_database(seeded.url, seeded.verifier_key, _ignore)
    elapsed = clock.read()
    _check(audit, seeded.size)
    return elapsed


async def _read_database(seeded: common.SeededLog) -> Timing:
    """What audit_database reads, chunk by chunk over one connection, with no hashing."""
    clock = _Clock()
    reader = await leaf_reader.open_reader(leaf_reader.driver_connect(seeded.url))
    try:
        for start in range(0, seeded.size, leaf_reader.CHUNK):
            await reader.rows(start, start + leaf_reader.CHUNK)
    finally:
        await reader.close()
    return clock.read()


def _audit_files(seeded: common.SeededLog, entries_file: Path, checkpoint_file: Path) -> Timing:
    clock = _Clock()
    audit = sources.audit_files(entries_file, checkpoint_file, seeded.verifier_key, _ignore)
    elapsed = clock.read()
    _check(audit, seeded.size)
    return elapsed


def _read_file(entries_file: Path) -> Timing:
    clock = _Clock()
    with entries_file.open("rb") as lines:
        for _ in lines:
            pass
    return clock.read()


def _rates(size: int, timings: list[Timing]) -> dict[str, Any]:
    rates = [size / wall for wall, _ in timings]
    cpu_rates = [size / cpu for _, cpu in timings]
    return {
        "records_per_s": round(common.median(rates)),
        "runs_records_per_s": [round(rate) for rate in rates],
        "records_per_cpu_s": round(common.median(cpu_rates)),
    }


def _measure(url: str, size: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="audittrail-bench-entries-") as folder:
        entries_file = Path(folder) / "entries.ndjson"
        seeded = asyncio.run(common.seed_log(url, size, entries_file=entries_file))
        checkpoint_file = Path(folder) / "checkpoint"
        checkpoint_file.write_text(seeded.checkpoint_note)
        timings: dict[str, list[Timing]] = {
            "database": [],
            "database_read_only": [],
            "files": [],
            "files_read_only": [],
        }
        steps: dict[str, Callable[[], Timing]] = {
            "database": lambda: asyncio.run(_audit_database(seeded)),
            "database_read_only": lambda: asyncio.run(_read_database(seeded)),
            "files": lambda: _audit_files(seeded, entries_file, checkpoint_file),
            "files_read_only": lambda: _read_file(entries_file),
        }
        for run in range(1, runs + 1):
            for name, step in steps.items():
                timings[name].append(step())
                wall, cpu = timings[name][-1]
                common.log(
                    f"run {run}/{runs} {name}: {size / wall:,.0f} records/s, "
                    f"{size / cpu:,.0f} records/cpu-s"
                )
        entries_bytes = entries_file.stat().st_size
    results = {name: _rates(size, seconds) for name, seconds in timings.items()}
    for mode in ("database", "files"):
        audit_rate = results[mode]["records_per_s"]
        read_rate = results[f"{mode}_read_only"]["records_per_s"]
        results[mode]["over_read_only_time"] = round(read_rate / audit_rate, 2)
    return {
        "records": size,
        "seeding_seconds": seeded.seconds,
        "entries_file_bytes": entries_bytes,
        **results,
    }


def main() -> None:
    arguments = common.parser(__doc__.splitlines()[0], records=1_000_000)
    arguments.add_argument("--runs", type=int, default=3, help="runs per mode (median reported)")
    options = arguments.parse_args()

    def body() -> tuple[dict[str, Any], dict[str, Any]]:
        results: dict[str, Any] = {}
        targets: dict[str, Any] = {}
        for kind in options.databases:
            with common.scratch_database(kind) as url:
                measured = _measure(url, options.records, options.runs)
            results[kind] = measured
            for mode in ("database", "files"):
                targets[f"verify_{mode}_records_per_s_{kind}"] = common.at_least(
                    measured[mode]["records_per_s"], TARGET_RECORDS_PER_S
                )
        return results, targets

    common.run("log_verify", body)


if __name__ == "__main__":
    main()
