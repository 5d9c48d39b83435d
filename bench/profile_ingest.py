"""Profile: where ingest spends the server's time, against raw COPY (batches) or not (singles).

The service runs as bench.ingest runs it (`audittrail serve`, one worker) on a scratch database
of each kind; wrk posts batches of 1,000 at 4 connections (or what --per-request and
--connections say: 0 and 32 for single POSTs at 32 connections) while py-spy samples the
server (native frames off, idle threads out: what is sampled is CPU time). Prints one JSON
line: per database, the throughput, the server's CPU time per record, the raw insert baseline
measured in the same run (bench.ingest_support.RawInserts: COPY on PostgreSQL, executemany on
SQLite, same rows), and the samples' shares: by area where the sampled code was running (our
packages, libraries), and inclusive shares of the steps of the write path. Issue 17's
batch/COPY ratio is studied with it (docs/NOTES.md, "Performance, session 12").

    .venv/bin/python -m bench.profile_ingest [--seconds 15] [--databases postgresql,sqlite]
        [--per-request 1000] [--connections 4]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench import common
from bench import ingest_support as support
from bench.ingest_support import RawInserts, Server

SAMPLE_RATE = 250
TOP = 20
# Areas, by the file of the innermost sampled frame: the first marker found in its path.
AREAS = (
    ("audittrail/integrity/", "integrity: leaf encoding and hashing"),
    ("audittrail/log/", "log: append, tree nodes, rollups"),
    ("audittrail/records/", "records: parsing, checks, group commit, response"),
    ("audittrail/", "audittrail, other"),
    ("/pydantic", "pydantic"),
    ("/sqlalchemy/", "sqlalchemy"),
    ("/asyncpg/", "asyncpg"),
    ("/aiosqlite/", "aiosqlite"),
    ("/sqlite3/", "sqlite3"),
    ("/uvicorn/", "uvicorn"),
    ("/httptools/", "httptools"),
    ("/starlette/", "starlette"),
    ("/fastapi/", "fastapi"),
    ("/rfc8785/", "rfc8785"),
    ("/structlog/", "structlog"),
    ("/asyncio/", "asyncio"),
    ("/uvloop/", "uvloop"),
)
# Steps of the write path, as (function, file) pairs: a sample counts for a step when one of
# its pairs is on the sample's stack (py-spy writes a frame as "function (path:line)").
STEPS = {
    "parse the body (orjson, no key twice)": (("parse", "records/batch.py"),),
    "check the records (pydantic, params, limits)": (
        ("prepare_all", "records/batch.py"),
        ("prepare", "records/service.py"),
    ),
    "leaf hashes (canonical JSON, SHA-256)": (
        ("record_leaf_bytes", "integrity/canonical.py"),
        ("leaf_hash", "integrity/hashing.py"),
    ),
    "append in the transaction (rows, tree, rollups, head)": (
        ("_append_batch", "records/writer.py"),
    ),
    "  of which the database driver and SQLAlchemy": (("execute", "/sqlalchemy/"),),
    "commit": (("commit", "/sqlalchemy/"),),
    "the response (build, serialise)": (
        ("batch_json", "records/answers.py"),
        ("record_json", "records/answers.py"),
    ),
    "the caller's checks (key, origin, rate limit)": (("writer_intake", "records/ingest.py"),),
    "request log (structlog)": (("", "/structlog/"),),
    "metrics (prometheus_client)": (("", "/prometheus_client/"),),
}


def _on(frame: str, function: str, file: str) -> bool:
    return frame.startswith(f"{function} (" if function else "") and file in frame


def _area(frame: str) -> str:
    for marker, area in AREAS:
        if marker in frame:
            return area
    return "other (standard library, builtins)"


def read_samples(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw output: one line per distinct stack, outermost first, and its count."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def shares(stacks: Counter[tuple[str, ...]]) -> dict[str, Any]:
    total = sum(stacks.values()) or 1
    by_area: Counter[str] = Counter()
    by_step: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for stack, count in stacks.items():
        by_area[_area(stack[-1])] += count
        by_function[stack[-1]] += count
        for step, pairs in STEPS.items():
            if any(_on(frame, *pair) for frame in stack for pair in pairs):
                by_step[step] += count

    def share(counter: Counter[str], top: int | None = None) -> dict[str, float]:
        return {name: round(n / total, 3) for name, n in counter.most_common(top)}

    return {
        "samples": total,
        "by_area": share(by_area),
        "steps_inclusive": share(by_step),
        "hottest_functions": share(by_function, TOP),
    }


def profile(
    kind: str, seconds: int, folder: Path, per_request: int, connections: int
) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(common.scratch_database(kind))
        raw = RawInserts(stack.enter_context(common.scratch_database(kind)))
        environment = support.audittrail_environment(url, folder, kind)
        server = Server(kind, None, environment, folder / f"{kind}.log")  # as deployed
        stack.enter_context(support.serving(server))
        support.register_application(server)
        assert server.process is not None
        common.log(f"{kind}: warming up")
        support.run_wrk(
            server.url, per_request=per_request, connections=connections, seconds=3, tag="warm"
        )
        samples = folder / f"{kind}.spy"
        spy = subprocess.Popen(
            [
                *(str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw"),
                *("--rate", str(SAMPLE_RATE), "--duration", str(seconds)),
                *("--pid", str(server.process.pid), "--output", str(samples), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cpu = server.cpu_seconds
        common.log(f"{kind}: {per_request} records a request at {connections} connections")
        run = support.run_wrk(
            server.url, per_request=per_request, connections=connections, seconds=seconds, tag="spy"
        )
        cpu = server.cpu_seconds - cpu
        spy.wait(timeout=seconds + 60)
        common.log(f"{kind}: raw inserts of the same rows")
        raw_rate = common.median(
            [raw.rows_per_s(max(1, per_request), 3, f"raw{n}") for n in range(3)]
        )
    return {
        "records_per_s": round(run.records_per_s, 1),
        "server_cpu_us_per_record": round(1e6 * cpu / max(1, run.acknowledged_records), 1),
        "baseline_raw_rows_per_s": round(raw_rate, 1),
        "ratio_to_raw": round(run.records_per_s / raw_rate, 3),
        "note": "sampled under py-spy (--nonblocking): throughput a few percent below an "
        "unsampled run",
        "profile": shares(read_samples(samples)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--per-request", type=int, default=1000, help="0: single POSTs")
    parser.add_argument("--connections", type=int, default=4)
    options = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "profile_ingest", "machine": common.machine()}
    results["load"] = {"per_request": options.per_request, "connections": options.connections}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
        for kind in options.databases.split(","):
            results[kind] = profile(
                kind, options.seconds, Path(folder), options.per_request, options.connections
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
